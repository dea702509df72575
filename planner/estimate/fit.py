"""Fit the estimator's efficiency factors to published measurements.

Each measurement in `data/benchmarks.csv` is turned into the fraction of the physical roofline it
reached; a factor is the median fraction over the rows of its (engine, hardware family) group,
with coarser groups as fallbacks. Medians (and, for the batch factor, least absolute error) are used
because a few rows with odd settings must not drag a factor. `bench/calibrate.py` writes the result
to `data/efficiency.csv`; `bench/accuracy.py` reports in-sample and leave-one-source-out error.
`leave_one_source_out` refits without each source and predicts its rows back with
planner.estimate.backtest.predict.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from planner.catalog.loading import Catalog
from planner.catalog.records import Benchmark, EfficiencyFactor
from planner.estimate.backtest import (
    AGGREGATE_METRICS,
    SPEED_METRICS,
    predict,
    predicted_unstable,
    row_kv_dtype,
    running_batch,
    source_family,
    usable_rows,
    workload_stated,
)
from planner.estimate.fit_rules import enough
from planner.estimate.fit_comm import crosses_pcie, pcie_allreduce_fit
from planner.estimate.fit_serving import LONE_CLIENTS, request_overhead_fit, vllm_profile_fit
from planner.estimate.memory import prefill_attention_flops_per_token
from planner.estimate.prefill_fit import prefill_ratio, throughput_prefill_ratio, ttft_prefill_ratio
from planner.estimate.speed import (
    DecodeStep,
    closed_loop_tokens_per_s,
    decode_step,
    estimate_speed,
    prefill_flops_per_token,
)

# The batch factor is one number fitted through every run's closed loop: a group of a few runs can pin it anywhere
# (7 vLLM runs on datacenter GPUs without GPUStack's gave 0.05, against 0.36 with them), so it needs more.
MIN_BATCH_ROWS = 10


def fit_efficiencies(catalog: Catalog, rows: Iterable[Benchmark] | None = None, as_of=None) -> list[EfficiencyFactor]:
    """Efficiency factors fitted to `rows` (default: every usable benchmark row)."""
    rows = usable_rows(catalog, rows)
    # Speed rows whose all-reduces cross PCIe fit the PCIe share alone, last (planner.estimate.fit_comm).
    split = [r.metric in SPEED_METRICS and crosses_pcie(catalog, r) for r in rows]
    over_pcie = [r for r, pcie in zip(rows, split, strict=True) if pcie]
    rows = [r for r, pcie in zip(rows, split, strict=True) if not pcie]
    base = dataclasses.replace(catalog, efficiency=())
    # vLLM's profiling terms first (they need no other factor): every later fit sizes a vLLM cache with them
    factors: list[EfficiencyFactor] = vllm_profile_fit(base, [r for r in rows if r.metric == "kv_cache_tokens" and r.engine == "vllm"
                                                              and r.args.vllm_use_v1 is not False], as_of)
    decode = _ratios(dataclasses.replace(base, efficiency=tuple(factors)),
                     [r for r in rows if r.metric == "decode_tokens_per_s" and r.gpus == 1], _roofline_step_s)
    factors += _decode_fit(decode, as_of)
    with_decode = dataclasses.replace(base, efficiency=tuple(factors))
    tp = _ratios(with_decode, [r for r in rows if r.metric == "decode_tokens_per_s" and r.gpus > 1], _tensor_parallel_ratio)
    factors += _grouped("tensor_parallel", tp, as_of, by_group=False, default=0.9,
                        default_note="no multi-GPU decode rows: 0.9 per doubling assumed")
    with_tp = dataclasses.replace(base, efficiency=tuple(factors))
    # Only devices with a published compute figure: a ratio to a placeholder peak means nothing.
    prefill = _ratios(with_tp, [r for r in rows if r.metric == "prefill_tokens_per_s" and r.gpus == 1
                                and catalog.gpus[r.gpu].fp16_tflops_dense], prefill_ratio)
    prefill += _ratios(with_tp, [r for r in rows if r.metric == "ttft_s" and r.concurrency == 1
                                 and catalog.gpus[r.gpu].fp16_tflops_dense], ttft_prefill_ratio)
    prefill += _ratios(with_tp, [r for r in rows if r.metric == "throughput_tokens_per_s" and workload_stated(r)
                                 and catalog.gpus[r.gpu].fp16_tflops_dense], throughput_prefill_ratio)
    factors += _grouped("prefill_compute", prefill, as_of)
    factors += _effective_tflops(base, [r for r in rows if r.metric == "prefill_tokens_per_s" and r.gpus == 1
                                        and not catalog.gpus[r.gpu].fp16_tflops_dense], as_of)
    with_prefill = dataclasses.replace(base, efficiency=tuple(factors))
    # Dense models set the batch factor, as they set tensor-parallel scaling: a mixture's own
    # slowness is moe_kernels', fitted last, and must not leak into every dense estimate of its engine.
    factors += _batch_fit(with_prefill, [r for r in rows if r.metric in AGGREGATE_METRICS and not _is_moe(catalog, r)], as_of)
    with_batch = dataclasses.replace(base, efficiency=tuple(factors))
    factors += _moe_fit(with_batch, [r for r in rows if r.metric in MOE_STEP_METRICS and _is_moe(catalog, r)], as_of)
    with_moe = dataclasses.replace(base, efficiency=tuple(factors))
    served = [r for r in rows if r.metric == "ttft_s" and r.args.server is not False and catalog.gpus[r.gpu].fp16_tflops_dense]
    factors += request_overhead_fit(with_moe, [r for r in served if r.request_rate is None and (r.concurrency or 0) <= LONE_CLIENTS], as_of)
    factors += pcie_allreduce_fit(dataclasses.replace(base, efficiency=tuple(factors)), over_pcie, as_of)
    return factors


# A mixture's rows that time its decode steps: what moe_kernels is fitted on. Inter-token latency times one step
# directly; without it the factor of SGLang rested on one source's early-2025 builds (dstack's DeepSeek-R1 runs).
MOE_STEP_METRICS = ("throughput_tokens_per_s", "itl_s")


def _is_moe(catalog: Catalog, r: Benchmark) -> bool:
    model = catalog.model(r.model)
    return (model.experts_total or 1) > (model.experts_active or 1)


def _moe_fit(catalog: Catalog, rows: list[Benchmark], as_of) -> list[EfficiencyFactor]:
    """Speed a serving engine keeps on a mixture of experts, against what its other factors predict:
    the median of measured / predicted speed over its mixture-of-experts runs that time decode steps
    (MOE_STEP_METRICS: aggregate throughput, and inter-token latency, the step itself), per (engine,
    family) and per engine (an engine without such runs keeps 1; the factor is at most 1, so no
    estimate passes the roofline). Expert kernels (many small GEMMs, routing) are slower per byte and
    per FLOP than the dense kernels most rows measure."""
    groups: dict[tuple[str, str], list[tuple[Benchmark, float]]] = defaultdict(list)
    for r in rows:
        predicted = predict(catalog, r)
        if predicted is None:
            continue
        speed = predicted / r.value if r.metric == "itl_s" else r.value / predicted  # measured speed / predicted
        for key in ((r.engine, catalog.gpus[r.gpu].family), (r.engine, "*")):
            groups[key].append((r, speed))
    out = []
    for (engine, family), members in sorted(groups.items()):
        if not enough(engine, family, [r for r, _ in members], always_global=False):
            continue
        values = [v for _, v in members]
        speed = min(1.0, statistics.median(values))
        out.append(EfficiencyFactor(
            factor="moe_kernels", engine=engine, hardware_family=family, value=round(speed, 4), n_rows=len(members),
            median_abs_error_pct=round(statistics.median(abs(speed / v - 1) * 100 for v in values), 1),
            source=f"bench/calibrate.py: median measured / predicted over data/benchmarks.csv rows {';'.join(r.id for r, _ in members)}",
            as_of=as_of or max(r.as_of for r, _ in members)))
    return out


def _ratios(catalog: Catalog, rows: list[Benchmark], ratio_fn) -> list[tuple[Benchmark, str, float]]:
    out = []
    for r in rows:
        value = ratio_fn(catalog, r)
        if value is not None and value > 0:
            out.append((r, catalog.gpus[r.gpu].family, value))
    return out


def _grouped(factor: str, ratios: list[tuple[Benchmark, str, float]], as_of, by_group: bool = True,
             default: float = 0.5, default_note: str = "no rows: 0.5 assumed") -> list[EfficiencyFactor]:
    groups: dict[tuple[str, str], list[tuple[Benchmark, float]]] = defaultdict(list)
    for r, family, value in ratios:
        groups[("*", "*")].append((r, value))
        if by_group:
            groups[(r.engine, family)].append((r, value))
            groups[(r.engine, "*")].append((r, value))
            groups[("*", family)].append((r, value))
    out = []
    for (engine, family), members in sorted(groups.items()):
        if not enough(engine, family, [r for r, _ in members]):
            continue
        values = [v for _, v in members]
        median = min(1.0, statistics.median(values))
        errors = [abs(median / v - 1) * 100 for v in values]
        ids = ";".join(r.id for r, _ in members)
        out.append(EfficiencyFactor(
            factor=factor, engine=engine, hardware_family=family, value=round(median, 4), n_rows=len(members),
            median_abs_error_pct=round(statistics.median(errors), 1),
            source=f"bench/calibrate.py: median over data/benchmarks.csv rows {ids}",
            as_of=as_of or max(r.as_of for r, _ in members),
        ))
    if not out:
        out.append(EfficiencyFactor(factor=factor, engine="*", hardware_family="*", value=default, n_rows=0,
                                    source=f"bench/calibrate.py: {default_note}", as_of=as_of or "2026-11-25"))
    return out


def _decode_fit(points: list[tuple[Benchmark, str, float]], as_of) -> list[EfficiencyFactor]:
    """Decode time per token = roofline time / efficiency + a fixed time per step, per group.

    Weighted least squares of 1/measured on the roofline time (weights 1/y², so relative errors
    count), with the efficiency kept at most 1 and the fixed time at least 0. The fixed time is what
    makes small models on fast GPUs slower than their bandwidth alone says (kernel launches,
    sampling). A group with fewer than MIN_ROWS rows falls back to a coarser one.
    """
    groups: dict[tuple[str, str], list[tuple[Benchmark, float, float]]] = defaultdict(list)
    for r, family, roofline_s in points:
        for key in ((r.engine, family), (r.engine, "*"), ("*", family), ("*", "*")):
            groups[key].append((r, roofline_s, 1.0 / r.value))
    out = []
    for (engine, family), members in sorted(groups.items()):
        if not enough(engine, family, [r for r, _, _ in members], always_global=False):
            continue
        inverse_eff, overhead = _line_fit([(x, y) for _, x, y in members])
        errors = [abs((inverse_eff * x + overhead) / y - 1) * 100 for _, x, y in members]
        ids = ";".join(r.id for r, _, _ in members)
        common = dict(engine=engine, hardware_family=family, n_rows=len(members), median_abs_error_pct=round(statistics.median(errors), 1),
                      as_of=as_of or max(r.as_of for r, _, _ in members))
        out.append(EfficiencyFactor(factor="decode_bandwidth", value=round(1 / inverse_eff, 4),
                                    source=f"bench/calibrate.py: weighted line fit over data/benchmarks.csv rows {ids}", **common))
        out.append(EfficiencyFactor(factor="decode_overhead_s", value=round(overhead, 6),
                                    source=f"bench/calibrate.py: intercept of the same fit over rows {ids}", **common))
    return out


def _line_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(slope >= 1, intercept >= 0) of y = slope·x + intercept, weighted by 1/y²."""
    weights = [1 / y**2 for _, y in points]
    total = sum(weights)
    mean_x = sum(w * x for w, (x, _) in zip(weights, points, strict=True)) / total
    mean_y = sum(w * y for w, (_, y) in zip(weights, points, strict=True)) / total
    sxx = sum(w * (x - mean_x) ** 2 for w, (x, _) in zip(weights, points, strict=True))
    sxy = sum(w * (x - mean_x) * (y - mean_y) for w, (x, y) in zip(weights, points, strict=True))
    slope = max(1.0, sxy / sxx) if sxx > 0 else max(1.0, statistics.median(y / x for x, y in points))
    intercept = mean_y - slope * mean_x
    if intercept < 0:  # no fixed time: a pure ratio
        return max(1.0, statistics.median(y / x for x, y in points)), 0.0
    return slope, intercept


