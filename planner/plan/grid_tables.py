"""The candidate grid's inputs as arrays: per model, per (format, engine) pair and per hardware option,
then the small two-axis tables (model x pair, pair x hardware, model x hardware) each row looks up, and
the memory pass over the whole cube that prunes what is not worth a speed pass. The formulas are
planner.estimate's own (tests/test_speed.py holds the grid equal to the scalar estimator)."""

from __future__ import annotations

import numpy as np

from planner.catalog.loading import Catalog
from planner.catalog.records import Engine, ModelSpec, Quant
from planner.estimate.load import Workload
from planner.estimate.memory import (
    GGUF_ENGINES,
    KV_BYTES_PER_ELEMENT,
    attention_flops_per_token_layer,
    held_tokens,
    kv_bytes_per_token_layer,
    layer_split,
    model_weight_bytes,
    prefill_attention_flops_per_token,
    resolve_kv_dtype,
    state_token_layers,
)
from planner.estimate.kv_capacity import (
    NON_TORCH_GIB,
    SAMPLER_LOGITS_COPIES,
    mlp_gate_up_width,
    visible_memory_gib,
    vllm_profile_terms,
    vllm_profiled_parts,
    vllm_window,
)
from planner.estimate.speed import (
    DEFAULT_MAX_CONCURRENCY,
    decode_flops_per_token,
    efficiencies,
    max_running_sequences,
    prefill_flops_per_token,
    token_budget_per_step,
    sustained_bandwidth,
    sustained_flops,
)
from planner.plan.grid_machines import bought_in, host_ram_bytes_per_gpu
from planner.plan.grid_options import Grid, Hardware
from planner.units import GIB

MIN_GPU_LAYER_FRACTION = 0.5  # below this, CPU offload is too slow to recommend


