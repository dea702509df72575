"""What runs where, as data: engine x model architecture x hardware class x weight format
(data/engine_support.csv), the image that serves each engine on each hardware class (engine_images.csv),
each engine's lifecycle (engine_lifecycle.csv) and each hardware class's Kubernetes resource
(hardware_classes.csv). Every row carries its source and as_of.

An absent fact is "unknown", never assumed supported, and a lookup never raises for an unknown combination.
A support answer combines three facts, each the most specific matching row: the engine runs on the hardware
class (format and architecture '*'), it loads the weight format there (architecture '*'), and it implements
the model's architecture (Hugging Face `architectures[0]`). The worst of the three decides."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from planner.catalog.loading import DATA_DIR, read_records, read_rows
from planner.catalog.records import Flag, OptFloat, OptStr, Record, StrList
from planner.errors import CatalogError

Status = Literal["supported", "unsupported", "unknown"]
NVIDIA_CLASSES = ("nvidia", "jetson")  # compute capability applies to these
EXTRA_FORMATS = ("nvfp4",)  # formats the matrix records that data/quants.csv does not list yet
_SEVERITY = {"supported": 0, "unknown": 1, "unsupported": 2}


def _blank(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


OptBool = Annotated[bool | None, BeforeValidator(lambda v: _blank(v) if not isinstance(_blank(v), str)
                                                 else v.strip().lower() in {"true", "yes", "1"})]
OptDate = Annotated[dt.date | None, BeforeValidator(_blank)]


class SupportRow(Record):
    """One fact: `engine` runs `architecture` on `hardware_class` in `format` ('*' = any)."""

    engine: str
    architecture: str
    hardware_class: str
    format: str
    status: Status
    since: OptStr = None  # the engine version the source names (first or minimum)
    min_compute_capability: OptFloat = None  # NVIDIA only
    compute_capability_majors: StrList = ()  # NVIDIA only: e.g. 9;10 when kernels exist for Hopper and Blackwell only
    reason: OptStr = None  # a plain sentence for a plan's ruled-out list

    @model_validator(mode="after")
    def _explained(self) -> SupportRow:
        if self.status != "supported" and not self.reason:
            raise ValueError("reason: a row that is not 'supported' needs a reason")
        if (self.min_compute_capability or self.compute_capability_majors) and not self.reason:
            raise ValueError("reason: a compute-capability floor needs the sentence that explains it")
        return self


class EngineImage(Record):
    """How an engine is run on a hardware class: a container image, a native install, or nothing."""

    engine: str
    hardware_class: str
    kind: Literal["container", "native", "none", "unknown"]
    image: OptStr = None
    serves_on_start: OptBool = None  # the image's entrypoint starts the server (else give the command)
    multi_node: Literal["ray", "nnodes", "rpc", "mpi", "none", "unknown"] = "unknown"
    reason: OptStr = None

    @model_validator(mode="after")
    def _complete(self) -> EngineImage:
        if self.kind == "container" and not self.image:
            raise ValueError("image: a 'container' row needs the image and tag")
        if self.kind != "container" and not self.reason:
            raise ValueError("reason: a row without a container image needs a reason")
        return self


class EngineLifecycle(Record):
    engine: str
    name: str
    status: Literal["maintained", "maintenance", "archived", "unknown"]
    since: OptDate = None
    successors: StrList = ()
    reason: OptStr = None

    @model_validator(mode="after")
    def _dated(self) -> EngineLifecycle:
        if self.status in {"maintenance", "archived"} and (self.since is None or not self.reason):
            raise ValueError("since: a 'maintenance' or 'archived' engine needs since and reason")
        return self


class HardwareClass(Record):
    hardware_class: str
    name: str
    k8s_gpu_resource: OptStr = None
    k8s_gpu_resource_alternatives: StrList = ()
    containers_reach_accelerator: Flag = True
    reason: OptStr = None

    @model_validator(mode="after")
    def _explained(self) -> HardwareClass:
        if not self.k8s_gpu_resource and not self.reason:
            raise ValueError("reason: a class without a Kubernetes GPU resource needs a reason")
        return self


class SupportAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Status
    since: str | None = None
    reason: str
    source: str
    min_compute_capability: float | None = None


def hardware_class_of(kind: str, vendor: str) -> str:
    """The matrix's hardware class of a device (gpus.csv kind and vendor). NVIDIA edge modules are 'jetson'
    (L4T arm64, their own images); Intel datacenter parts are Gaudi, other Intel parts are GPUs (XPU)."""
    vendor = vendor.lower()
    if kind in {"apple", "cpu"}:
        return kind
    if vendor.startswith("intel"):
        return "gaudi" if kind == "datacenter" else "intel"
    if vendor.startswith("amd"):
        return "amd"
    return "jetson" if kind == "edge" else "nvidia"


@dataclass(frozen=True)
class EngineSupport:
    rows: tuple[SupportRow, ...]
    images: dict[tuple[str, str], EngineImage]
    lifecycles: dict[str, EngineLifecycle]
    hardware: dict[str, HardwareClass]
    format_groups: dict[str, str]  # quant id -> format group (quants.csv `format`)
    architectures: dict[str, str]  # model id -> architecture (models.csv `architecture`)

    def support(self, engine: str, architecture: str | None, hardware_class: str, fmt: str, *,
                compute_capability: float | None = None, device: str | None = None,
                include_lifecycle: bool = True) -> SupportAnswer:
        """Can `engine` serve a model of `architecture` on `hardware_class` in weight format `fmt` (a quants.csv
        id or format group)? With `compute_capability` (NVIDIA), floors and kernel families are checked too."""
        life = self.lifecycle(engine)
        name = life.name
        if life.status == "unknown":
            return SupportAnswer(status="unknown", reason=life.reason or f"{engine}: unknown engine", source=life.source)
        if include_lifecycle and life.status in {"maintenance", "archived"}:
            return SupportAnswer(status="unsupported", reason=life.reason or "", source=life.source)
        if not architecture:
            return SupportAnswer(status="unknown", reason=f"{name}: the model's architecture is not recorded",
                                 source="data/models.csv (architecture column)")
        group = self.format_groups.get(fmt, fmt)
        own = self._by_engine_class.get((engine, hardware_class), ())
        generic = [r for r in own if r.architecture == "*"]
        facts = [
            (self._best(r for r in generic if r.format == "*"),
             f"{name} on {hardware_class}: support unknown (no row in data/engine_support.csv)"),
            (self._best(r for r in generic if r.format in (fmt, group) and r.format != "*"),
             f"{name}: {fmt} weights on {hardware_class} unknown (no row in data/engine_support.csv)"),
            (self._best(r for r in own if r.architecture == architecture and r.format in (fmt, group, "*")),
             f"{name}: {architecture} on {hardware_class} unknown (no row in data/engine_support.csv)"),
        ]
        worst = max(facts, key=lambda f: _SEVERITY[f[0].status] if f[0] else _SEVERITY["unknown"])
        row, missing = worst
        if row is None or row.status != "supported":
            return SupportAnswer(status="unknown" if row is None else row.status,
                                 reason=missing if row is None else row.reason or "",
                                 source="data/engine_support.csv" if row is None else row.source)
        chosen = [f[0] for f in facts if f[0] is not None]
        floors = [r.min_compute_capability for r in chosen if r.min_compute_capability]
        arch_row = facts[2][0]
        answer = SupportAnswer(status="supported", since=arch_row.since, source=arch_row.source,
                               min_compute_capability=max(floors) if floors else None,
                               reason=f"{name} runs {architecture} on {hardware_class} in {fmt}"
                                      + (f" since {arch_row.since}" if arch_row.since else ""))
        if compute_capability is None or hardware_class not in NVIDIA_CLASSES:
            return answer
        return self._check_capability(answer, chosen, name, compute_capability, device)

    def supported_table(self, architectures: list[str], pairs: list[tuple[str, str]],
                        devices: list[tuple[str, float]]) -> np.ndarray:
        """`support(...).status == "supported"` over (architecture, (quant, engine), (hardware class, compute
        capability)) at once, for the planning grid: the engine-wide and format facts are looked up once per
        (engine, class, format), the architecture fact once per architecture (tests hold it equal to `support`)."""
        out = np.zeros((len(architectures), len(pairs), len(devices)), dtype=bool)
        classes = sorted({cls for cls, _ in devices})
        for p, (fmt, engine) in enumerate(pairs):
            life = self.lifecycle(engine)
            if life.status != "maintained":
                continue
            group = self.format_groups.get(fmt, fmt)
            for cls in classes:
                own = self._by_engine_class.get((engine, cls), ())
                generic = [r for r in own if r.architecture == "*"]
                f1 = self._best(r for r in generic if r.format == "*")
                f2 = self._best(r for r in generic if r.format in (fmt, group) and r.format != "*")
                if f1 is None or f2 is None or f1.status != "supported" or f2.status != "supported":
                    continue
                by_arch: dict[str, list[SupportRow]] = {}
                for r in own:
                    if r.architecture != "*" and r.format in (fmt, group, "*"):
                        by_arch.setdefault(r.architecture, []).append(r)
                columns = [k for k, (c, _) in enumerate(devices) if c == cls]
                for a, arch in enumerate(architectures):
                    f3 = self._best(by_arch.get(arch, ())) if arch else None
                    if f3 is None or f3.status != "supported":
                        continue
                    for k in columns:
                        cc = devices[k][1]
                        out[a, p, k] = (not cc or cls not in NVIDIA_CLASSES
                                        or not any(_below_floor(r, cc) for r in (f1, f2, f3)))
        return out

    def image(self, engine: str, hardware_class: str) -> EngineImage:
        found = self.images.get((engine, hardware_class))
        if found is not None:
            return found
        return EngineImage(engine=engine, hardware_class=hardware_class, kind="unknown", source="data/engine_images.csv",
                           as_of=dt.date.today(), reason=f"no image row for {engine} on {hardware_class}")

    def k8s_gpu_resource(self, hardware_class: str) -> str | None:
        found = self.hardware.get(hardware_class)
        return found.k8s_gpu_resource if found else None

    def lifecycle(self, engine: str) -> EngineLifecycle:
        found = self.lifecycles.get(engine)
        if found is not None:
            return found
        return EngineLifecycle(engine=engine, name=engine, status="unknown", source="data/engine_lifecycle.csv",
                               as_of=dt.date.today(), reason=f"engine '{engine}' is not in data/engine_lifecycle.csv")

    def min_compute_capability(self, engine: str, fmt: str) -> float | None:
        """The compute-capability floor for `engine` serving `fmt` on NVIDIA GPUs (engine-wide and per format),
        or None where no floor is recorded."""
        group = self.format_groups.get(fmt, fmt)
        own = [r for r in self.rows if r.engine == engine and r.architecture == "*" and r.hardware_class in ("nvidia", "*")]
        picks = (self._best(r for r in own if r.format == "*"),
                 self._best(r for r in own if r.format in (fmt, group) and r.format != "*"))
        floors = [r.min_compute_capability for r in picks if r is not None and r.min_compute_capability]
        return max(floors) if floors else None

    @functools.cached_property
    def _by_engine(self) -> dict[str, list[SupportRow]]:
        index: dict[str, list[SupportRow]] = {}
        for row in self.rows:
            index.setdefault(row.engine, []).append(row)
        return index

    @functools.cached_property
    def _by_engine_class(self) -> dict[tuple[str, str], list[SupportRow]]:
        """An engine's rows for one hardware class, its '*' rows included (the classes the matrix knows)."""
        classes = set(self.hardware) | {r.hardware_class for r in self.rows}
        return {(engine, cls): [r for r in rows if r.hardware_class in (cls, "*")]
                for engine, rows in self._by_engine.items() for cls in classes}

    @functools.cached_property
    def _groups(self) -> frozenset[str]:
        return frozenset(self.format_groups.values())

    def architecture_of(self, model_id: str) -> str | None:
        return self.architectures.get(model_id)

    def _best(self, candidates) -> SupportRow | None:
        """The most specific row: an exact architecture, then an exact hardware class, then a quant id over a
        format group over '*'."""
        groups = self._groups

        def rank(r: SupportRow) -> tuple[bool, bool, int]:
            fmt_rank = 0 if r.format == "*" else 1 if r.format in groups else 2
            return (r.architecture != "*", r.hardware_class != "*", fmt_rank)
        return max(candidates, key=rank, default=None)

    @staticmethod
    def _check_capability(answer: SupportAnswer, rows: list[SupportRow], name: str, cc: float,
                          device: str | None) -> SupportAnswer:
        who = device or "this GPU"
        for row in rows:
            floor = row.min_compute_capability
            if _below_floor(row, cc):
                why = row.reason or f"{name} needs compute capability {floor:.1f}"
                return SupportAnswer(status="unsupported", reason=f"{why}; {who} is {cc:.1f}", source=row.source,
                                     min_compute_capability=floor)
        return answer


