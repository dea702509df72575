"""Every candidate deployment (model x quantization x engine x hardware), evaluated at once.

The grid is built from index arrays, and memory, speed, replicas and cost are computed with numpy
over all candidates in one pass, using the same formula functions as the single estimate
(`planner.memory`, `planner.speed`). The result is a table of arrays; `planner.rules` decides
what is excluded and `planner.recommend` ranks the rest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from planner.catalog import Catalog
from planner.constraints import Constraints
from planner.cost import CostAssumptions, owned_cost, rented_cost
from planner.memory import (
    GPUS_PER_NODE,
    KV_BYTES_PER_ELEMENT,
    attention_flops_per_token_layer,
    kv_bytes_per_token_layer,
    layer_split,
    model_weight_bytes,
    prefill_attention_flops_per_token,
    resolve_kv_dtype,
)
from planner.records import Engine, Gpu, ModelSpec, Quant
from planner.speed import (
    DEFAULT_MAX_CONCURRENCY,
    closed_loop_tokens_per_s,
    decode_bytes_per_step,
    decode_flops_per_token,
    efficiencies,
    max_running_sequences,
    prefill_flops_per_token,
    prefill_s,
    sustained_bandwidth,
    sustained_flops,
)
from planner.units import GIB

BATCH_GRID = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], dtype=float)
# (engine, weight format) pairs whose kernels need a minimum CUDA compute capability. TensorRT-LLM runs
# gpt-oss's MXFP4 on Hopper and Blackwell only: OpenAI's cookbook "Using NVIDIA TensorRT-LLM to run
# gpt-oss-20b" (2025-08-05) recommends Hopper, Blackwell, RTX PRO and RTX 50 GPUs, and gpustack's run of
# TensorRT-LLM v1.2.0rc0 on A100 stopped with "NotImplementedError: WFP4A16 MoE is unsupported on
# SM80" (github.com/gpustack/gpustack docs/performance-lab/gpt-oss-120b/a100.md). Device capabilities
# come from data/gpus.csv (developer.nvidia.com/cuda-gpus).
MIN_COMPUTE_CAPABILITY = {("tensorrt-llm", "mxfp4"): 9.0}
MAX_GPUS_PER_REPLICA = 16  # two nodes of 8: tensor parallel inside a node, pipeline stages across
MIN_GPU_LAYER_FRACTION = 0.5  # below this, CPU offload is too slow to recommend


@dataclass(frozen=True)
class Hardware:
    """A way to run one replica: a device and how many of them."""

    gpu: Gpu
    count: int
    usd_per_gpu_month: float
    price_basis: str
    owned_limit: int | None  # GPUs of this kind the user owns, None when renting


@dataclass
class Grid:
    """Candidates as parallel arrays (index arrays point into the lists below)."""

    models: list[ModelSpec]
    pairs: list[tuple[Quant, Engine]]
    hardware: list[Hardware]
    m: np.ndarray
    p: np.ndarray
    h: np.ndarray
    values: dict[str, np.ndarray]
    enumerated: int = 0
    twins: dict[str, list[str]] | None = None  # engine id -> engines with identical estimates
    dominated: dict[str, str] | None = None  # device id -> a device as cheap and at least as capable
    dominated_quants: dict[str, str] | None = None  # quant id -> a format no bigger that loses no more quality

    def __len__(self) -> int:
        return len(self.m)


def hardware_options(catalog: Catalog, c: Constraints, a: CostAssumptions) -> list[Hardware]:
    """The devices a replica may use: the user's own, or every device with a price to rent or buy."""
    options: list[Hardware] = []
    if c.gpus_available is not None:
        for owned in c.gpus_available:
            gpu = catalog.gpu(owned.gpu)
            one = owned_cost(catalog, gpu, 1, a)
            for count in _counts(gpu, owned.count):
                options.append(Hardware(gpu, count, one.usd_per_month, one.price_source, owned.count))
        return options
    buy = c.privacy in {"on-prem", "offline"}  # no cloud rental: price a purchase instead
    for gpu in catalog.gpus.values():
        if buy:
            one = owned_cost(catalog, gpu, 1, a) if catalog.purchase_price(gpu.id) else None
        else:
            one = rented_cost(catalog, gpu, 1, a)
        if one is None:
            continue
        for count in _counts(gpu, MAX_GPUS_PER_REPLICA):
            options.append(Hardware(gpu, count, one.usd_per_month, one.price_source, None))
    return options


def _counts(gpu: Gpu, limit: int) -> list[int]:
    if gpu.kind in {"apple", "cpu"}:
        return [1]
    sizes = (1, 2, 4, 8, 16) if gpu.kind == "datacenter" else (1, 2, 4, 8)
    counts = [n for n in sizes if n <= min(limit, MAX_GPUS_PER_REPLICA)]
    return counts or [1]