def _effective_tflops(catalog: Catalog, rows: list[Benchmark], as_of) -> list[EfficiencyFactor]:
    """Measured prefill compute of devices with no published peak (median TFLOPS), per device;
    devices without rows of their own share their family's median."""
    by_family: dict[str, list[tuple[Benchmark, float]]] = defaultdict(list)
    for r in rows:
        model = catalog.model(r.model)
        flops = prefill_flops_per_token(model.params_active_b * 1e9, prefill_attention_flops_per_token(model, r.input_tokens or 512))
        tflops = r.value * float(flops) / 1e12
        by_family[r.gpu].append((r, tflops))
        by_family[catalog.gpus[r.gpu].family].append((r, tflops))
    out = []
    for family, members in sorted(by_family.items()):
        values = [v for _, v in members]
        median = statistics.median(values)
        out.append(EfficiencyFactor(
            factor="effective_tflops", engine="*", hardware_family=family, value=round(median, 3), n_rows=len(members),
            median_abs_error_pct=round(statistics.median(abs(median / v - 1) * 100 for v in values), 1),
            source=f"bench/calibrate.py: median measured prefill compute over data/benchmarks.csv rows {';'.join(r.id for r, _ in members)}",
            as_of=as_of or max(r.as_of for r, _ in members)))
    return out