def _below_floor(row: SupportRow, cc: float) -> bool:
    """The GPU's compute capability is under the row's floor, or outside the families its kernels exist for."""
    too_low = row.min_compute_capability is not None and cc + 1e-9 < row.min_compute_capability
    return too_low or (bool(row.compute_capability_majors) and str(int(cc)) not in row.compute_capability_majors)


def load_engine_support(data_dir: Path = DATA_DIR) -> EngineSupport:
    """Read and cross-check the four files; a bad row stops with its file, row and field."""
    engines = {r["id"] for r in read_rows(data_dir / "engines.csv")}
    quants = {r["id"]: r["format"] for r in read_rows(data_dir / "quants.csv")}
    hardware = {h.hardware_class: h for h in _records(data_dir / "hardware_classes.csv", HardwareClass)}
    formats = set(quants) | set(quants.values()) | set(EXTRA_FORMATS) | {"*"}
    rows = _records(data_dir / "engine_support.csv", SupportRow)
    images = _records(data_dir / "engine_images.csv", EngineImage)
    lifecycles = _records(data_dir / "engine_lifecycle.csv", EngineLifecycle)
    for file_name, records in (("engine_support.csv", rows), ("engine_images.csv", images),
                               ("engine_lifecycle.csv", lifecycles)):
        for number, rec in enumerate(records, start=2):
            _allowed(file_name, number, "engine", rec.engine, engines)
            if hasattr(rec, "hardware_class"):
                _allowed(file_name, number, "hardware_class", rec.hardware_class, set(hardware) | {"*"})
            if isinstance(rec, SupportRow):
                _allowed(file_name, number, "format", rec.format, formats)
    keys = [(r.engine, r.architecture, r.hardware_class, r.format) for r in rows]
    for number, key in enumerate(keys, start=2):
        if keys.index(key) != number - 2:
            raise CatalogError(f"engine_support.csv, row {number}: repeats the row for {key}.")
    architectures = {r["id"]: (r.get("architecture") or "").strip() for r in read_rows(data_dir / "models.csv")}
    return EngineSupport(rows=tuple(rows), images={(i.engine, i.hardware_class): i for i in images},
                         lifecycles={life.engine: life for life in lifecycles}, hardware=hardware,
                         format_groups=quants, architectures={k: v for k, v in architectures.items() if v})


