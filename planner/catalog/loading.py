"""The catalogue: every data file in `data/`, validated once, looked up by id or alias.

A bad row stops loading with a message naming the file, the row number (as a spreadsheet shows
it, header = row 1) and the field. `Catalog` is immutable; adding a custom model returns a new one.
"""

from __future__ import annotations

import csv
import functools
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from planner.catalog.records import (
    AccuracyBand,
    ApiPrice,
    Assumption,
    Benchmark,
    EfficiencyFactor,
    Engine,
    Gpu,
    GpuPrice,
    ModelSpec,
    Quant,
)
from planner.errors import CatalogError, LookupFailed

DATA_DIR = Path(__file__).resolve().parents[2] / "data"

R = TypeVar("R", bound=BaseModel)

# file name -> record type; optional files may be absent (efficiency.csv before calibration).
_FILES: dict[str, type[BaseModel]] = {
    "models.csv": ModelSpec,
    "gpus.csv": Gpu,
    "gpu_prices.csv": GpuPrice,
    "quants.csv": Quant,
    "engines.csv": Engine,
    "api_prices.csv": ApiPrice,
    "benchmarks.csv": Benchmark,
    "efficiency.csv": EfficiencyFactor,
    "assumptions.csv": Assumption,
    "accuracy.csv": AccuracyBand,
}
_OPTIONAL = {"efficiency.csv", "benchmarks.csv", "accuracy.csv"}


@dataclass(frozen=True)
class Catalog:
    """All records, keyed by id where the record has one."""

    models: dict[str, ModelSpec]
    gpus: dict[str, Gpu]
    gpu_prices: tuple[GpuPrice, ...]
    quants: dict[str, Quant]
    engines: dict[str, Engine]
    apis: dict[str, ApiPrice]
    benchmarks: tuple[Benchmark, ...]
    efficiency: tuple[EfficiencyFactor, ...]
    assumptions: dict[str, Assumption]
    accuracy: tuple[AccuracyBand, ...] = ()
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)

    def model(self, key: str) -> ModelSpec:
        """A model by Hugging Face repo id or alias, case-insensitively."""
        model_id = self._aliases.get(key.strip().lower())
        if model_id is None:
            close = [m for m in self.models if key.strip().lower().split("/")[-1][:6] in m.lower()]
            hint = f" Did you mean {', '.join(close[:3])}?" if close else ""
            raise LookupFailed(f"model: no model has the id or alias '{key}'.{hint}")
        return self.models[model_id]

    def gpu(self, key: str) -> Gpu:
        return _lookup(self.gpus, key, "gpu")

    def quant(self, key: str) -> Quant:
        return _lookup(self.quants, key, "quant")

    def engine(self, key: str) -> Engine:
        return _lookup(self.engines, key, "engine")

    @functools.cached_property
    def efficiency_index(self) -> dict[tuple[str, str, str], EfficiencyFactor]:
        """Fitted factors by (factor, engine, hardware family), built once per catalogue."""
        return {(f.factor, f.engine, f.hardware_family): f for f in self.efficiency}

    @functools.cached_property
    def _measured_shares(self) -> dict[tuple[str, str, str], float]:
        """Median measured ÷ datasheet figure per (path, vendor, kind) over the devices measured."""
        shares: dict[tuple[str, str, str], list[float]] = {}
        for gpu in self.gpus.values():
            for path in _PATHS:
                measured, datasheet, _ = _path_figures(gpu, path)
                if measured and datasheet:
                    shares.setdefault((path, gpu.vendor, gpu.kind), []).append(measured / datasheet)
                    shares.setdefault((path, "*", gpu.kind), []).append(measured / datasheet)
        return {key: statistics.median(values) for key, values in shares.items()}

    def _share(self, gpu: Gpu, path: str) -> tuple[float, str]:
        """`_share_of`, once per device and path (every candidate of a plan asks)."""
        key = (gpu.id, gpu.memory_bandwidth_gb_s, gpu.fp16_tflops_dense, path)
        found = self._shares_seen.get(key)
        if found is None:
            found = self._shares_seen[key] = self._share_of(gpu, path)
        return found

    @functools.cached_property
    def _shares_seen(self) -> dict[tuple, tuple[float, str]]:
        return {}

    def _share_of(self, gpu: Gpu, path: str) -> tuple[float, str]:
        """(share of the datasheet figure the device sustains, where it comes from). A device not
        measured takes the median of the measured devices of its vendor and kind (the same memory
        technology, silicon family and software stack), else of its kind (so that an unmeasured
        datasheet does not favour another vendor's device), else 1: the datasheet figure."""
        measured, datasheet, source = _path_figures(gpu, path)
        if measured and datasheet:
            return min(1.0, measured / datasheet), f"measured by {_site((source or '').split(' ')[0])}, data/gpus.csv"
        for vendor, words in ((gpu.vendor, f"{gpu.vendor} {gpu.kind}"), ("*", gpu.kind)):
            median = self._measured_shares.get((path, vendor, gpu.kind))
            if median is not None:
                return min(1.0, median), f"not measured: the median of the measured {words} devices in data/gpus.csv"
        return 1.0, "not measured: the datasheet figure"

    def sustained_share(self, gpu: Gpu, compute_dtype: str) -> float:
        """Share of the datasheet dense peak the device's matrix units sustain in a measured GEMM
        benchmark (`gpus.csv` fp16/fp8_tflops_sustained): 8-bit peaks take the FP8 figure, the rest the
        FP16/BF16 one."""
        return self._share(gpu, _gemm_path(gpu, compute_dtype))[0]

    def sustained_basis(self, gpu: Gpu, compute_dtype: str) -> str:
        return self._share(gpu, _gemm_path(gpu, compute_dtype))[1]

    def bandwidth_share(self, gpu: Gpu) -> float:
        """Share of the datasheet memory bandwidth the device sustains in a measured stream benchmark
        (`gpus.csv` memory_bandwidth_sustained_gb_s)."""
        return self._share(gpu, "bandwidth")[0]

    def bandwidth_basis(self, gpu: Gpu) -> str:
        return self._share(gpu, "bandwidth")[1]

    def band(self, metric: str) -> AccuracyBand | None:
        """The measured error band of an estimated metric, if calibrated."""
        return next((b for b in self.accuracy if b.metric == metric), None)

    def assumption(self, key: str) -> float:
        return self.assumptions[key].value

    def rent_prices(self, gpu_id: str) -> list[GpuPrice]:
        """Rental prices for a device, cheapest first."""
        rows = [p for p in self.gpu_prices if p.gpu == gpu_id and p.price_kind == "rent_per_gpu_hour"]
        return sorted(rows, key=lambda p: p.usd)

    def purchase_price(self, gpu_id: str) -> GpuPrice | None:
        """The lowest published purchase price for a device, if any."""
        rows = [p for p in self.gpu_prices if p.gpu == gpu_id and p.price_kind == "purchase"]
        return min(rows, key=lambda p: p.usd) if rows else None

    def with_models(self, extra: list[ModelSpec]) -> Catalog:
        """A new catalogue with user-supplied models added (an id already present is replaced)."""
        models = {**self.models, **{m.id: m for m in extra}}
        return replace(self, models=models, _aliases=_alias_index(models))

    def as_of_dates(self) -> dict[str, str]:
        """The newest `as_of` per data kind: the data version a plan was made with."""
        kinds = {
            "models": self.models.values(),
            "gpus": self.gpus.values(),
            "gpu_prices": self.gpu_prices,
            "quants": self.quants.values(),
            "engines": self.engines.values(),
            "apis": self.apis.values(),
            "benchmarks": self.benchmarks,
        }
        return {k: max((r.as_of for r in rows), default=None).isoformat() for k, rows in kinds.items() if rows}


