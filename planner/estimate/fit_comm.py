"""The share of a PCIe link's bandwidth that tensor-parallel all-reduces reach, fitted on published runs whose
all-reduces cross PCIe (planner.estimate.fit calls this last, on top of every other factor).

Without NVLink, NCCL's rings go through the PCIe switches or, where the GPUs cannot reach each other's memory
(no peer-to-peer, as on many cloud instances), through host memory; and vLLM's own all-reduce kernel runs only
on NVLink or on two PCIe GPUs. So a tensor-parallel step over PCIe moves its activations slower than the link's
datasheet figure (planner.estimate.interconnect). Rows of that kind set this share and nothing else: they would
otherwise pass their slow all-reduces off as slow prefill, slow batches or a costly request.
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np

from planner.catalog.loading import Catalog
from planner.catalog.records import Benchmark, EfficiencyFactor
from planner.estimate.backtest import predict
from planner.estimate.fit_rules import enough
from planner.estimate.interconnect import SHARE_FACTORS, link_class

TIME_METRICS = ("ttft_s", "itl_s")  # the others are rates: their time per unit is 1 / value
_PROBE_SHARE = 0.5
# Candidate shares of the link: 2% to 100%, about 4% apart.
_SHARE_GRID = np.geomspace(0.02, 1.0, 100)


def crosses_pcie(catalog: Catalog, r: Benchmark) -> bool:
    """A run whose tensor-parallel all-reduces cross PCIe: more than one GPU, an engine that splits layers,
    and a device whose scale-up link is PCIe (with or without peer-to-peer)."""
    return _pcie_class(catalog, r) is not None


def _pcie_class(catalog: Catalog, r: Benchmark) -> str | None:
    if r.gpus < 2 or not catalog.engines[r.engine].tensor_parallel:
        return None
    kind = link_class(catalog.gpus[r.gpu])
    return kind if kind in SHARE_FACTORS else None


def pcie_allreduce_fit(catalog: Catalog, rows: list[Benchmark], as_of) -> list[EfficiencyFactor]:
    """One share per PCIe link class (SHARE_FACTORS: pcie_allreduce_share with peer-to-peer, host_allreduce_share
    without), each over the rows whose all-reduces cross that class: the least absolute log error over them (any
    metric the backtest predicts), at most 1. A row's time (the figure, or 1 / a rate) is linear in 1 / share: the
    all-reduces' bandwidth part scales with it, their latency and everything else do not, so two predictions
    give it at every share. Needs rows from two independent sources; else none (the link's full figure)."""
    out = []
    for kind, factor in SHARE_FACTORS.items():
        out += _share_fit(catalog, [r for r in rows if _pcie_class(catalog, r) == kind], factor, as_of)
    return out


def _share_fit(catalog: Catalog, rows: list[Benchmark], factor: str, as_of) -> list[EfficiencyFactor]:
    probes = [_with_share(catalog, factor, 1.0), _with_share(catalog, factor, _PROBE_SHARE)]
    members: list[tuple[Benchmark, np.ndarray]] = []
    for r in rows:
        values = [predict(c, r) for c in probes]
        if any(v is None or not v > 0 for v in values):
            continue
        full, half = (v if r.metric in TIME_METRICS else 1 / v for v in values)
        times = full + (half - full) * (1 / _SHARE_GRID - 1) / (1 / _PROBE_SHARE - 1)
        measured = r.value if r.metric in TIME_METRICS else 1 / r.value
        members.append((r, np.abs(np.log(np.maximum(times, 1e-12) / measured))))
    if not enough("*", "pcie", [r for r, _ in members]):
        return []
    total = sum(e for _, e in members)
    best = int(np.argmin(total))
    where = "without peer-to-peer (staged through host memory)" if factor == "host_allreduce_share" else "on PCIe"
    return [EfficiencyFactor(
        factor=factor, engine="*", hardware_family="*", value=round(float(_SHARE_GRID[best]), 4),
        n_rows=len(members), median_abs_error_pct=round(float(statistics.median(np.expm1(e[best]) * 100 for _, e in members)), 1),
        source=f"bench/calibrate.py: least absolute log error over the tensor-parallel runs {where} in data/benchmarks.csv, rows "
               + ";".join(r.id for r, _ in members),
        as_of=as_of or max(r.as_of for r, _ in members))]


def _with_share(catalog: Catalog, factor: str, share: float) -> Catalog:
    extra = EfficiencyFactor(factor=factor, engine="*", hardware_family="*", value=share, n_rows=0, source="probe",
                             as_of="2026-01-01")
    return dataclasses.replace(catalog, efficiency=tuple(f for f in catalog.efficiency if f.factor != factor) + (extra,))
