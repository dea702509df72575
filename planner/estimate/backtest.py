"""Benchmark rows against the estimator: which rows are usable and from which independent source,
what the estimator predicts for a row, why an aggregate row is kept but not predicted, and the
bands of measured ÷ predicted that `bench/calibrate.py` writes to `data/accuracy.csv`.

The factors themselves are fitted in planner.estimate.fit, which also holds `leave_one_source_out`
(it refits without each source).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlparse

from planner.catalog.loading import Catalog
from planner.catalog.records import AccuracyBand, Benchmark
from planner.errors import PlannerError
from planner.estimate.kv_capacity import kv_capacity, running_cap, vllm_profile_terms
from planner.estimate.memory import estimate_memory, model_weight_bytes
from planner.estimate.speed import closed_loop_tokens_per_s, estimate_speed, max_running_sequences, queue_terms
from planner.estimate.queueing import LoadedLatency, loaded_latency, overloaded_run
from planner.units import GIB

SPEED_METRICS = ("decode_tokens_per_s", "prefill_tokens_per_s", "throughput_tokens_per_s", "decode_throughput_tokens_per_s", "ttft_s", "itl_s")
AGGREGATE_METRICS = ("throughput_tokens_per_s", "decode_throughput_tokens_per_s")
MIN_OUTPUT_TOKENS = 16  # aggregate runs with fewer output tokens a request measure the API server, not the GPU


def source_family(url: str) -> str:
    """The independent source a row comes from: the host, or for code hosts the owner (an organisation's
    repositories are one source: vllm-project's recipes and its engine, sgl-project's cookbook and its engine)."""
    parsed = urlparse(url.split()[0])
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.netloc in {"github.com", "huggingface.co"} and parts:
        return f"{parsed.netloc}/{parts[0]}".lower()
    return parsed.netloc.lower() or url


def usable_rows(catalog: Catalog, rows: Iterable[Benchmark] | None = None) -> list[Benchmark]:
    """Rows whose model, quantization, device and engine are all in the catalogue."""
    rows = catalog.benchmarks if rows is None else rows
    return [r for r in rows if _resolvable(catalog, r)]


def _resolvable(catalog: Catalog, r: Benchmark) -> bool:
    try:
        catalog.model(r.model)
    except PlannerError:
        return False
    return r.gpu in catalog.gpus and r.quant in catalog.quants and r.engine in catalog.engines


def predict(catalog: Catalog, r: Benchmark) -> float | None:
    """The estimator's figure for a benchmark row's metric, with the catalogue's efficiency factors."""
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    if r.metric == "weights_gib":
        return model_weight_bytes(model, quant, engine.id)[0] / GIB
    if r.metric == "memory_gib":
        return _total_memory_gib(model, quant, gpu, engine, r)
    if r.metric == "ttft_s":
        return loaded_ttft_s(catalog, r)
    if r.metric == "itl_s":
        return loaded_itl_s(catalog, r)
    if r.metric == "kv_cache_tokens":
        if r.engine == "vllm" and r.args.vllm_use_v1 is False:  # V0's start-up counted what V1 does not (kv_capacity)
            return None
        return kv_cache_tokens(catalog, r, vllm_profile_terms(catalog))
    if r.metric not in SPEED_METRICS or (r.metric in AGGREGATE_METRICS and not workload_stated(r)):
        return None
    concurrency = running_batch(catalog, r) if r.metric in AGGREGATE_METRICS else 1
    speed = estimate_speed(catalog, model, quant, gpu, engine, r.gpus, max(r.input_tokens or 1, 1), max(r.output_tokens or 1, 1),
                           concurrency, kv_cache_dtype=row_kv_dtype(r))
    if r.metric == "decode_tokens_per_s":
        return speed.decode_tokens_per_s
    if r.metric == "prefill_tokens_per_s":
        return speed.prefill_tokens_per_s
    if r.metric == "decode_throughput_tokens_per_s":
        return speed.decode_throughput_tokens_per_s
    return float(closed_loop_tokens_per_s(concurrency, max(r.output_tokens, 1), speed.prefill_share_s, 1 / speed.decode_tokens_per_s_at_concurrency))