def leave_one_source_out(catalog: Catalog, rows: list[Benchmark] | None = None) -> list[tuple[Benchmark, float]]:
    """(row, prediction) where each row is predicted by factors fitted without its own source. A latency row
    predicted unstable (no finite figure where the run measured one) gets math.inf: a miss, counted in every
    median error rather than left out of it."""
    rows = usable_rows(catalog, rows)
    sources = sorted({source_family(r.source) for r in rows})
    out = []
    for src in sources:
        held_out = dataclasses.replace(catalog, efficiency=tuple(fit_efficiencies(catalog, [r for r in rows if source_family(r.source) != src])))
        for r in rows:
            if source_family(r.source) == src:
                predicted = predict(held_out, r)
                if predicted is None and predicted_unstable(held_out, r):
                    predicted = math.inf
                if predicted is not None:
                    out.append((r, predicted))
    return out


def _roofline_step_s(catalog: Catalog, r: Benchmark) -> float | None:
    """Seconds per token reading the bytes at the bandwidth the device sustains (no overhead)."""
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    speed = estimate_speed(catalog, model, quant, gpu, engine, 1, max(r.input_tokens or 1, 1), max(r.output_tokens or 1, 1), 1)
    return 1.0 / speed.decode_roofline_tokens_per_s / catalog.bandwidth_share(gpu)