def tables(catalog: Catalog, w: Workload, M, P, H) -> dict[str, np.ndarray]:
    """Per (model, pair), (pair, hardware) and (model, hardware) quantities, on small arrays."""
    kv_factor = P["kv_bytes"][None, :] / 2.0  # per-model KV figures are at 2 bytes per element
    # a reasoning model's hidden tokens sit in its context while it answers (per model: 0 for the others)
    ctx, avg_ctx = w.context_needed + M["reasoning"], w.input_tokens + (w.output_tokens + M["reasoning"]) / 2
    held = lambda tokens: held_tokens(M["full_layers"], M["window_layers"], M["window"], tokens, M["state_layers"])  # noqa: E731
    count = H["count"][None, :]
    tp = P["tensor_parallel"][:, None] & (count > 1)
    tp_size = np.minimum(count, H["domain"][None, :])  # as in planner.estimate.memory.kv_shards and planner.estimate.speed.tensor_parallel_scale
    eff_index = P["engine_index"][:, None] * len(H["families"]) + H["family_index"][None, :]
    eff = {k: H["eff"][k].ravel()[eff_index] for k in H["eff"]}
    scale = np.where(tp, tp_size * eff["tensor_parallel"] ** np.log2(np.maximum(tp_size, 1)), 1.0)
    flops = np.where(P["fp8"][:, None], H["flops_fp8"][None, :],
                     np.where(P["int8"][:, None], H["flops_int8"][None, :], H["flops_fp16"][None, :])) * scale
    decode_flops = np.where(H["published_peak"][None, :], flops, np.inf)  # as in planner.estimate.speed.estimate_speed
    bandwidth = H["bandwidth"][None, :] * scale
    capacity = np.where(P["vllm"][:, None], H["visible"][None, :], H["memory"][None, :]) * P["mem_util"][:, None]
    return {
        **dict(zip(("vllm_forward", "vllm_sampler", "vllm_non_torch"), vllm_profile_tables(M, H), strict=True)),
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
        "room_all": (capacity - P["overhead"][:, None]) * count,  # offload (engines without profiling: the overhead is fixed)
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


def prune(g: Grid, M, P, H, w: Workload, compatible: np.ndarray) -> None:
    """Choose the rows worth a speed pass (sets g.m, g.p, g.h).

    Memory is evaluated over the whole (model, pair, hardware) cube by broadcasting. For each
    (model, pair, device) keep the GPU counts that fit up to twice the smallest that does (more GPUs
    only add cost); where no count fits, keep the largest, to explain why.
    """
    shape = compatible.shape
    m3, p3, h3 = np.arange(shape[0])[:, None, None], np.arange(shape[1])[None, :, None], np.arange(shape[2])[None, None, :]
    count = H["count"].astype(np.uint8)[None, None, :]  # counts are at most 16: byte cubes reduce fast
    works = compatible & _fits(M, P, H, m3, p3, h3, w)
    # hardware options come grouped by device (hardware_options lists each device's counts together)
    device_ids = [x.gpu.id for x in g.hardware]
    starts = np.array([i for i, d in enumerate(device_ids) if i == 0 or device_ids[i - 1] != d])
    is_start = np.zeros(len(device_ids), dtype=bool)
    is_start[starts] = True
    device = np.cumsum(is_start) - 1
    none = np.uint8(255)
    smallest = np.minimum.reduceat(np.where(works, count, none), starts, axis=2)[:, :, device]
    largest = np.maximum.reduceat(np.where(compatible, count, np.uint8(0)), starts, axis=2)[:, :, device]
    no_fit = smallest == none
    keep = compatible & np.where(no_fit, count == largest, works & (count.astype(np.uint16) <= 2 * smallest.astype(np.uint16)))
    g.m, g.p, g.h = np.nonzero(keep)


def vllm_profile_tables(M, H) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(model, hardware) tables of what vLLM's start-up profiling takes from each GPU's KV cache: the forward pass, the
    sampler per sequence of --max-num-seqs, the non-torch memory (planner.estimate.kv_capacity.vllm_profiled_parts,
    with the catalogue's fitted terms), tensor parallel over the option's GPUs as vLLM runs them."""
    tp_size = np.minimum(H["count"], H["domain"])[None, :]
    terms = H["vllm_terms"]
    forward, sampler, non_torch = vllm_profiled_parts(M["mlp_width"][:, None], M["hidden"][:, None], M["vocab"][:, None], tp_size,
                                                      H["vllm_budget"][None, :], terms.get("sampler_copies", SAMPLER_LOGITS_COPIES),
                                                      terms.get("non_torch_gib", NON_TORCH_GIB))
    shape = np.broadcast(forward, sampler, non_torch).shape
    return tuple(np.broadcast_to(x, shape) for x in (forward, sampler, non_torch))


def engine_kv_per_sequence(M, P, H, m, p, h, w: Workload, kv_seq_full):
    """Bytes of KV cache one sequence takes as its engine counts it: `kv_seq_full` (the memory module's), except that
    vLLM holds window - 1 + its token budget in a sliding-window layer (planner.estimate.kv_capacity.vllm_window), as
    sequences_that_fit counts it."""
    vllm = P["vllm"][p]
    sliding = np.isfinite(M["window"][m])
    if not (vllm & sliding).any():
        return kv_seq_full
    ctx = w.context_needed + M["reasoning"][m]
    dtype = np.asarray(kv_seq_full).dtype  # the small factors in the caller's precision before they broadcast to its rows
    held = held_tokens(M["full_layers"][m], M["window_layers"][m], vllm_window(M["window"][m], H["vllm_budget"][h]), ctx, M["state_layers"][m])
    per_model = (M["kv_token_layer"][m] * held).astype(dtype)
    return np.where(vllm & sliding, per_model * (P["kv_bytes"][p] / 2.0).astype(dtype), kv_seq_full)


def _fits(M, P, H, m, p, h, w: Workload) -> np.ndarray:
    """Whether one sequence fits (or can offload), over the cube: the memory test of _evaluate, in
    float32 and with a 1e-5 margin so it never keeps what the float64 pass would refuse. vLLM's pairs are tested
    apart, with the capacity, profiled overhead and per-sequence cache its own accounting gives (engine_memory_terms)."""
    f32 = np.float32
    count = H["count"][h].astype(f32)
    weights_total = M["weights_total"][m, p].astype(f32)
    ctx = w.context_needed + M["reasoning"][m]
    kv_seq_full = (M["kv_token_layer"][m] * (P["kv_bytes"][p] / 2.0)
                   * held_tokens(M["full_layers"][m], M["window_layers"][m], M["window"][m], ctx, M["state_layers"][m])).astype(f32)
    tp_size = np.minimum(count, H["domain"][h].astype(f32))
    shards_tp = (np.maximum(1, np.minimum(tp_size, M["kv_heads_eff"][m])) * np.maximum(1, count // tp_size)).astype(f32)

    def test(room, weights, kv, need, pairs):
        room_all = room * count  # without tensor parallelism the KV cache splits as the weights do: room·count >= weights + KV
        fits = np.where(P["tensor_parallel"][pairs] & (count > 1), (room - weights / count) * shards_tp >= need, room_all >= weights + need)
        offload = P["cpu_offload"][pairs] & (count == 1) & (room_all >= f32(MIN_GPU_LAYER_FRACTION) * (weights + kv))
        return fits | offload

    fits = np.empty(np.broadcast(weights_total, count).shape, dtype=bool)
    others, vllm = np.flatnonzero(~P["vllm"]), np.flatnonzero(P["vllm"])
    if len(others):
        po = others[None, :, None]
        room = (H["memory"][h] * P["mem_util"][po] - P["overhead"][po]).astype(f32)  # (pair, hardware)
        kv = kv_seq_full[:, others]
        fits[:, others] = test(room, weights_total[:, others], kv, kv * f32(1 + 1e-5), po)
    if len(vllm):
        pv = vllm[None, :, None]
        kv = kv_seq_full[:, vllm]
        forward, sampler, non_torch = (x[m, h] for x in vllm_profile_tables(M, H))  # one sequence: --max-num-seqs 1
        room_v = (H["visible"][h] * P["mem_util"][pv] - non_torch - np.maximum(forward, sampler)).astype(f32)
        need = engine_kv_per_sequence(M, P, H, m, pv, h, w, kv) * f32(1 + 1e-5)
        fits[:, vllm] = test(room_v, weights_total[:, vllm], kv, need, pv)
    return fits


def model_arrays(models: list[ModelSpec], w: Workload, reasoning_tokens: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    cols: dict[str, list] = {k: [] for k in ("params_active", "kv_token_layer", "full_layers", "window_layers",
                                             "window", "state_layers", "kv_heads_eff", "experts_total", "experts_active", "layers", "heads", "head_dim",
                                             "attention_flops", "prefill_attention", "mlp_width", "hidden", "vocab")}
    for model in models:
        full, windowed, window = layer_split(model)
        cols["params_active"].append(model.params_active_b * 1e9)
        cols["kv_token_layer"].append(kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT["fp16"]))
        cols["full_layers"].append(full)
        cols["window_layers"].append(windowed)
        cols["window"].append(window)
        cols["state_layers"].append(state_token_layers(model))
        cols["kv_heads_eff"].append(1 if model.uses_latent_attention else model.kv_heads)
        cols["experts_total"].append(model.experts_total or 1)
        cols["experts_active"].append(model.experts_active or 1)
        cols["layers"].append(model.layers)
        cols["heads"].append(model.attention_heads)
        cols["head_dim"].append(model.head_dim)
        cols["attention_flops"].append(attention_flops_per_token_layer(model))
        cols["prefill_attention"].append(prefill_attention_flops_per_token(model, w.input_tokens))
        cols["mlp_width"].append(mlp_gate_up_width(model))
        cols["hidden"].append(model.hidden_size)
        cols["vocab"].append(model.vocab_size)
    arrays = {k: np.asarray(v, dtype=float) for k, v in cols.items()}
    arrays["moe"] = arrays["experts_total"] > arrays["experts_active"]
    arrays["reasoning"] = np.array([float((reasoning_tokens or {}).get(m.id, 0)) for m in models])
    return arrays


def weight_bytes(models: list[ModelSpec], pairs: list[tuple[Quant, Engine]]) -> tuple[np.ndarray, np.ndarray]:
    """(all weights, weights one token reads) in bytes for every (model, pair), as
    planner.estimate.memory.model_weight_bytes: every weight at the format's bits, computed per model only for
    formats that store a mixture's experts and its other weights apart."""
    bits = np.array([q.bits_per_weight for q, _ in pairs]) / 8
    total = np.array([m.params_total_b * 1e9 for m in models])[:, None] * bits[None, :]
    active = np.array([m.params_active_b * 1e9 for m in models])[:, None] * bits[None, :]
    for j, (q, e) in enumerate(pairs):
        if q.other_bits_per_weight is not None or q.gguf_other_bits_per_weight is not None:
            for i, model in enumerate(models):
                total[i, j], active[i, j] = model_weight_bytes(model, q, e.id)
    return total, active


def pair_arrays(pairs: list[tuple[Quant, Engine]], w: Workload) -> dict[str, np.ndarray]:
    engine_ids = sorted({e.id for _, e in pairs})
    return {
        "kv_bytes": np.array([KV_BYTES_PER_ELEMENT[resolve_kv_dtype(w.kv_cache_dtype, e)] for _, e in pairs]),
        "overhead": np.array([e.overhead_gib * GIB for _, e in pairs]),
        "mem_util": np.array([e.default_gpu_memory_utilization or 1.0 for _, e in pairs]),
        "vllm": np.array([e.id == "vllm" for _, e in pairs]),  # sizes its KV cache by its start-up profiling (engine_memory_terms)
        "tensor_parallel": np.array([e.tensor_parallel for _, e in pairs]),
        "gguf_engine": np.array([e.id in GGUF_ENGINES for _, e in pairs]),
        "cpu_offload": np.array([e.cpu_offload for _, e in pairs]),
        "fp8": np.array([q.compute_dtype == "fp8" for q, _ in pairs]),
        "int8": np.array([q.compute_dtype == "int8" for q, _ in pairs]),
        "engine_index": np.array([engine_ids.index(e.id) for _, e in pairs]),
        "engine_ids": np.array(engine_ids),
    }


def hardware_arrays(catalog: Catalog, g: Grid, calibrations: list[dict] | None) -> dict:
    hw = g.hardware
    families = sorted({x.gpu.family for x in hw})
    engine_ids = sorted({e.id for _, e in g.pairs})
    # Efficiency factors per (engine, hardware family); a calibration is per GPU, so it is
    # applied per family only when every device of that family in play is the calibrated one.
    eff = {k: np.zeros((len(engine_ids), len(families)))
           for k in ("decode_bandwidth", "decode_overhead_s", "prefill_compute", "batch_compute", "tensor_parallel", "moe_kernels")}
    # one device per family stands for it; prefer one with a published peak (see planner.estimate.speed.efficiencies)
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
        "domain": np.array([x.gpu.scale_up_gpus for x in hw], dtype=float),
        # accelerators a serving engine (vLLM, SGLang, TGI, TensorRT-LLM) runs on, as opposed to Apple, CPUs and edge parts
        "serving_engine_runs": np.array([x.gpu.kind in {"consumer", "workstation", "datacenter"} for x in hw]),
        "memory": np.array([x.gpu.memory_gib * GIB for x in hw]),
        "visible": np.array([visible_memory_gib(x.gpu) * GIB for x in hw]),  # what CUDA reports, as engines size from it
        "vllm_budget": np.array([token_budget_per_step("vllm", x.gpu) for x in hw], dtype=float),
        "vllm_seqs": np.array([max_running_sequences("vllm", x.gpu) or DEFAULT_MAX_CONCURRENCY for x in hw], dtype=float),
        "vllm_terms": vllm_profile_terms(catalog),
        "bandwidth": np.array([sustained_bandwidth(x.gpu, catalog) for x in hw]),
        # the rates estimates compute at per precision (planner.estimate.speed.sustained_flops: a device without
        # an 8-bit figure runs that precision at its FP16 one)
        "flops_fp16": np.array([sustained_flops(x.gpu, "fp16", catalog) for x in hw]),
        "flops_fp8": np.array([sustained_flops(x.gpu, "fp8", catalog) for x in hw]),
        "flops_int8": np.array([sustained_flops(x.gpu, "int8", catalog) for x in hw]),
        "published_peak": np.array([bool(x.gpu.fp16_tflops_dense) for x in hw]),
        "usd_per_gpu_month": np.array([x.usd_per_gpu_month for x in hw]),
        "usd_per_gpu_month_high": np.array([x.usd_per_gpu_month_high or x.usd_per_gpu_month for x in hw]),
        "host_ram": np.array([host_ram_bytes_per_gpu(x.gpu) * x.count for x in hw]),  # room for offloaded layers
        "bought_in": np.array([bought_in(x.gpu) if x.owned_limit is None else 1 for x in hw], dtype=float),
        "owned_limit": np.array([x.owned_limit or 0 for x in hw], dtype=float),
        "family_index": np.array([families.index(x.gpu.family) for x in hw]),
        "families": families,
        "eff": eff,
    }


def _one_gpu(hw: list[Hardware], family: str) -> bool:
    return len({x.gpu.id for x in hw if x.gpu.family == family}) == 1
