"""Reasoning tokens in a plan: which mode each model runs in for the task, and how many hidden tokens a
request then writes before its answer (data/reasoning_tokens.csv, planner.catalog.reasoning).

- Tasks that gain from reasoning (REASONING_TASKS) run a model in its reasoning mode.
- Other tasks run a hybrid model in its non-thinking mode (no hidden tokens); a reasoning-only model keeps
  its lightest mode, and for the tasks that never need reasoning (summarization, extraction) it is not
  planned at all unless named in `models`: an instruct sibling answers without the hidden tokens.
- A mode with no published figure borrows one: the same model's figure in a heavier mode (an upper bound),
  else the median of the published figures of open models; the plan says which.
- `expected_reasoning_tokens` overrides every reasoning mode's figure.
- Latency: for the reasoning tasks the time-to-first-token target holds on the first streamed token (the
  reasoning starts streaming at once); for every other task it holds on the first answer token, after the
  hidden ones. Both times are shown.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from planner.catalog.reasoning import ReasoningMode, load_reasoning_modes, reasoning_modes

REASONING_TASKS = {"reasoning"}
NO_REASONING_TASKS = {"summarization", "extraction"}
EFFORT_ORDER = ("low", "medium", "default", "thinking", "reasoning-on", "high")


def ttft_holds_on_answer(task: str) -> bool:
    """Whether the time-to-first-token target is for the first answer token (after the hidden reasoning)."""
    return task not in REASONING_TASKS


@dataclass(frozen=True)
class ReasoningPlan:
    """How one model runs for the task: its mode, the hidden tokens per request and where the figure comes from."""

    mode: str | None  # None: the model does not reason
    tokens: int
    basis: str
    source: str | None = None
    excluded: str | None = None  # why the model is not planned for this task

    def as_json(self) -> dict:
        return {"mode": self.mode, "reasoning_tokens_per_request": self.tokens, "basis": self.basis, "source": self.source}


def reasoning_plan(model_id: str, model_name: str, task: str, override: int | None = None, named: bool = False) -> ReasoningPlan:
    modes = reasoning_modes(model_id)
    reasoning = [m for m in modes if m.reasons]
    if not reasoning:
        return ReasoningPlan(None, 0, "does not write reasoning tokens")
    quiet = next((m for m in modes if not m.reasons), None)
    if task not in REASONING_TASKS and quiet is not None:
        switch = next((m.can_disable for m in reasoning if m.can_disable and m.can_disable.lower() not in {"unknown", "no"}), None)
        how = f" ({switch})" if switch else ""
        return ReasoningPlan(quiet.mode, 0, f"run in its {quiet.mode} mode{how}: {task} does not need reasoning", quiet.source)
    if task in NO_REASONING_TASKS and not named:
        return ReasoningPlan(None, 0, "", excluded=(
            f"{model_name} writes reasoning tokens before every answer and has no mode without them; {task} does not need "
            "reasoning, so an instruct model answers sooner and for less (name it in models to plan it anyway)."))
    mode = _mode_for(reasoning, heavy=task in REASONING_TASKS)
    if override is not None:
        return ReasoningPlan(mode.mode, override, f"{override:,} reasoning tokens per request as you set (expected_reasoning_tokens)")
    tokens, basis, source = _figure(model_id, mode, reasoning)
    return ReasoningPlan(mode.mode, tokens, basis, source)


def _mode_for(reasoning: list[ReasoningMode], heavy: bool) -> ReasoningMode:
    """The default reasoning mode for reasoning tasks (else the heaviest); the lightest mode otherwise."""
    ranked = sorted(reasoning, key=lambda m: EFFORT_ORDER.index(m.mode) if m.mode in EFFORT_ORDER else 2)
    if heavy:
        return next((m for m in reasoning if m.default), ranked[-1])
    return ranked[0]


def _figure(model_id: str, mode: ReasoningMode, reasoning: list[ReasoningMode]) -> tuple[int, str, str | None]:
    if mode.typical_reasoning_tokens is not None:
        return (mode.typical_reasoning_tokens, f"{mode.typical_reasoning_tokens:,} tokens per request in its {mode.mode} mode "
                f"({mode.benchmark})", mode.source)
    heavier = [m for m in reasoning if m.typical_reasoning_tokens is not None]
    if heavier:
        top = max(heavier, key=lambda m: m.typical_reasoning_tokens or 0)
        return (top.typical_reasoning_tokens or 0, f"no figure for its {mode.mode} mode: planned at its {top.mode} mode's "
                f"{top.typical_reasoning_tokens:,} tokens ({top.benchmark}), an upper bound", top.source)
    median, count = published_median()
    return (median, f"no published figure for {model_id}: planned at {median:,} tokens, the median of the {count} published "
            "figures of open models in data/reasoning_tokens.csv", None)


def published_median() -> tuple[int, int]:
    """The median of the published per-request figures of open models' reasoning modes, and how many there are."""
    figures = [m.typical_reasoning_tokens for key, modes in load_reasoning_modes().items() if "/" in key
               and not key.startswith(("openai/gpt-5", "openai/o", "google/", "anthropic/", "replicate/"))
               for m in modes if m.reasons and m.typical_reasoning_tokens]
    return (int(statistics.median(figures)), len(figures)) if figures else (0, 0)