def _prefill_share_s(catalog: Catalog, model, quant, gpu, engine, r: Benchmark, batch: int) -> float:
    """Replica time one request's prefill costs with `batch` requests in flight (planner.estimate.speed.prefill_s)."""
    return estimate_speed(catalog, model, quant, gpu, engine, r.gpus, max(r.input_tokens or 1, 1), 1, batch).prefill_share_s


def _tensor_parallel_ratio(catalog: Catalog, r: Benchmark) -> float | None:
    """Per-doubling efficiency that makes the single-GPU fit match a multi-GPU decode row: what tensor
    parallelism loses in decode beyond its all-reduces (planner.estimate.interconnect, counted apart) -
    smaller GEMMs per GPU, synchronisation, the fixed time per step that does not shrink with more GPUs.
    Fitted on decode, it scales decode's bandwidth and compute; prefill's large GEMMs scale ideally.
    (Measuring it net of the step's fixed time, as the reads' share alone, gave 0.945 and left the
    leave-one-source-out throughput error at 27% against 22%: the fixed time does not shrink either.)

    Dense models only: a mixture of experts split over GPUs is slower for reasons of its own (many
    small expert GEMMs, routing), which the moe_kernels factor carries."""
    engine = catalog.engines[r.engine]
    if not engine.tensor_parallel or _is_moe(catalog, r):
        return None
    model, quant, gpu = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu]
    one = estimate_speed(catalog, model, quant, gpu, engine, 1, max(r.input_tokens or 1, 1), max(r.output_tokens or 1, 1), 1)
    ideal = one.decode_tokens_per_s * r.gpus
    doublings = max(1.0, math.log2(r.gpus))
    return min(1.0, (r.value / ideal) ** (1 / doublings))