def quant_engine_pairs(catalog: Catalog) -> list[tuple[Quant, Engine]]:
    """Every (quantization, engine) the catalogue says works together."""
    pairs = []
    for engine in catalog.engines.values():
        for quant_id in engine.quants:
            quant = catalog.quants.get(quant_id)
            if quant is not None:
                pairs.append((quant, engine))
    return pairs


def dominated_quants(catalog: Catalog) -> dict[str, str]:
    """Formats another of the same kind beats outright: no more bits per weight, no greater measured
    quality loss, on every engine that runs them (e.g. IQ4_XS against Q4_0; BF16 against FP16)."""
    from planner.rules import quant_penalty  # rules imports the plan model; keep this module's imports light

    quants = list(catalog.quants.values())
    out: dict[str, str] = {}
    for b in quants:
        for a in quants:
            if a is b or a.id in out or a.format != b.format or a.compute_dtype != b.compute_dtype:
                continue
            pa, pb = quant_penalty(a, catalog.quants), quant_penalty(b, catalog.quants)
            if set(a.engines) >= set(b.engines) and a.bits_per_weight <= b.bits_per_weight and pa <= pb and (
                    a.bits_per_weight < b.bits_per_weight or pa < pb or a.id < b.id):
                out[b.id] = a.id
                break
    return out


def dominated_devices(options: list[Hardware]) -> dict[str, str]:
    """Devices some other option beats or matches on every count that matters, at no higher price.

    When renting or buying, a device that costs at least as much per GPU as another of the same
    kind (consumer, workstation, datacenter), with no more memory, bandwidth or compute (FP16, FP8, INT8), can never make a better plan,
    so it is left out (and the plan says which device stands in for it).
    """
    singles = {hw.gpu.id: hw for hw in options if hw.count == 1}
    out: dict[str, str] = {}
    for j, worse in singles.items():
        for i, better in singles.items():
            if i != j and _at_least_as_good(better, worse):
                out[j] = i
                break
    return out


def _at_least_as_good(a: Hardware, b: Hardware) -> bool:
    ga, gb = a.gpu, b.gpu
    # only like for like: a GeForce card is no stand-in for a datacenter part (ECC, drivers, support)
    if ga.kind != gb.kind or _hardware_class(ga) != _hardware_class(gb) or bool(ga.fp16_tflops_dense) != bool(gb.fp16_tflops_dense):
        return False
    specs = [(ga.memory_gib, gb.memory_gib), (ga.memory_bandwidth_gb_s, gb.memory_bandwidth_gb_s),
             (ga.fp16_tflops_dense or 0, gb.fp16_tflops_dense or 0), (ga.fp8_tflops_dense or 0, gb.fp8_tflops_dense or 0),
             (ga.int8_tops_dense or 0, gb.int8_tops_dense or 0), (-a.usd_per_gpu_month, -b.usd_per_gpu_month)]
    no_worse = all(x >= y for x, y in specs)
    strictly_better = any(x > y for x, y in specs)
    # ties on everything: keep the first listed, drop the other
    return no_worse and (strictly_better or ga.id < gb.id)


def engine_twins(catalog: Catalog, c: Constraints, hardware: list[Hardware], calibrations: list[dict] | None) -> dict[str, list[str]]:
    """Engines whose estimates are identical here (Ollama runs llama.cpp's kernels with the same
    fitted factors): each group is evaluated once, under its first engine, and the others are
    reported beside it."""
    families = {hw.gpu.family: hw.gpu for hw in hardware}
    groups: dict[tuple, list[str]] = {}
    for engine in catalog.engines.values():
        effs = tuple(_numbers(efficiencies(catalog, engine.id, gpu, calibrations)) for gpu in families.values())
        key = (effs, engine.overhead_gib, engine.default_gpu_memory_utilization, engine.tensor_parallel, engine.pipeline_parallel,
               engine.cpu_offload, tuple(max_running_sequences(engine.id, hw.gpu) for hw in hardware),
               resolve_kv_dtype(c.kv_cache_dtype, engine),
               tuple(sorted(engine.quants)), tuple(sorted({_hardware_class(hw.gpu) for hw in hardware} & set(engine.hardware))))
        groups.setdefault(key, []).append(engine.id)
    return {ids[0]: ids[1:] for ids in groups.values() if len(ids) > 1}


def _numbers(e) -> tuple[float, ...]:
    """Every fitted factor of an Efficiencies, without the words saying where each came from."""
    return tuple(getattr(e, f.name) for f in dataclasses.fields(e) if f.name != "basis")