@functools.lru_cache(maxsize=4)
def load_catalog(data_dir: Path = DATA_DIR) -> Catalog:
    """Load and validate every data file; cached, so the work happens once per process."""
    tables = {name: _read_records(Path(data_dir) / name, kind, name in _OPTIONAL) for name, kind in _FILES.items()}
    models = _by_id(tables["models.csv"], "models.csv")
    catalog = Catalog(
        models=models,
        gpus=_by_id(tables["gpus.csv"], "gpus.csv"),
        gpu_prices=tuple(tables["gpu_prices.csv"]),
        quants=_by_id(tables["quants.csv"], "quants.csv"),
        engines=_by_id(tables["engines.csv"], "engines.csv"),
        apis=_by_id(tables["api_prices.csv"], "api_prices.csv"),
        benchmarks=tuple(tables["benchmarks.csv"]),
        efficiency=tuple(tables["efficiency.csv"]),
        assumptions=_by_id(tables["assumptions.csv"], "assumptions.csv"),
        accuracy=tuple(tables["accuracy.csv"]),
        _aliases=_alias_index(models),
    )
    _check_references(catalog)
    return catalog


def read_rows(path: Path) -> list[dict[str, str]]:
    """Raw CSV rows as dicts (for tables that show the file as it is)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _read_records(path: Path, kind: type[R], optional: bool) -> list[R]:
    return read_records(path, kind, optional=optional)


def read_records(path: Path, kind: type[R], *, optional: bool = False, drop_blank: bool = False) -> list[R]:
    """Every row of a data file validated as `kind`; a bad row raises CatalogError naming file, row (header = 1) and
    field. `drop_blank`: empty cells are absent fields (their defaults apply)."""
    if not path.exists():
        if optional:
            return []
        raise CatalogError(f"{path.name}: the data file is missing (expected at {path}).")
    records = []
    for row_number, row in enumerate(read_rows(path), start=2):
        cleaned = {k: v for k, v in row.items() if k is not None and not (drop_blank and v in ("", None))}
        if None in row:
            raise CatalogError(f"{path.name}, row {row_number}: more cells than columns in the header.")
        try:
            records.append(kind.model_validate(cleaned))
        except ValidationError as exc:
            raise CatalogError(_describe(path.name, row_number, exc)) from None
    return records


def _describe(file_name: str, row_number: int, exc: ValidationError) -> str:
    first = exc.errors()[0]
    # a check across fields (a model validator) names its field at the start of its message: "image: ..."
    named = first["msg"].removeprefix("Value error, ").split(":")[0]
    where = ".".join(str(p) for p in first["loc"]) or (named if named.isidentifier() else "row")
    value = first.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    return f"{file_name}, row {row_number}, field '{where}': {first['msg']}{shown}."


def _by_id(records: list[R], file_name: str) -> dict[str, R]:
    out: dict[str, R] = {}
    for row_number, record in enumerate(records, start=2):
        key = record.id  # type: ignore[attr-defined]
        if key in out:
            raise CatalogError(f"{file_name}, row {row_number}, field 'id': duplicate id '{key}'.")
        out[key] = record
    return out


def _alias_index(models: dict[str, ModelSpec]) -> dict[str, str]:
    index: dict[str, str] = {}
    for model in models.values():
        for key in (model.id, *model.aliases):
            lowered = key.lower()
            owner = index.get(lowered)
            if owner is not None and owner != model.id:
                raise CatalogError(f"models.csv, model '{model.id}', field 'aliases': '{key}' also names '{owner}'.")
            index[lowered] = model.id
    return index


_PATHS = ("fp16", "fp8", "bandwidth")


def _site(url: str) -> str:
    """A short name for a source: the repository on GitHub, else the host (the full URL is in gpus.csv)."""
    parts = urlsplit(url)
    if parts.netloc == "github.com":
        return "github.com/" + "/".join(parts.path.strip("/").split("/")[:2])
    return parts.netloc or url


def _gemm_path(gpu: Gpu, compute_dtype: str) -> str:
    """Whose measured share applies to the peak a precision runs at (planner.estimate.speed.peak_flops): the FP8
    one for an 8-bit peak (FP8, or INT8 where the device has both figures), else the FP16/BF16 one."""
    eight_bit = (compute_dtype == "fp8" and gpu.fp8_tflops_dense) or (compute_dtype == "int8" and gpu.int8_tops_dense)
    return "fp8" if eight_bit and gpu.fp8_tflops_dense else "fp16"


def _path_figures(gpu: Gpu, path: str) -> tuple[float | None, float | None, str | None]:
    """(measured, datasheet, source of the measurement) for a device's FP16 or FP8 matrix rate or its bandwidth."""
    if path == "fp8":
        return gpu.fp8_tflops_sustained, gpu.fp8_tflops_dense, gpu.sustained_source
    if path == "fp16":
        return gpu.fp16_tflops_sustained, gpu.fp16_tflops_dense, gpu.sustained_source
    return gpu.memory_bandwidth_sustained_gb_s, gpu.memory_bandwidth_gb_s, gpu.bandwidth_source