@dataclasses.dataclass(frozen=True)
class _BatchTerms:
    """An aggregate row's closed loop with every term but the batch compute efficiency known."""

    row: Benchmark
    family: str
    batch: int
    output_tokens: int
    prefill_s: float  # one request's prefill (0 for a decode-only row)
    step: DecodeStep  # the decode step at the running batch (planner.estimate.speed.decode_step)

    def predicted(self, eff: np.ndarray) -> np.ndarray:
        return closed_loop_tokens_per_s(self.batch, self.output_tokens, self.prefill_s, self.step.seconds(eff))


def _batch_terms(catalog: Catalog, r: Benchmark) -> _BatchTerms | None:
    if not workload_stated(r):
        return None
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    if (r.gpus > 1 and not engine.tensor_parallel) or not gpu.fp16_tflops_dense:
        return None
    batch = running_batch(catalog, r)
    prefill = _prefill_share_s(catalog, model, quant, gpu, engine, r, batch) if r.metric == "throughput_tokens_per_s" else 0.0
    step = decode_step(catalog, model, quant, gpu, engine, r.gpus, r.input_tokens, r.output_tokens, batch, row_kv_dtype(r))
    return _BatchTerms(r, gpu.family, batch, r.output_tokens, prefill, step)


# Candidate batch compute efficiencies: 0.5% to 100% of the peak, 1% apart.
_BATCH_GRID = np.geomspace(0.005, 1.0, 533)


def _batch_fit(catalog: Catalog, rows: list[Benchmark], as_of) -> list[EfficiencyFactor]:
    """Per-sequence compute efficiency of the decode step, per group: the value whose closed-loop
    predictions of the group's aggregate rows have the least total absolute log error.

    Every row counts, including those whose memory time alone already explains the measurement
    (they pull the factor up, towards compute costing little); fitting only the rows that leave
    time over for compute would bias every prediction slow.
    """
    groups: dict[tuple[str, str], list[_BatchTerms]] = defaultdict(list)
    for r in rows:
        terms = _batch_terms(catalog, r)
        if terms is None:
            continue
        for key in ((r.engine, terms.family), (r.engine, "*"), ("*", terms.family), ("*", "*")):
            groups[key].append(terms)
    out = []
    for (engine, family), members in sorted(groups.items()):
        if not enough(engine, family, [t.row for t in members]) or (len(members) < MIN_BATCH_ROWS and (engine, family) != ("*", "*")):
            continue
        measured = np.array([t.row.value for t in members])
        log_errors = np.array([np.abs(np.log(t.predicted(_BATCH_GRID) / v)) for t, v in zip(members, measured, strict=True)])
        best = float(_BATCH_GRID[int(np.argmin(log_errors.sum(axis=0)))])
        errors = [abs(float(t.predicted(np.array([best]))[0]) / t.row.value - 1) * 100 for t in members]
        out.append(EfficiencyFactor(
            factor="batch_compute", engine=engine, hardware_family=family, value=round(best, 4), n_rows=len(members),
            median_abs_error_pct=round(statistics.median(errors), 1),
            source=f"bench/calibrate.py: least absolute log error of the closed-loop throughput over data/benchmarks.csv rows "
                   f"{';'.join(t.row.id for t in members)}",
            as_of=as_of or max(t.row.as_of for t in members)))
    if not out:
        out.append(EfficiencyFactor(factor="batch_compute", engine="*", hardware_family="*", value=0.5, n_rows=0,
                                    source="bench/calibrate.py: no aggregate rows: 0.5 assumed", as_of=as_of or "2026-11-25"))
    return out