def _model_pair_ok(models: list[ModelSpec], pairs: list[tuple[Quant, Engine]]) -> np.ndarray:
    """Formats that exist for a model in practice, over every (model, pair).

    gpt-oss is published in MXFP4 only (its model card), and MXFP4 checkpoints exist for nothing else
    in the catalogue. vLLM's GGUF support is documented as highly experimental, so GGUF is planned
    on llama.cpp and Ollama only.
    """
    native_mxfp4 = np.array([m.family.startswith("gpt-oss") for m in models], dtype=bool)
    is_mxfp4 = np.array([q.format == "mxfp4" for q, _ in pairs], dtype=bool)
    gguf_on_vllm = np.array([q.format == "gguf" and e.id == "vllm" for q, e in pairs], dtype=bool)
    return (native_mxfp4[:, None] == is_mxfp4[None, :]) & ~gguf_on_vllm[None, :]


def _hardware_class(gpu: Gpu) -> str:
    if gpu.kind in {"apple", "cpu"}:
        return gpu.kind
    return "amd" if gpu.vendor.lower().startswith("amd") else ("intel" if gpu.vendor.lower().startswith("intel") else "nvidia")


def build_grid(catalog: Catalog, c: Constraints, models: list[ModelSpec], a: CostAssumptions,
               calibrations: list[dict] | None = None) -> Grid:
    """Enumerate compatible candidates and evaluate memory, speed, replicas and cost for each."""
    hardware = hardware_options(catalog, c, a)
    dominated = dominated_devices(hardware) if c.gpus_available is None else {}
    hardware = [hw for hw in hardware if hw.gpu.id not in dominated]
    twins = engine_twins(catalog, c, hardware, calibrations)
    merged = {t for group in twins.values() for t in group}
    weaker_quants = dominated_quants(catalog)
    pairs = [(q, e) for q, e in quant_engine_pairs(catalog) if e.id not in merged and q.id not in weaker_quants]
    # Compatibility of (pair, hardware): engine runs on the device class and can span the GPU count;
    # FP8 weights need FP8 hardware. Built from small per-kind tables, then broadcast.
    classes = sorted({_hardware_class(hw.gpu) for hw in hardware})
    hw_class = np.array([classes.index(_hardware_class(hw.gpu)) for hw in hardware], dtype=int)
    runs_on = np.array([[cls in e.hardware for cls in classes] for _, e in pairs], dtype=bool).reshape(len(pairs), len(classes))
    multi = np.array([e.tensor_parallel or e.pipeline_parallel for _, e in pairs])
    needs_fp8 = np.array([q.compute_dtype == "fp8" for q, _ in pairs])
    single = np.array([hw.count == 1 for hw in hardware])
    multi_node = np.array([e.multi_node for _, e in pairs])
    one_node = np.array([hw.count <= GPUS_PER_NODE for hw in hardware])
    needs_cuda = np.array([q.format == "bitsandbytes" for q, _ in pairs])  # bitsandbytes kernels are CUDA
    nvidia = np.array([_hardware_class(hw.gpu) == "nvidia" for hw in hardware])
    has_fp8 = np.array([bool(hw.gpu.fp8_tflops_dense) for hw in hardware])
    min_cc = np.array([MIN_COMPUTE_CAPABILITY.get((e.id, q.format), 0.0) for q, e in pairs])
    device_cc = np.array([hw.gpu.compute_capability or 0.0 for hw in hardware])
    ok_ph = (runs_on[:, hw_class] & (single[None, :] | multi[:, None]) & (~needs_fp8[:, None] | has_fp8[None, :])
             & (one_node[None, :] | multi_node[:, None]) & (~needs_cuda[:, None] | nvidia[None, :])
             & ((min_cc[:, None] == 0) | (device_cc[None, :] >= min_cc[:, None])))
    ok_mp = _model_pair_ok(models, pairs)
    compatible = ok_mp[:, :, None] & ok_ph[None, :, :]  # (model, pair, hardware)
    multiplicity = np.array([1 + len(twins.get(e.id, [])) for _, e in pairs])
    empty = np.zeros(0, dtype=int)
    grid = Grid(models, pairs, hardware, empty, empty, empty, {},
                enumerated=int((compatible.sum(axis=(0, 2)) * multiplicity).sum()) if compatible.size else 0, twins=twins,
                dominated=dominated, dominated_quants=weaker_quants)
    if compatible.any():
        grid.values = _evaluate(catalog, c, grid, compatible, calibrations)
    return grid