def kv_cache_tokens(catalog: Catalog, r: Benchmark, profile_terms: dict[str, float]) -> float:
    """The KV cache a start-up row's engine logs, with its settings and vLLM's profiling terms."""
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    args = r.args
    return float(kv_capacity(model, quant, gpu, engine, r.gpus, args.max_model_len or r.input_tokens or 4096, row_kv_dtype(r),
                             memory_fraction=args.memory_fraction, max_num_seqs=args.max_num_seqs,
                             max_num_batched_tokens=args.max_num_batched_tokens, cuda_graphs=not args.enforce_eager,
                             **profile_terms).tokens)


def loaded_ttft_s(catalog: Catalog, r: Benchmark) -> float | None:
    """Time to first token of a serving run at its stated load, the statistic the row reports (mean,
    median, p90, p99): closed loop at `concurrency` or open loop at `request_rate`
    (planner.estimate.queueing). None for a row that splits GPUs otherwise than tensor parallel."""
    if not _statistic_modelled(r):
        return None
    loaded = row_loaded_latency(catalog, r)
    if loaded is None or not loaded.stable:
        return None
    return {"median": loaded.ttft_p50_s, "p90": loaded.ttft_p90_s}.get(r.statistic or "mean", loaded.ttft_mean_s)


def predicted_unstable(catalog: Catalog, r: Benchmark) -> bool:
    """A latency row the estimator predicts at its load but finds unstable (the queue grows without bound):
    it gives no figure where the run measured one. leave_one_source_out counts it as a miss."""
    if r.metric not in {"ttft_s", "itl_s"} or not _statistic_modelled(r):
        return False
    loaded = row_loaded_latency(catalog, r)
    return loaded is not None and not loaded.stable


def _statistic_modelled(r: Benchmark) -> bool:
    """Whether the queue model gives the latency statistic a row reports: not a 99th percentile (a run's slowest
    few: warm-up, preemption, compilation), for inter-token latency not a 90th either (prefill stalls set it), and
    only at a stated load (NO_LOAD)."""
    return (r.statistic != "p99" and not (r.metric == "itl_s" and r.statistic == "p90")
            and (r.concurrency is not None or r.request_rate is not None))


def loaded_itl_s(catalog: Catalog, r: Benchmark) -> float | None:
    """Mean inter-token latency of a serving run at its load (its mean and median are the same figure here:
    a steady state's step time; a p90/p99 row is not predicted, prefill stalls set those)."""
    if not _statistic_modelled(r):
        return None
    loaded = row_loaded_latency(catalog, r)
    return loaded.itl_s if loaded is not None and loaded.stable else None


