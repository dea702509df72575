"""The serving terms fitted beside the efficiency factors (planner.estimate.fit calls these): an engine's fixed
cost per request before its first token, and the two terms of vLLM's start-up profiling its logs do not print."""

from __future__ import annotations

import statistics
from collections import defaultdict

import numpy as np

from planner.catalog.loading import Catalog
from planner.catalog.records import Benchmark, EfficiencyFactor
from planner.estimate.backtest import kv_cache_tokens, predict, source_family
from planner.estimate.fit_rules import MIN_ROWS, MIN_SOURCES, MIN_SOURCES_FOR_MEDIAN, enough, median_of_sources
from planner.estimate.kv_capacity import vllm_profile_parts

LONE_CLIENTS = 1  # the cost per request is read where nothing queues: runs of one client


def request_overhead_fit(catalog: Catalog, rows: list[Benchmark], as_of) -> list[EfficiencyFactor]:
    """A serving engine's fixed time per request before its first token (tokenising, scheduling, the HTTP
    round trip, detokenising the first token): the median of measured - predicted time to first token
    over its runs of one client (LONE_CLIENTS: under load, a queue the model misjudges would pass for the
    cost), at least 0, per engine and over all engines. A median over sources, so runs whose prefill is
    mispredicted do not set it; an engine gets its own only from MIN_SOURCES_FOR_MEDIAN sources (of two, the
    median is their mean, and one source's slow prefill - Vultr's Nemotron on B200, 0.35 s over the prediction
    where the others are 0.01-0.05 s - would become every request's cost). Fewer: the median over all engines."""
    groups: dict[tuple[str, str], list[tuple[Benchmark, float]]] = defaultdict(list)
    for r in rows:
        predicted = predict(catalog, r)
        if predicted is None:
            continue
        for key in ((r.engine, "*"), ("*", "*")):
            groups[key].append((r, r.value - predicted))
    out = []
    for (engine, family), members in sorted(groups.items()):
        if not enough(engine, family, [r for r, _ in members], always_global=False, min_sources=MIN_SOURCES_FOR_MEDIAN):
            continue
        value = max(0.0, median_of_sources(members))
        out.append(EfficiencyFactor(
            factor="request_overhead_s", engine=engine, hardware_family=family, value=round(value, 5), n_rows=len(members),
            median_abs_error_pct=round(statistics.median(abs(v - value) / r.value * 100 for r, v in members), 1),
            source=f"bench/calibrate.py: median measured - predicted time to first token over data/benchmarks.csv rows "
                   f"{';'.join(r.id for r, _ in members)}",
            as_of=as_of or max(r.as_of for r, _ in members)))
    return out



# Candidate values of vLLM's profiling terms (planner.estimate.kv_capacity): non-torch GiB per GPU, FP32 logits copies.
_NON_TORCH_GRID = np.round(np.arange(0.0, 2.01, 0.05), 2)
_SAMPLER_GRID = np.arange(0.0, 16.01, 0.5)


def vllm_profile_fit(catalog: Catalog, rows: list[Benchmark], as_of) -> list[EfficiencyFactor]:
    """vLLM V1's non-torch memory and its sampler's logits copies (planner.estimate.kv_capacity): the pair whose KV
    cache sizes, predicted for the logged start-ups, have the least total absolute log error. Needs MIN_ROWS rows
    from MIN_SOURCES sources; without them kv_capacity keeps its defaults.

    Each row's cache is kv = room - max(forward, copies x logits) - non_torch: the room and the tokens per GiB are read
    off kv_cache_tokens at two non-torch settings, the forward and logits sizes from kv_capacity.vllm_profile_parts,
    so the whole grid is evaluated at once."""
    if len(rows) < MIN_ROWS or len({source_family(r.source) for r in rows}) < MIN_SOURCES:
        return []
    room, forward, logits, per_gib = [], [], [], []
    for r in rows:
        model, gpu, engine = catalog.model(r.model), catalog.gpus[r.gpu], catalog.engines[r.engine]
        tp = min(r.gpus, gpu.scale_up_gpus) if r.gpus > 1 and engine.tensor_parallel else 1
        fwd, one_logits = vllm_profile_parts(model, gpu, tp, r.args.max_num_seqs, r.args.max_num_batched_tokens)
        t0, t1 = (kv_cache_tokens(catalog, r, {"non_torch_gib": nt, "sampler_copies": 0.0}) for nt in (0.0, 1.0))
        tokens_per_gib = max(t0 - t1, 1e-9)
        room.append(t0 / tokens_per_gib + fwd)  # GiB before any activation or non-torch memory
        forward.append(fwd)
        logits.append(one_logits)
        per_gib.append(tokens_per_gib)
    column = lambda v: np.array(v)[:, None, None]  # noqa: E731
    nt, copies = _NON_TORCH_GRID[None, :, None], _SAMPLER_GRID[None, None, :]
    kv_gib = column(room) - nt - np.maximum(column(forward), copies * column(logits))
    predicted = np.maximum(kv_gib * column(per_gib), 1.0)
    error = np.abs(np.log(predicted / column([r.value for r in rows]))).sum(axis=0)
    i, j = np.unravel_index(int(np.argmin(error)), error.shape)
    best = (float(_NON_TORCH_GRID[i]), float(_SAMPLER_GRID[j]))
    errors = [abs(kv_cache_tokens(catalog, r, {"non_torch_gib": best[0], "sampler_copies": best[1]}) / r.value - 1) * 100 for r in rows]
    common = dict(engine="vllm", hardware_family="*", n_rows=len(rows), median_abs_error_pct=round(statistics.median(errors), 1),
                  source=f"bench/calibrate.py: least absolute log error of the KV cache tokens of the vLLM V1 start-ups in "
                         f"data/benchmarks.csv rows {';'.join(r.id for r in rows)}",
                  as_of=as_of or max(r.as_of for r in rows))
    return [EfficiencyFactor(factor="vllm_non_torch_gib", value=best[0], **common),
            EfficiencyFactor(factor="vllm_sampler_copies", value=best[1], **common)]