def _evaluate(catalog: Catalog, c: Constraints, g: Grid, compatible: np.ndarray, calibrations: list[dict] | None) -> dict[str, np.ndarray]:
    M = _model_arrays(g.models, c)
    M["weights_total"], M["weights_active"] = _weight_bytes(g.models, g.pairs)  # (model, pair)
    P = _pair_arrays(g.pairs, c)
    H = _hardware_arrays(catalog, g, calibrations)
    _prune(g, M, P, H, c, compatible)
    # Quantities that depend on two of the three axes are tabulated first (small tables), so each row
    # costs one lookup per quantity instead of arithmetic on gathered columns.
    T = _tables(catalog, c, M, P, H)
    n_p, n_h = len(g.pairs), len(g.hardware)
    m, p, h = g.m, g.p, g.h
    mp, ph, mh = m * n_p + p, p * n_h + h, m * n_h + h
    take = lambda table, idx: np.take(table, idx)  # flat index into a small table  # noqa: E731

    weights_total, weights_active = take(T["weights_total"], mp), take(T["weights_active"], mp)
    kv_seq_full, kv_seq_read = take(T["kv_seq_full"], mp), take(T["kv_seq_read"], mp)
    count, capacity, overhead = H["count"][h], take(T["capacity"], ph), P["overhead"][p]
    shards = np.where(take(T["tp"], ph), take(T["shards_tp"], mh), count)
    # memory (as planner.memory.estimate_memory)
    batch_by_memory = np.floor(np.maximum((capacity - overhead - weights_total / count) * shards, 0) / kv_seq_full)
    gpu_fraction = np.clip(take(T["room_all"], ph) / (weights_total + kv_seq_full), 0, 1)
    offload = (batch_by_memory < 1) & take(T["may_offload"], ph) & (gpu_fraction >= MIN_GPU_LAYER_FRACTION)
    batch_by_memory = np.where(offload, 1, batch_by_memory)

    # A decode step of b sequences (planner.speed.DecodeStep) takes the longer of its GPU reads (the
    # weights once, then each sequence's KV cache, m0 + m1·b) and its compute (c1·b at the fitted share of
    # the sustained rate), plus the engine's fixed time and, for layers offloaded to the CPU, host-RAM
    # reads (h0 + h1·b). Both sides are linear in b, so the largest batch meeting the latency targets has
    # a closed form; a mixture of experts reads more experts as b grows, so for those rows the batch
    # sizes of BATCH_GRID are tried. A mixture of experts runs at the engine's fitted fraction of the
    # speed the other factors give: its reads, compute and prefill slow alike; the fixed time does not.
    moe_speed = np.where(M["moe"][m], take(T["eff_moe"], ph), 1.0)
    bw_eff, host = take(T["bw_eff"], ph) * moe_speed, take(T["host"], ph) * moe_speed
    f = np.where(offload, gpu_fraction, 1.0)
    step_overhead = take(T["step_overhead_s"], ph) * f  # the engine's fixed time per step (planner.speed.DecodeStep)
    kv_copies = np.where(take(T["tp"], ph), take(T["kv_copies_tp"], mh), 1.0)  # planner.memory.kv_read_copies
    m1 = kv_seq_read * kv_copies * f / bw_eff
    h1 = kv_seq_read * (1 - f) / host
    c1 = T["decode_flops"][m] * take(T["compute_s_per_flop"], ph) * f / moe_speed
    terms = _StepTerms(f, bw_eff, host, m1, h1, c1, step_overhead)

    def prefill_time(requests):  # one request's prefill with `requests` in flight sharing the weight read (planner.speed.prefill_s)
        seconds = prefill_s(c.input_tokens, T["flops_per_token"][m], take(T["flops"], ph), take(T["eff_prefill"], ph),
                            weights_total, take(T["bandwidth"], ph), take(T["eff_decode"], ph), requests) / moe_speed
        return np.where(offload, seconds / np.maximum(gpu_fraction, 1e-6), seconds)

    prefill = prefill_time(1)
    allowed = np.full(len(m), np.inf)  # the longest decode step the targets allow
    if c.min_tokens_per_s:
        allowed = np.minimum(allowed, 1.0 / c.min_tokens_per_s)
    if c.max_ttft_s:
        allowed = np.minimum(allowed, c.max_ttft_s - prefill)
    batch_cap = np.minimum(batch_by_memory, take(T["max_batch"], ph))
    batch = np.floor(np.minimum(terms.largest_batch(weights_active, allowed), batch_cap))
    moe = M["moe"][m]
    if moe.any():
        batch[moe] = _moe_batch(M, m[moe], weights_active[moe], weights_total[moe], terms.rows(moe), allowed[moe], batch_cap[moe])
    latency_ok = batch >= 1
    batch = np.maximum(batch, 1)
    read_b = weights_active.copy()  # weights read per step at the chosen batch
    read_b[moe] = decode_bytes_per_step(weights_active[moe], weights_total[moe], M["experts_total"][m[moe]],
                                        M["experts_active"][m[moe]], batch[moe])
    step_1 = terms.step(weights_active, 1.0)
    step_b = terms.step(read_b, batch)
    latency_at_batch = prefill + step_b * (1 + c.output_tokens)  # first token, then one step per output token
    requests_per_s_per_replica = replica_capacity_requests_per_s(batch, latency_at_batch, prefill, step_b, c.output_tokens,
                                                                 (c.max_ttft_s or np.inf) - step_b, prefill_time(batch))
    peak = c.requests_per_day / 86_400 * c.peak_to_average
    replicas = np.maximum(1, np.ceil(peak / requests_per_s_per_replica))
    in_flight = np.clip(np.ceil(peak / replicas * latency_at_batch), 1, batch)  # Little's law per replica
    total_gpus = replicas * count
    owned_limit = H["owned_limit"][h]
    return {
        "weights_gib": weights_total / GIB,
        "kv_gib": kv_seq_full * in_flight / GIB,
        "per_gpu_gib": (weights_total * np.where(offload, gpu_fraction, 1) / count + kv_seq_full * in_flight / shards + overhead) / GIB,
        "capacity_gib": capacity / GIB,
        "batch_by_memory": batch_by_memory,
        "fits": batch_by_memory >= 1,
        "offload": offload,
        "single_stream_ok": step_1 <= allowed,
        "latency_ok": latency_ok,
        "decode_tokens_per_s": 1.0 / step_1,
        "ttft_s": prefill + step_1,
        "batch": batch,
        "in_flight": in_flight,
        "replicas": replicas,
        "total_gpus": total_gpus,
        "usd_per_month": total_gpus * H["usd_per_gpu_month"][h],
        "owned_ok": np.where(owned_limit > 0, total_gpus <= owned_limit, True),
        "replica_tokens_per_month": requests_per_s_per_replica * (c.input_tokens + c.output_tokens) * 86_400 * 30.4375,
    }


