"""Published scores per model and task, open and closed on one benchmark per task (data/task_scores.csv)."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from pydantic import ValidationError

from planner.catalog.loading import DATA_DIR
from planner.catalog.records import Record
from planner.errors import CatalogError

TASK_SCORES_FILE = "task_scores.csv"


class TaskScore(Record):
    """One model's score on the benchmark that stands for a task (LMArena Elo for chat, GPQA Diamond for reasoning, ...)."""

    model: str  # a Hugging Face repo id (open weights) or an api_prices.csv id (closed)
    task: str
    benchmark: str
    score: float


@functools.lru_cache(maxsize=4)
def load_task_scores(data_dir: Path = DATA_DIR) -> dict[tuple[str, str], TaskScore]:
    """Scores keyed by (lower-case model id, task); a bad row names the file, row and field."""
    path = Path(data_dir) / TASK_SCORES_FILE
    if not path.exists():
        return {}
    out: dict[tuple[str, str], TaskScore] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for i, row in enumerate(csv.DictReader(handle), start=2):
            try:
                record = TaskScore.model_validate({k: v for k, v in row.items() if v not in ("", None)})
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "row"
                raise CatalogError(f"{TASK_SCORES_FILE}, row {i}, field '{field}': {first['msg']}") from None
            key = (record.model.lower(), record.task)
            if key in out:
                raise CatalogError(f"{TASK_SCORES_FILE}, row {i}: a second score for {record.model} on {record.task}")
            out[key] = record
    return out