def row_loaded_latency(catalog: Catalog, r: Benchmark) -> LoadedLatency | None:
    """planner.estimate.queueing.loaded_latency for a row's configuration, settings and load. A run with both a
    request rate and a concurrency cap is an open loop while its requests in flight stay under the cap, else a
    closed loop at the cap: vLLM's serving benchmark holds the requests past `--max-concurrency` on a semaphore
    before its clock starts (vllm/benchmarks/serve.py, limited_request_func). A run of a stated number of requests at
    a rate past capacity is predicted as the finite run it was (queueing.overloaded_run)."""
    if r.parallel is not None or not r.input_tokens:
        return None
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    if r.gpus > 1 and not engine.tensor_parallel:
        return None
    args = r.args
    inp, out = max(r.input_tokens, 1), max(r.output_tokens or 1, 1)
    cap = running_cap(model, quant, gpu, engine, r.gpus, inp + out, row_kv_dtype(r), vllm_profile_terms(catalog), server_seqs(r, gpu))
    hint = min(r.concurrency or r.requests or 1, cap)
    terms = queue_terms(catalog, model, quant, gpu, engine, r.gpus, inp, out, cap, kv_cache_dtype=row_kv_dtype(r), batch_hint=hint)
    if args.max_num_batched_tokens:
        terms = dataclasses.replace(terms, token_budget=args.max_num_batched_tokens)
    if args.server is False:  # timed in-process: no API server's cost per request
        terms = dataclasses.replace(terms, request_overhead_s=0.0)
    if r.request_rate is not None and math.isinf(r.request_rate):  # every request at once: a closed loop of that many
        in_flight = clients(r) or 1
        return loaded_latency(terms, concurrency=in_flight, requests=r.requests or in_flight)
    if r.request_rate is not None:
        arriving = loaded_latency(terms, request_rate=r.request_rate)
        if r.concurrency and not (arriving.stable and arriving.concurrency <= r.concurrency):
            return loaded_latency(terms, concurrency=r.concurrency, requests=r.requests)  # the client's cap binds
        if not arriving.stable and r.requests:  # a finite run past capacity: it ends, with a backlog
            return overloaded_run(terms, r.request_rate, r.requests)
        return arriving
    return loaded_latency(terms, concurrency=r.concurrency or 1, requests=r.requests)


def clients(r: Benchmark) -> int | None:
    """Requests a closed-loop row keeps in flight: its concurrency, or, for a run that sent every request at
    once (request_rate inf), all of them (the engine then runs as many as it can hold, as a closed loop)."""
    if r.concurrency:
        return r.concurrency
    if r.request_rate is not None and math.isinf(r.request_rate):
        return r.requests
    return None


def running_batch(catalog: Catalog, r: Benchmark) -> int:
    """Sequences decoding together in a row's run: its clients, unless the KV cache holds fewer
    (then the rest wait their turn, as the engine's scheduler makes them)."""
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    cap = running_cap(model, quant, gpu, engine, r.gpus, (r.input_tokens or 0) + (r.output_tokens or 0), row_kv_dtype(r),
                      vllm_profile_terms(catalog), server_seqs(r, gpu))
    return max(1, min(clients(r) or 1, cap))


def server_seqs(r: Benchmark, gpu) -> int | None:
    """The sequence limit a benchmarked server ran with: its --max-num-seqs, else the engine's default (what vLLM's
    start-up profiling sizes its sampler run by; planner.estimate.kv_capacity.engine_memory_terms)."""
    return r.args.max_num_seqs or max_running_sequences(r.engine, gpu)


def row_kv_dtype(r: Benchmark) -> str:
    return r.kv_cache_dtype or "fp16"


def workload_stated(r: Benchmark) -> bool:
    return not_predicted_reason(r) is None


# Why an aggregate-throughput row is kept in data/benchmarks.csv but not predicted.
NO_WORKLOAD = "concurrency or request lengths not stated"
SHORT_OUTPUT = f"under {MIN_OUTPUT_TOKENS} output tokens a request (times the API server, not the GPU)"
VARIED_DRAIN = "all requests sent at once, lengths varied (lasts as long as the longest)"
OTHER_LAYOUT = "GPUs split otherwise than tensor parallel (data-parallel attention, expert parallel)"


NO_LOAD = "a latency without the load it was measured at (not stated, or a client that did not hold its concurrency)"
SLOWEST_FEW = "a 99th percentile of a run's latencies: its slowest few requests (warm-up, preemption, compilation)"
V0_START_UP = "vLLM V0 start-up (its profiling counted the CUDA context and graphs; V0 left vLLM in 0.11)"


