"""Hardware as it is sold and run: one row per purchasable or rentable unit (data/machines.csv).

A datacenter SXM/OAM GPU is not bought one at a time: it comes eight to a baseboard in a server with CPUs,
host memory, network and power supplies, or as a whole rack (GB200/GB300 NVL72), and the big clouds rent
those parts only as whole 8-GPU instances. A Mac is its unified memory and its wall power; a desktop card
sits in a desktop whose system RAM bounds CPU offload. Each `Machine` names its GPU (a data/gpus.csv id),
how many it carries, its host memory, its power at the wall (and which figure that is), and a price where
a source lists one, each with its source and date.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from planner.catalog.loading import DATA_DIR, read_records
from planner.catalog.records import OptStr, PositiveInt, Record
from planner.errors import CatalogError, LookupFailed

MACHINES_FILE = "machines.csv"

SoldAs = Literal["server", "rack", "workstation", "desktop", "laptop", "mac", "mini_pc", "module", "rented_instance"]
# What host_ram_gib is: a configuration the source lists, the unit's maximum, unified memory (the GPU's own
# memory: no separate host pool to offload into), or an assumption the notes explain.
HostRamBasis = Literal["configured", "maximum", "unified", "assumption"]
# What wall_power_w is: the vendor's stated system maximum, a maximum measured at the wall by the vendor
# (Apple's support pages), a power supply's rating (an upper bound), the vendor's recommended PSU for a card,
# or a figure the press reports for the unit.
PowerBasis = Literal["vendor_max", "measured_max", "psu_rating", "recommended_psu", "reported"]
# What price_usd is: a list/launch price, a price a named source reports, or a street/indicative price.
PriceBasis = Literal["list", "reported", "indicative"]

_PURCHASABLE = ("server", "rack", "workstation", "desktop", "laptop", "mac", "mini_pc", "module")


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://")) and "." in value and " " not in value


class Machine(Record):
    """One unit a buyer orders or a cloud rents, with the GPUs in it."""

    id: str
    name: str
    gpu: str  # a data/gpus.csv id
    gpus_per_unit: PositiveInt
    sold_as: SoldAs
    host_ram_gib: Annotated[float | None, Field(gt=0)] = None
    host_ram_basis: HostRamBasis | None = None
    wall_power_w: Annotated[float | None, Field(gt=0)] = None
    wall_power_basis: PowerBasis | None = None
    price_usd: Annotated[float | None, Field(gt=0)] = None
    price_basis: PriceBasis | None = None
    price_source: OptStr = None
    provider: OptStr = None  # rented shapes: the cloud (the instance name is in `name`)
    usd_per_hour: Annotated[float | None, Field(gt=0)] = None  # rented shapes: the whole instance, on demand

    @field_validator("source", "price_source")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _is_url(value):
            raise ValueError("must be a URL (https://...)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Machine:
        if (self.host_ram_gib is None) != (self.host_ram_basis is None):
            raise ValueError("host_ram_gib and host_ram_basis must both be set or both blank")
        if (self.wall_power_w is None) != (self.wall_power_basis is None):
            raise ValueError("wall_power_w and wall_power_basis must both be set or both blank")
        if self.price_usd is not None and (self.price_basis is None or self.price_source is None):
            raise ValueError("price_usd needs price_basis and price_source")
        rented = self.sold_as == "rented_instance"
        if rented and not self.provider:
            raise ValueError("a rented_instance needs its provider")
        if not rented and (self.provider or self.usd_per_hour is not None):
            raise ValueError(f"provider and usd_per_hour are for rented_instance rows, not '{self.sold_as}'")
        return self

    @property
    def purchasable(self) -> bool:
        return self.sold_as in _PURCHASABLE

    @property
    def host_ram_per_gpu_gib(self) -> float | None:
        """The unit's system memory shared by its GPUs: what CPU offload may use per GPU of the unit."""
        return None if self.host_ram_gib is None else self.host_ram_gib / self.gpus_per_unit


@functools.lru_cache(maxsize=4)
def load_machines(data_dir: Path = DATA_DIR) -> tuple[Machine, ...]:
    """Every row of data/machines.csv, validated; a bad row names the file, the row (header = row 1) and the
    field. GPU ids are checked against data/gpus.csv in the same folder."""
    path = Path(data_dir) / MACHINES_FILE
    if not path.exists():
        raise CatalogError(f"{MACHINES_FILE}: the data file is missing (expected at {path}).")
    gpu_ids = _gpu_ids(Path(data_dir))
    out: list[Machine] = []
    seen: set[str] = set()
    for row_number, machine in enumerate(read_records(path, Machine, drop_blank=True), start=2):
        if machine.id in seen:
            raise CatalogError(f"{MACHINES_FILE}, row {row_number}, field 'id': duplicate id '{machine.id}'.")
        if gpu_ids is not None and machine.gpu not in gpu_ids:
            raise CatalogError(f"{MACHINES_FILE}, row {row_number}, field 'gpu': unknown gpu id '{machine.gpu}' (not in gpus.csv).")
        seen.add(machine.id)
        out.append(machine)
    return tuple(out)


def _gpu_ids(data_dir: Path) -> frozenset[str] | None:
    path = data_dir / "gpus.csv"
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        return frozenset(row["id"] for row in csv.DictReader(handle) if row.get("id"))


def machine(machine_id: str, data_dir: Path = DATA_DIR) -> Machine:
    for unit in load_machines(data_dir):
        if unit.id == machine_id:
            return unit
    raise LookupFailed(f"machine: no unit in {MACHINES_FILE} has the id '{machine_id}'.")


def machines_for(gpu_id: str, data_dir: Path = DATA_DIR) -> list[Machine]:
    """Every unit carrying this GPU, purchasable ones first (in file order), then rented shapes."""
    units = [m for m in load_machines(data_dir) if m.gpu == gpu_id]
    return [m for m in units if m.purchasable] + [m for m in units if not m.purchasable]


def purchase_unit(gpu_id: str, data_dir: Path = DATA_DIR) -> Machine | None:
    """The unit this GPU is bought in: the first purchasable row for it in the file (the file lists the
    typical unit first; for SXM/OAM parts that is the 8-GPU server, for GB200/GB300 the 72-GPU rack)."""
    return next((m for m in machines_for(gpu_id, data_dir) if m.purchasable), None)


def host_ram_gib(gpu_id: str, data_dir: Path = DATA_DIR) -> float | None:
    """System memory of the typical unit this GPU runs in (its purchase unit, else the first unit for it
    that lists one, purchasable before rented): the ceiling on CPU offload for that whole unit. Unified-memory devices (Apple, DGX
    Spark, Jetson, Strix Halo) return their unified memory, which is the GPU's own memory, not extra room."""
    unit = purchase_unit(gpu_id, data_dir)
    if unit is not None and unit.host_ram_gib is not None:
        return unit.host_ram_gib
    return next((m.host_ram_gib for m in machines_for(gpu_id, data_dir) if m.host_ram_gib is not None), None)


def wall_power_w(gpu_id: str, data_dir: Path = DATA_DIR) -> float | None:
    """Power at the wall of the typical purchase unit (the whole unit, all its GPUs); see its wall_power_basis."""
    unit = purchase_unit(gpu_id, data_dir)
    return None if unit is None else unit.wall_power_w
