"""The fine-tuning data files: managed-service prices, published references, assumptions, reference-only models.

    load_finetune_data(data_dir)  data/finetune_{services,references,assumptions,models}.csv -> FineTuneData
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner.catalog.loading import DATA_DIR
from planner.catalog.records import Assumption, ModelSpec, OptFloat, Record
from planner.errors import CatalogError
from planner.finetune.request import Method
from planner.units import GIB

REQUIRED_FT_ASSUMPTIONS = ("mfu", "qlora_time_factor", "logits_bytes_per_vocab_entry", "cuda_context_gib")


class FineTuneService(Record):
    """A managed fine-tuning service's published price per million training tokens."""

    id: str
    provider: str
    service: str
    applies_to: Literal["open-weights", "closed"]
    methods: Annotated[tuple[str, ...], Field(min_length=1)]
    min_params_b: OptFloat = None
    max_params_b: OptFloat = None
    usd_per_mtok_training: Annotated[float, Field(ge=0)]
    billing: str

    @field_validator("methods", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(v.strip() for v in value.split(";") if v.strip()) if isinstance(value, str) else value

    def covers(self, params_b: float) -> bool:
        return (self.min_params_b is None or params_b > self.min_params_b) and (
            self.max_params_b is None or params_b <= self.max_params_b)


class FineTuneReference(Record):
    """A published fine-tuning measurement (peak memory or throughput) the estimate is checked against."""

    id: str
    model: str
    method: Method
    rank: OptFloat = None
    target_modules: str = "all-linear"
    seq_len: Annotated[int, Field(ge=1)]
    micro_batch: Annotated[int, Field(ge=1)]
    gradient_checkpointing: bool
    flash_attention: bool = True
    pure_bf16: bool = False
    gpus: Annotated[int, Field(ge=1)] = 1
    zero_stage: Annotated[int, Field(ge=0, le=3)] = 0
    gpu: str
    metric: Literal["peak_memory", "tokens_per_s"]
    value: Annotated[float, Field(gt=0)]
    unit: Literal["GB", "GiB", "tokens/s"]
    kind: Literal["measured", "upper_bound", "guideline"]

    @property
    def value_gib(self) -> float:
        return self.value * 1e9 / GIB if self.unit == "GB" else self.value


class FineTuneData(BaseModel):
    """The fine-tuning data files, validated."""

    model_config = ConfigDict(frozen=True)

    services: tuple[FineTuneService, ...]
    references: tuple[FineTuneReference, ...]
    assumptions: dict[str, Assumption]
    reference_models: tuple[ModelSpec, ...] = ()  # models only the references use (not offered by the planner)

    def assumption(self, key: str) -> float:
        return self.assumptions[key].value


@functools.lru_cache(maxsize=4)
def load_finetune_data(data_dir: Path = DATA_DIR) -> FineTuneData:
    """data/finetune_{services,references,assumptions,models}.csv, validated; cached."""
    data_dir = Path(data_dir)
    assumptions = {a.id: a for a in _read(data_dir / "finetune_assumptions.csv", Assumption)}
    for key in REQUIRED_FT_ASSUMPTIONS:
        if key not in assumptions:
            raise CatalogError(f"finetune_assumptions.csv: the assumption '{key}' is missing.")
    return FineTuneData(services=tuple(_read(data_dir / "finetune_services.csv", FineTuneService)),
                        references=tuple(_read(data_dir / "finetune_references.csv", FineTuneReference)),
                        assumptions=assumptions,
                        reference_models=tuple(_read(data_dir / "finetune_models.csv", ModelSpec)))


def _read(path: Path, kind: type[Record]) -> list:
    if not path.exists():
        raise CatalogError(f"{path.name}: the data file is missing (expected at {path}).")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row_number, row in enumerate(rows, start=2):
        if None in row:
            raise CatalogError(f"{path.name}, row {row_number}: more cells than columns in the header.")
        try:
            # A blank cell is an absent value, so the field's default applies.
            out.append(kind.model_validate({k: v for k, v in row.items() if v is not None and v.strip()}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise CatalogError(f"{path.name}, row {row_number}, field '{where}': {first['msg']}.") from None
    return out


__all__ = ["FineTuneData", "FineTuneReference", "FineTuneService", "load_finetune_data"]
