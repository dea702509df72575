"""What the machine a GPU sits in adds to the grid (data/machines.csv, planner.catalog.machines): the host
memory llama.cpp and Ollama may offload layers into, and the unit a datacenter part is bought in."""

from __future__ import annotations

import functools

from planner.catalog.machines import load_machines, purchase_unit
from planner.catalog.records import Gpu
from planner.units import GIB


def host_ram_bytes_per_gpu(gpu: Gpu) -> float:
    """Host memory one GPU's share of its machine offers for offloaded layers: none where the GPU's memory is the
    machine's (Apple, unified parts), else the typical unit's RAM per GPU, else the desktop assumption."""
    unit = _first_unit(gpu.id)
    if unit is not None and unit.host_ram_basis == "unified":
        return 0.0
    per_gpu = unit.host_ram_per_gpu_gib if unit is not None else None
    return (per_gpu if per_gpu else desktop_host_ram_gib()) * GIB


def bought_in(gpu: Gpu) -> int:
    """GPUs a purchase comes in: 8 (a baseboard) or 72 (a rack) for a datacenter SXM/OAM part, else 1."""
    unit = purchase_unit(gpu.id)
    return unit.gpus_per_unit if unit is not None and gpu.kind == "datacenter" and unit.sold_as in {"server", "rack"} else 1


@functools.cache
def desktop_host_ram_gib() -> float:
    """The host memory assumed for a machine without a row: the smallest desktop row's (labelled an assumption there)."""
    desktops = [m.host_ram_gib for m in load_machines() if m.sold_as == "desktop" and m.host_ram_gib]
    return float(min(desktops)) if desktops else 64.0


@functools.cache
def _first_unit(gpu_id: str):
    rows = [m for m in load_machines() if m.gpu == gpu_id and m.purchasable]
    return rows[0] if rows else None