def not_predicted_reason(r: Benchmark) -> str | None:
    """Why a row is kept but not predicted, or None when it is predicted.

    - A vLLM V0 start-up (V0_START_UP), a 99th-percentile latency (SLOWEST_FEW) and a latency whose load is not
      stated (NO_LOAD: a concurrency the client did not hold is left blank) are not predicted.
    For an aggregate figure:
    - Its concurrency and request lengths must be stated.
    - It needs enough output per request to time the GPU: a run of a few output tokens a request
      times the API server's own work per request (tokenising, scheduling, HTTP), which the estimator
      does not model (gpustack's 128-in/4-out runs: 5-33 ms a request, whatever the model's size).
    - It must not be a drain of varied lengths: when every request is sent at once and lengths vary
      (ShareGPT), the run lasts as long as its longest requests, at ever smaller batches at the end,
      and per-request means cannot tell how long that is. Varied lengths kept at a fixed concurrency
      over more requests than that are a steady state, which the means do describe.
    - Its GPUs must split the model the way the estimator does (tensor parallel): data-parallel
      attention or expert parallelism moves different bytes per GPU.
    """
    if r.metric == "kv_cache_tokens" and r.engine == "vllm" and r.args.vllm_use_v1 is False:
        return V0_START_UP
    if r.metric in {"ttft_s", "itl_s"} and r.statistic == "p99":
        return SLOWEST_FEW
    if r.metric in {"ttft_s", "itl_s"} and r.concurrency is None and r.request_rate is None:
        return NO_LOAD
    if r.metric not in AGGREGATE_METRICS:
        return None
    if not (clients(r) and r.output_tokens and r.input_tokens is not None):
        return NO_WORKLOAD
    if r.output_tokens < MIN_OUTPUT_TOKENS:
        return SHORT_OUTPUT
    if r.lengths == "varied" and (r.requests is None or r.requests <= clients(r)):
        return VARIED_DRAIN
    if r.parallel is not None:
        return OTHER_LAYOUT
    return None


def _total_memory_gib(model, quant, gpu, engine, r: Benchmark) -> float | None:
    """GPU memory in use: what the engine pre-allocates when it sizes a pool (vLLM, SGLang: that
    fraction of every GPU, when the row reports the whole pool), else weights + KV cache + overhead
    for the row's context and sequences (planner.estimate.memory)."""
    memory = estimate_memory(model, quant, gpu, engine, r.gpus, r.input_tokens or 1, r.concurrency or 1)
    if r.concurrency is None and engine.default_gpu_memory_utilization:
        return max(memory.capacity_gib * r.gpus, memory.total_gib)
    return memory.total_gib if r.input_tokens else None


def accuracy_bands(pairs: list[tuple[Benchmark, float]], as_of=None) -> list[AccuracyBand]:
    """Per metric, the 10th/50th/90th percentile of measured ÷ predicted: an 80% band for new estimates."""
    by_metric: dict[str, list[tuple[Benchmark, float]]] = defaultdict(list)
    for r, predicted in pairs:
        if r.metric in SPEED_METRICS and predicted > 0:
            by_metric[r.metric].append((r, predicted))
    out = []
    for metric, members in sorted(by_metric.items()):
        ratios = sorted(r.value / p for r, p in members)  # 0 where the estimator predicted an unstable queue
        errors = sorted(abs(p - r.value) / r.value * 100 for r, p in members)
        out.append(AccuracyBand(
            metric=metric, method="leave-one-source-out", n_rows=len(ratios),
            ratio_p10=round(_quantile(ratios, 0.1), 4), ratio_p50=round(_quantile(ratios, 0.5), 4), ratio_p90=round(_quantile(ratios, 0.9), 4),
            median_abs_error_pct=round(_quantile(errors, 0.5), 1), p90_abs_error_pct=round(_quantile(errors, 0.9), 1),
            source=f"bench/calibrate.py: leave-one-source-out predictions of {len(ratios)} rows of data/benchmarks.csv",
            as_of=as_of or max(r.as_of for r, _ in members)))
    return out


def _quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolated quantile of an ascending list."""
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    if pos == lo or ordered[hi] == ordered[lo]:  # no interpolation (and no inf - inf between two misses)
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