def _records(path: Path, kind: type) -> list:
    return read_records(path, kind)


def _allowed(file_name: str, number: int, field: str, value: str, allowed: set[str]) -> None:
    if value not in allowed:
        raise CatalogError(f"{file_name}, row {number}, field '{field}': '{value}' is not one of "
                           f"{', '.join(sorted(allowed))}.")


@functools.cache
def default_support() -> EngineSupport:
    """The matrix from data/, read once."""
    return load_engine_support()


def combination_support(model, quant, engine, gpu, matrix: EngineSupport | None = None) -> SupportAnswer:
    """The matrix's answer for one (model, format, engine, device), its reason naming what is missing: what the
    planning grid's mask says row by row (planner.plan.grid_support) and what `estimate` reports."""
    return (matrix or default_support()).support(engine.id, model.hf_architecture or None, hardware_class_of(gpu.kind, gpu.vendor),
                                                 quant.id, compute_capability=gpu.compute_capability or None, device=gpu.name)


def support(engine: str, architecture: str | None, hardware_class: str, fmt: str, **checks) -> SupportAnswer:
    return default_support().support(engine, architecture, hardware_class, fmt, **checks)


def image(engine: str, hardware_class: str) -> EngineImage:
    return default_support().image(engine, hardware_class)


def k8s_gpu_resource(hardware_class: str) -> str | None:
    return default_support().k8s_gpu_resource(hardware_class)


def lifecycle(engine: str) -> EngineLifecycle:
    return default_support().lifecycle(engine)


def min_compute_capability(engine: str, fmt: str) -> float | None:
    return default_support().min_compute_capability(engine, fmt)
