"""Capability for the task: one named public benchmark per task, open and closed models on one scale.

A model with a published score on the task's benchmark is ranked by it. One without is ranked by a
stated fallback, in this order: its LMArena text Elo mapped onto the task's benchmark by a least-squares
line over every model (open or closed) scored on both; else its MMLU from the catalogue mapped the same
way; else it is unscored and ranks below every scored model. The basis is recorded on each candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.records import ApiPrice, ModelSpec
from planner.catalog.task_scores import TaskScore

CHAT_BENCHMARK_TASK = "chat"
# Tasks with no benchmark of their own are ranked on chat's (said in the basis).
TASK_ALIAS = {"extraction": "summarization", "edge": "chat"}  # edge: chat's benchmark, on the small models that fit an edge device
MIN_FIT_POINTS = 6  # a fallback line needs this many models scored on both benchmarks


@dataclass(frozen=True)
class Capability:
    """A model's capability for a task: the score, the benchmark, and how it was obtained."""

    task: str
    benchmark: str | None
    score: float | None
    basis: str  # "published" | "estimated from LMArena text Elo" | "estimated from MMLU" | "unscored"
    source: str | None = None
    as_of: str | None = None
    note: str | None = None

    @property
    def published(self) -> bool:
        return self.basis == "published"

    @property
    def estimated(self) -> bool:
        return self.score is not None and not self.published

    def display(self) -> str | None:
        """The score at the benchmark's precision (Elo 1,401; percentages 58.5), None when unscored."""
        if self.score is None:
            return None
        return f"{self.score:,.0f}" if self.score >= 200 else f"{self.score:.1f}"

    def words(self) -> str:
        if self.score is None:
            return f"no {self.benchmark or self.task} score (ranked below every scored model)"
        if self.published:
            return f"{self.benchmark} {self.display()}"
        return f"{self.benchmark} ~{self.display()} (estimated: {self.basis.removeprefix('estimated ')})"

    def as_json(self) -> dict:
        return {"task": self.task, "benchmark": self.benchmark, "score": None if self.score is None else round(self.score, 2),
                "display": self.display(), "estimated": self.estimated, "basis": self.basis, "source": self.source,
                "as_of": self.as_of, **({"note": self.note} if self.note else {})}


class CapabilityTable:
    """Capability lookups for one task over the catalogue's models and APIs."""

    def __init__(self, scores: dict[tuple[str, str], TaskScore], models: dict[str, ModelSpec], apis: dict[str, ApiPrice], task: str):
        self.task = TASK_ALIAS.get(task, task)
        self.note = f"{task} is ranked on {self.task}'s benchmark" if self.task != task else None
        open_ids = {k.lower() for k in models}
        open_scored = sum(1 for (m, t) in scores if t == self.task and m in open_ids)
        if self.task != CHAT_BENCHMARK_TASK and open_scored < MIN_FIT_POINTS:
            self.note = (f"{task} has published scores for only {open_scored} open models in the catalogue, too few to rank by; "
                         f"ranked on {CHAT_BENCHMARK_TASK}'s benchmark instead")
            self.task = CHAT_BENCHMARK_TASK
        self._scores = scores
        self._mmlu = {m.lower(): s.capability_score for m, s in models.items() if s.capability_score is not None}
        self._mmlu |= {a.lower(): s.capability_score for a, s in apis.items() if s.capability_score is not None}
        on_task = [s for (m, t), s in scores.items() if t == self.task]
        self.benchmark = on_task[0].benchmark if on_task else None
        self._ceiling = 100.0 if on_task and max(s.score for s in on_task) <= 100 else None  # a percentage: estimates stay in 0-100
        self._from_elo = self._fit(lambda key: _score(scores, key, CHAT_BENCHMARK_TASK))
        self._from_mmlu = self._fit(lambda key: self._mmlu.get(key))
        self._cache: dict[str, Capability] = {}

    def _fit(self, other) -> tuple[float, float, int] | None:
        pairs = [(x, s.score) for (m, t), s in self._scores.items() if t == self.task and (x := other(m)) is not None]
        if len(pairs) < MIN_FIT_POINTS:
            return None
        return _line(pairs)

    def of(self, model_id: str) -> Capability:
        key = model_id.lower()
        if key not in self._cache:
            self._cache[key] = self._resolve(key)
        return self._cache[key]

    def _resolve(self, key: str) -> Capability:
        found = self._scores.get((key, self.task))
        if found is not None:
            return Capability(self.task, found.benchmark, found.score, "published", found.source, found.as_of.isoformat())
        for basis, fit, x in (("estimated from LMArena text Elo", self._from_elo, _score(self._scores, key, CHAT_BENCHMARK_TASK)),
                              ("estimated from MMLU", self._from_mmlu, self._mmlu.get(key))):
            if fit is not None and x is not None:
                a, b, n = fit
                score = a + b * x
                if score <= 0:  # below the line's range: a 0.0 would read as a measured score
                    return Capability(self.task, self.benchmark, None, "unscored", note=(
                        f"{basis} falls below the benchmark's range (a line over {n} models): too far to extrapolate"))
                score = score if self._ceiling is None else min(score, self._ceiling)
                return Capability(self.task, self.benchmark, score, f"{basis}: a line over {n} models scored on both")
        return Capability(self.task, self.benchmark, None, "unscored")


def _score(scores: dict[tuple[str, str], TaskScore], key: str, task: str) -> float | None:
    found = scores.get((key, task))
    return found.score if found else None


def _line(pairs: list[tuple[float, float]]) -> tuple[float, float, int]:
    """Least-squares y = a + b·x; a flat line (b = 0) if x does not vary."""
    n = len(pairs)
    mx = sum(x for x, _ in pairs) / n
    my = sum(y for _, y in pairs) / n
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    b = sum((x - mx) * (y - my) for x, y in pairs) / sxx if sxx else 0.0
    return my - b * mx, b, n