def _tables(catalog: Catalog, c: Constraints, M, P, H) -> dict[str, np.ndarray]:
    """Per (model, pair), (pair, hardware) and (model, hardware) quantities, on small arrays."""
    kv_factor = P["kv_bytes"][None, :] / 2.0  # per-model KV figures are at 2 bytes per element
    ctx, avg_ctx = float(c.context_needed), c.input_tokens + c.output_tokens / 2
    held = lambda tokens: M["full_layers"] * tokens + M["window_layers"] * np.minimum(tokens, M["window"])  # noqa: E731
    count = H["count"][None, :]
    tp = P["tensor_parallel"][:, None] & (count > 1)
    tp_size = np.minimum(count, GPUS_PER_NODE)  # as in planner.memory.kv_shards and planner.speed.tensor_parallel_scale
    eff_index = P["engine_index"][:, None] * len(H["families"]) + H["family_index"][None, :]
    eff = {k: H["eff"][k].ravel()[eff_index] for k in H["eff"]}
    scale = np.where(tp, tp_size * eff["tensor_parallel"] ** np.log2(np.maximum(tp_size, 1)), 1.0)
    flops = np.where(P["fp8"][:, None], H["flops_fp8"][None, :],
                     np.where(P["int8"][:, None], H["flops_int8"][None, :], H["flops_fp16"][None, :])) * scale
    decode_flops = np.where(H["published_peak"][None, :], flops, np.inf)  # as in planner.speed.estimate_speed
    bandwidth = H["bandwidth"][None, :] * scale
    capacity = H["memory"][None, :] * P["mem_util"][:, None]
    return {
        "weights_total": M["weights_total"],
        "weights_active": M["weights_active"],
        "kv_seq_full": M["kv_token_layer"][:, None] * kv_factor * held(ctx)[:, None],
        "kv_seq_read": M["kv_token_layer"][:, None] * kv_factor * held(avg_ctx)[:, None],
        "flops_per_token": prefill_flops_per_token(M["params_active"], M["prefill_attention"]),
        "decode_flops": decode_flops_per_token(M["params_active"], M["attention_flops"], held(avg_ctx)),
        "tp": tp,
        "shards_tp": np.maximum(1, np.minimum(tp_size, M["kv_heads_eff"][:, None])) * np.maximum(1, count // tp_size),
        "kv_copies_tp": tp_size / np.maximum(1, np.minimum(tp_size, M["kv_heads_eff"][:, None])),
        "capacity": capacity,
        "room_all": (capacity - P["overhead"][:, None]) * count,
        "may_offload": P["cpu_offload"][:, None] & (count == 1),
        "bandwidth": bandwidth,
        "flops": flops,
        "max_batch": H["max_seqs"][P["engine_index"], :],  # (pair, hardware): the engine's cap on that device
        "eff_decode": eff["decode_bandwidth"],
        "step_overhead_s": eff["decode_overhead_s"],
        "eff_prefill": np.where(H["published_peak"][None, :], eff["prefill_compute"], 1.0),  # effective TFLOPS are measured
        "bw_eff": bandwidth * eff["decode_bandwidth"],
        "host": catalog.assumption("host_ram_bandwidth_gb_s") * 1e9 * eff["decode_bandwidth"],
        "compute_s_per_flop": 1 / (decode_flops * eff["batch_compute"]),
        "eff_moe": eff["moe_kernels"],
    }


MAX_BUSY = 0.85  # a replica planned busier than this queues without bound at the peak (M/D/1)


def replica_capacity_requests_per_s(batch, latency_s, prefill_s, step_s, output_tokens, ttft_budget_s, prefill_share_s):
    """Requests/s one replica sustains at the peak: the least of three limits.

    Little's law: `batch` requests in flight, each taking `latency_s`. GPU time: every request
    costs its prefill plus its share of the batched decode steps, and the replica stays under
    MAX_BUSY. Queueing: prefills queue (M/D/1 mean wait rho/(2(1-rho)) x prefill), so the load is
    capped where that wait would push time to first token past its budget.
    """
    # GPU time: each prefill (its share, the batch's prompts reading the weights once) + its share of the steps
    gpu_seconds = output_tokens / closed_loop_tokens_per_s(batch, output_tokens, prefill_share_s, step_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.maximum(ttft_budget_s - prefill_s, 0) / prefill_s  # allowed wait in units of prefill
        rho_ttft = np.where(np.isfinite(k), 2 * k / (1 + 2 * k), 1.0)
    return np.minimum(np.minimum(batch / latency_s, MAX_BUSY / gpu_seconds), np.maximum(rho_ttft, 1e-3) / prefill_s)


@dataclass(frozen=True)
class _StepTerms:
    """Per-row terms of a decode step (planner.speed.DecodeStep, with CPU-offloaded layers):
    max(read·f/bw_eff + m1·b, c1·b) + fixed + read·(1-f)/host + h1·b for `read` weight bytes and b sequences."""

    f: np.ndarray
    bw_eff: np.ndarray
    host: np.ndarray
    m1: np.ndarray
    h1: np.ndarray
    c1: np.ndarray
    fixed: np.ndarray

    def step(self, read, batch):
        gpu_reads = read * self.f / self.bw_eff + self.m1 * batch
        return np.maximum(gpu_reads, self.c1 * batch) + self.fixed + read * (1 - self.f) / self.host + self.h1 * batch

    def largest_batch(self, read, allowed):
        """The largest (real) b whose step meets `allowed`: both sides of the max must."""
        host0 = read * (1 - self.f) / self.host
        with np.errstate(divide="ignore", invalid="ignore"):
            by_reads = np.where(self.m1 + self.h1 > 0, (allowed - self.fixed - host0 - read * self.f / self.bw_eff) / (self.m1 + self.h1), np.inf)
            by_compute = np.where(self.c1 + self.h1 > 0, (allowed - self.fixed - host0) / (self.c1 + self.h1), np.inf)
        return np.minimum(by_reads, by_compute)

    def rows(self, mask) -> _StepTerms:
        return _StepTerms(*(getattr(self, field.name)[mask] for field in dataclasses.fields(self)))


def _moe_batch(M, m, weights_active, weights_total, terms: _StepTerms, allowed, cap):
    """Largest batch from BATCH_GRID whose step meets `allowed`, for mixture-of-experts rows."""
    read = decode_bytes_per_step(weights_active[:, None], weights_total[:, None], M["experts_total"][m][:, None],
                                 M["experts_active"][m][:, None], BATCH_GRID[None, :])  # (rows, batch sizes)
    column = _StepTerms(*(getattr(terms, field.name)[:, None] for field in dataclasses.fields(terms)))
    step = column.step(read, BATCH_GRID[None, :])
    ok = (step <= allowed[:, None]) & (BATCH_GRID <= cap[:, None])
    # usable sizes form a prefix (a bigger batch never steps faster): take the last usable one
    last = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    return np.where(ok.any(axis=1), BATCH_GRID[last], 0.0)


def _prune(g: Grid, M, P, H, c: Constraints, compatible: np.ndarray) -> None:
    """Choose the rows worth a speed pass (sets g.m, g.p, g.h).

    Memory is evaluated over the whole (model, pair, hardware) cube by broadcasting. For each
    (model, pair, device) keep the GPU counts that fit up to twice the smallest that does (more GPUs
    only add cost); where no count fits, keep the largest, to explain why.
    """
    shape = compatible.shape
    m3, p3, h3 = np.arange(shape[0])[:, None, None], np.arange(shape[1])[None, :, None], np.arange(shape[2])[None, None, :]
    count = H["count"].astype(np.uint8)[None, None, :]  # counts are at most 16: byte cubes reduce fast
    works = compatible & _fits(M, P, H, m3, p3, h3, c)
    # hardware options come grouped by device (hardware_options lists each device's counts together)
    device_ids = [x.gpu.id for x in g.hardware]
    starts = np.array([i for i, d in enumerate(device_ids) if i == 0 or device_ids[i - 1] != d])
    device = np.cumsum([i in set(starts.tolist()) for i in range(len(device_ids))]) - 1
    none = np.uint8(255)
    smallest = np.minimum.reduceat(np.where(works, count, none), starts, axis=2)[:, :, device]
    largest = np.maximum.reduceat(np.where(compatible, count, np.uint8(0)), starts, axis=2)[:, :, device]
    no_fit = smallest == none
    keep = compatible & np.where(no_fit, count == largest, works & (count.astype(np.uint16) <= 2 * smallest.astype(np.uint16)))
    g.m, g.p, g.h = np.nonzero(keep)


def _fits(M, P, H, m, p, h, c: Constraints) -> np.ndarray:
    """Whether one sequence fits (or can offload), over the cube: the memory test of _evaluate, in
    float32 and with a 1e-5 margin so it never keeps what the float64 pass would refuse."""
    f32 = np.float32
    count = H["count"][h].astype(f32)
    weights_total = M["weights_total"][m, p].astype(f32)
    ctx = float(c.context_needed)
    kv_seq_full = (M["kv_token_layer"][m] * (P["kv_bytes"][p] / 2.0)
                   * (M["full_layers"][m] * ctx + M["window_layers"][m] * np.minimum(ctx, M["window"][m]))).astype(f32)
    tp_size = np.minimum(count, GPUS_PER_NODE)
    shards_tp = (np.maximum(1, np.minimum(tp_size, M["kv_heads_eff"][m])) * np.maximum(1, count // tp_size)).astype(f32)
    room = (H["memory"][h] * P["mem_util"][p] - P["overhead"][p]).astype(f32)
    room_all = room * count  # (pair, hardware)
    need = kv_seq_full * f32(1 + 1e-5)
    # without tensor parallelism the KV cache splits as the weights do: room·count >= weights + KV
    fits_split = room_all >= weights_total + need
    fits_tp = (room - weights_total / count) * shards_tp >= need
    fits = np.where(P["tensor_parallel"][p] & (count > 1), fits_tp, fits_split)
    offload = P["cpu_offload"][p] & (count == 1) & (room_all >= f32(MIN_GPU_LAYER_FRACTION) * (weights_total + kv_seq_full))
    return fits | offload


def _model_arrays(models: list[ModelSpec], c: Constraints) -> dict[str, np.ndarray]:
    cols: dict[str, list] = {k: [] for k in ("params_active", "kv_token_layer", "full_layers", "window_layers",
                                             "window", "kv_heads_eff", "experts_total", "experts_active", "layers", "heads", "head_dim",
                                             "attention_flops", "prefill_attention")}
    for model in models:
        full, windowed, window = layer_split(model)
        cols["params_active"].append(model.params_active_b * 1e9)
        cols["kv_token_layer"].append(kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT["fp16"]))
        cols["full_layers"].append(full)
        cols["window_layers"].append(windowed)
        cols["window"].append(window)
        cols["kv_heads_eff"].append(1 if model.uses_latent_attention else model.kv_heads)
        cols["experts_total"].append(model.experts_total or 1)
        cols["experts_active"].append(model.experts_active or 1)
        cols["layers"].append(model.layers)
        cols["heads"].append(model.attention_heads)
        cols["head_dim"].append(model.head_dim)
        cols["attention_flops"].append(attention_flops_per_token_layer(model))
        cols["prefill_attention"].append(prefill_attention_flops_per_token(model, c.input_tokens))
    arrays = {k: np.asarray(v, dtype=float) for k, v in cols.items()}
    arrays["moe"] = arrays["experts_total"] > arrays["experts_active"]
    return arrays


def _weight_bytes(models: list[ModelSpec], pairs: list[tuple[Quant, Engine]]) -> tuple[np.ndarray, np.ndarray]:
    """(all weights, weights one token reads) in bytes for every (model, pair), as
    planner.memory.model_weight_bytes: every weight at the format's bits, computed per model only for
    formats that store a mixture's experts and its other weights apart."""
    bits = np.array([q.bits_per_weight for q, _ in pairs]) / 8
    total = np.array([m.params_total_b * 1e9 for m in models])[:, None] * bits[None, :]
    active = np.array([m.params_active_b * 1e9 for m in models])[:, None] * bits[None, :]
    for j, (q, e) in enumerate(pairs):
        if q.other_bits_per_weight is not None or q.gguf_other_bits_per_weight is not None:
            for i, model in enumerate(models):
                total[i, j], active[i, j] = model_weight_bytes(model, q, e.id)
    return total, active


def _pair_arrays(pairs: list[tuple[Quant, Engine]], c: Constraints) -> dict[str, np.ndarray]:
    engine_ids = sorted({e.id for _, e in pairs})
    return {
        "kv_bytes": np.array([KV_BYTES_PER_ELEMENT[resolve_kv_dtype(c.kv_cache_dtype, e)] for _, e in pairs]),
        "overhead": np.array([e.overhead_gib * GIB for _, e in pairs]),
        "mem_util": np.array([e.default_gpu_memory_utilization or 1.0 for _, e in pairs]),
        "tensor_parallel": np.array([e.tensor_parallel for _, e in pairs]),
        "cpu_offload": np.array([e.cpu_offload for _, e in pairs]),
        "fp8": np.array([q.compute_dtype == "fp8" for q, _ in pairs]),
        "int8": np.array([q.compute_dtype == "int8" for q, _ in pairs]),
        "engine_index": np.array([engine_ids.index(e.id) for _, e in pairs]),
        "engine_ids": np.array(engine_ids),
    }


def _hardware_arrays(catalog: Catalog, g: Grid, calibrations: list[dict] | None) -> dict:
    hw = g.hardware
    families = sorted({x.gpu.family for x in hw})
    engine_ids = sorted({e.id for _, e in g.pairs})
    # Efficiency factors per (engine, hardware family); a calibration is per GPU, so it is
    # applied per family only when every device of that family in play is the calibrated one.
    eff = {k: np.zeros((len(engine_ids), len(families)))
           for k in ("decode_bandwidth", "decode_overhead_s", "prefill_compute", "batch_compute", "tensor_parallel", "moe_kernels")}
    # one device per family stands for it; prefer one with a published peak (see planner.speed.efficiencies)
    representative = {x.gpu.family: x.gpu for x in sorted(hw, key=lambda x: bool(x.gpu.fp16_tflops_dense))}
    for i, engine_id in enumerate(engine_ids):
        for j, family in enumerate(families):
            e = efficiencies(catalog, engine_id, representative[family], calibrations if _one_gpu(hw, family) else None)
            eff["decode_bandwidth"][i, j] = e.decode
            eff["decode_overhead_s"][i, j] = e.decode_overhead_s
            eff["prefill_compute"][i, j] = e.prefill
            eff["batch_compute"][i, j] = e.batch
            eff["tensor_parallel"][i, j] = e.tensor_parallel
            eff["moe_kernels"][i, j] = e.moe
    max_seqs = np.array([[max_running_sequences(engine_id, x.gpu) or DEFAULT_MAX_CONCURRENCY for x in hw] for engine_id in engine_ids],
                        dtype=float)
    return {
        "max_seqs": max_seqs,
        "count": np.array([x.count for x in hw], dtype=float),
        "memory": np.array([x.gpu.memory_gib * GIB for x in hw]),
        "bandwidth": np.array([sustained_bandwidth(x.gpu, catalog) for x in hw]),
        # the rates estimates compute at per precision (planner.speed.sustained_flops: a device without
        # an 8-bit figure runs that precision at its FP16 one)
        "flops_fp16": np.array([sustained_flops(x.gpu, "fp16", catalog) for x in hw]),
        "flops_fp8": np.array([sustained_flops(x.gpu, "fp8", catalog) for x in hw]),
        "flops_int8": np.array([sustained_flops(x.gpu, "int8", catalog) for x in hw]),
        "published_peak": np.array([bool(x.gpu.fp16_tflops_dense) for x in hw]),
        "usd_per_gpu_month": np.array([x.usd_per_gpu_month for x in hw]),
        "owned_limit": np.array([x.owned_limit or 0 for x in hw], dtype=float),
        "family_index": np.array([families.index(x.gpu.family) for x in hw]),
        "families": families,
        "eff": eff,
    }


def _one_gpu(hw: list[Hardware], family: str) -> bool:
    return len({x.gpu.id for x in hw if x.gpu.family == family}) == 1