def _lookup(table: dict[str, R], key: str, what: str) -> R:
    wanted = key.strip().lower()
    for record_id, record in table.items():
        if record_id.lower() == wanted:
            return record
    raise LookupFailed(f"{what}: no {what} has the id '{key}'. Allowed: {', '.join(sorted(table))}.")


def _check_references(catalog: Catalog) -> None:
    """Cross-file references must resolve: a price for an unknown GPU is a data error."""
    for price in catalog.gpu_prices:
        if price.gpu not in catalog.gpus:
            raise CatalogError(f"gpu_prices.csv, field 'gpu': unknown gpu id '{price.gpu}'.")
    for quant in catalog.quants.values():
        for engine_id in quant.engines:
            if engine_id not in catalog.engines:
                raise CatalogError(f"quants.csv, quant '{quant.id}', field 'engines': unknown engine '{engine_id}'.")
    for engine in catalog.engines.values():
        for quant_id in engine.quants:
            if quant_id not in catalog.quants:
                raise CatalogError(f"engines.csv, engine '{engine.id}', field 'quants': unknown quant '{quant_id}'.")
    for key in REQUIRED_ASSUMPTIONS:
        if key not in catalog.assumptions:
            raise CatalogError(f"assumptions.csv: the assumption '{key}' is missing.")


REQUIRED_ASSUMPTIONS = (
    "pue",
    "power_usd_per_kwh",
    "amortisation_months",
    "colocation_usd_per_kw_month",
    "gpu_power_draw_fraction",
    "host_ram_bandwidth_gb_s",
)
