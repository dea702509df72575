"""Every candidate deployment (model x quantization x engine x hardware), evaluated at once.

The grid is built from index arrays, and memory, speed, replicas and cost are computed with numpy
over all candidates in one pass, using the same formula functions as the single estimate
(`planner.estimate.memory`, `planner.estimate.speed`). The result is a table of arrays; `planner.plan.rules` decides
what is excluded and `planner.plan.recommend` ranks the rest.
"""

from __future__ import annotations

import numpy as np

from planner.catalog.loading import Catalog
from planner.catalog.records import ModelSpec
from planner.estimate.cost import CostAssumptions
from planner.estimate.load import Workload
from planner.estimate.memory import GPUS_PER_NODE
from planner.estimate.bands import pessimistic_decode_share, pessimistic_prefill_share
from planner.estimate.interconnect import pcie_allreduce_share
from planner.estimate.kv_capacity import vllm_batch_that_fits
from planner.estimate.speed import decode_bytes_per_step, prefill_s
from planner.plan.grid_options import (
    MIN_COMPUTE_CAPABILITY,
    Grid,
    dominated_devices,
    dominated_quants,
    engine_twins,
    hardware_class,
    hardware_options,
    model_pair_ok,
    quant_engine_pairs,
    severe_loss_quants,
)
from planner.catalog.engine_support import image
from planner.estimate.queueing import QueueTerms, unloaded_ttft_s
from planner.plan.grid_support import support_mask
from planner.plan.grid_step import StepTerms, comm_tables, engine_queue_tables, moe_batch, replica_capacity_requests_per_s, replicas_for_ttft
from planner.plan.grid_tables import (
    MIN_GPU_LAYER_FRACTION,
    engine_kv_per_sequence,
    hardware_arrays,
    model_arrays,
    pair_arrays,
    prune,
    tables,
    weight_bytes,
)
from planner.plan.workload import SMALL_TEAM_CONCURRENCY, Filters
from planner.units import GIB


DEPLOYABLE_MULTI_NODE = {"ray", "nnodes"}  # multi-node layouts planner.deploy writes


def build_grid(catalog: Catalog, w: Workload, f: Filters, models: list[ModelSpec], a: CostAssumptions,
               calibrations: list[dict] | None = None, reasoning_tokens: dict[str, int] | None = None,
               ttft_on_answer: bool = True) -> Grid:
    """`reasoning_tokens`: hidden tokens per request for models planned in a reasoning mode (planner.plan.reasoning_plan);
    `ttft_on_answer`: the time-to-first-token target holds on the first answer token, after them."""
    # Enumerate compatible candidates and evaluate memory, speed, replicas and cost for each.
    hardware = hardware_options(catalog, f, a)
    dominated = dominated_devices(hardware) if f.owned is None else {}
    hardware = [hw for hw in hardware if hw.gpu.id not in dominated]
    if not hardware:  # nothing to run on (e.g. only GeForce cards owned, in a datacenter): an empty grid, explained by the plan
        return Grid(models, [], [], *(np.zeros(0, dtype=int),) * 3, {})
    twins = engine_twins(catalog, w, hardware, calibrations)
    merged = {t for group in twins.values() for t in group}
    weaker_quants = dominated_quants(catalog)
    severe = severe_loss_quants(catalog)
    pairs = [(q, e) for q, e in quant_engine_pairs(catalog) if e.id not in merged and q.id not in weaker_quants and q.id not in severe]
    # Compatibility of (pair, hardware): engine runs on the device class and can span the GPU count;
    # FP8 weights need FP8 hardware. Built from small per-kind tables, then broadcast.
    classes = sorted({hardware_class(hw.gpu) for hw in hardware})
    hw_class = np.array([classes.index(hardware_class(hw.gpu)) for hw in hardware], dtype=int)
    runs_on = np.array([[cls in e.hardware for cls in classes] for _, e in pairs], dtype=bool).reshape(len(pairs), len(classes))
    multi = np.array([e.tensor_parallel or e.pipeline_parallel for _, e in pairs])
    needs_fp8 = np.array([q.compute_dtype == "fp8" for q, _ in pairs])
    single = np.array([hw.count == 1 for hw in hardware])
    # a replica spans nodes only where the deployment files can lay it out (vLLM on Ray, SGLang's --nnodes:
    # data/engine_images.csv multi_node); llama.cpp's RPC and TensorRT-LLM's MPI layouts are not generated
    multi_node = np.array([e.multi_node and image(e.id, "nvidia").multi_node in DEPLOYABLE_MULTI_NODE for _, e in pairs])
    one_node = np.array([hw.count <= GPUS_PER_NODE for hw in hardware])
    needs_cuda = np.array([q.format == "bitsandbytes" for q, _ in pairs])  # bitsandbytes kernels are CUDA
    nvidia = np.array([hardware_class(hw.gpu) == "nvidia" for hw in hardware])
    has_fp8 = np.array([bool(hw.gpu.fp8_tflops_dense) for hw in hardware])
    min_cc = np.array([MIN_COMPUTE_CAPABILITY.get((e.id, q.format), 0.0) for q, e in pairs])
    device_cc = np.array([hw.gpu.compute_capability or 0.0 for hw in hardware])
    ok_ph = (runs_on[:, hw_class] & (single[None, :] | multi[:, None]) & (~needs_fp8[:, None] | has_fp8[None, :])
             & (one_node[None, :] | multi_node[:, None]) & (~needs_cuda[:, None] | nvidia[None, :])
             & ((min_cc[:, None] == 0) | (device_cc[None, :] >= min_cc[:, None])))
    ok_mp = model_pair_ok(models, pairs, f.self_quantize)
    # what exists in the world: a maintained engine that runs the architecture on that hardware in that format
    supported = support_mask(models, pairs, [hw.gpu for hw in hardware])
    compatible = ok_mp[:, :, None] & ok_ph[None, :, :] & supported  # (model, pair, hardware)
    multiplicity = np.array([1 + len(twins.get(e.id, [])) for _, e in pairs])
    empty = np.zeros(0, dtype=int)
    enumerated = int((compatible.sum(axis=(0, 2)) * multiplicity).sum()) if compatible.size else 0
    # Models that share an architecture and size (a fine-tune or update of a base: data/models.csv) have the same
    # estimates on every configuration: evaluate one of them, then give each its copy of the rows.
    firsts, first_of = architecture_twins(models, reasoning_tokens or {}, [row.tobytes() for row in ok_mp])
    grid = Grid([models[i] for i in firsts], pairs, hardware, empty, empty, empty, {}, enumerated=enumerated, twins=twins,
                dominated=dominated, dominated_quants=weaker_quants, severe_quants=severe)
    if compatible.any():
        grid.values = _evaluate(catalog, w, f, grid, compatible[firsts], calibrations, reasoning_tokens, ttft_on_answer)
    return _expand_twins(grid, models, first_of)


def architecture_twins(models: list[ModelSpec], reasoning_tokens: dict[str, int] | None = None,
                       formats: list[bytes] | None = None) -> tuple[list[int], list[int]]:
    """(index of the first model of each architecture, for every model the position of its architecture in
    that list). Two models are twins when everything the grid reads of them is equal."""
    firsts: list[int] = []
    seen: dict[tuple, int] = {}
    first_of = []
    for i, m in enumerate(models):
        # the family too: model_pair_ok plans MXFP4 for gpt-oss only
        key = (m.params_total_b, m.params_active_b, m.family.startswith("gpt-oss"), m.hf_architecture,
               (reasoning_tokens or {}).get(m.id, 0), formats[i] if formats else None, m.architecture())
        if key not in seen:
            seen[key] = len(firsts)
            firsts.append(i)
        first_of.append(seen[key])
    return firsts, first_of


def _expand_twins(grid: Grid, models: list[ModelSpec], first_of: list[int]) -> Grid:
    """The grid over every model: each model's block of rows is its architecture's, in model order (as if
    every model had been evaluated)."""
    if len(grid.models) == len(models):
        return grid
    grid.models = models
    if not len(grid.m):
        return grid
    bounds = np.searchsorted(grid.m, np.arange(max(first_of) + 2))
    blocks = [np.arange(bounds[r], bounds[r + 1]) for r in first_of]
    idx = np.concatenate(blocks)
    grid.m = np.repeat(np.arange(len(models)), [len(b) for b in blocks])
    grid.p, grid.h = grid.p[idx], grid.h[idx]
    grid.values = {k: v[idx] for k, v in grid.values.items()}
    return grid


def _evaluate(catalog: Catalog, w: Workload, filters: Filters, g: Grid, compatible: np.ndarray, calibrations: list[dict] | None,
              reasoning_tokens: dict[str, int] | None = None, ttft_on_answer: bool = True) -> dict[str, np.ndarray]:
    M = model_arrays(g.models, w, reasoning_tokens)
    M["weights_total"], M["weights_active"] = weight_bytes(g.models, g.pairs)  # (model, pair)
    P = pair_arrays(g.pairs, w)
    H = hardware_arrays(catalog, g, calibrations)
    prune(g, M, P, H, w, compatible)
    # Quantities that depend on two of the three axes are tabulated first (small tables), so each row
    # costs one lookup per quantity instead of arithmetic on gathered columns.
    T = tables(catalog, w, M, P, H)
    n_p, n_h = len(g.pairs), len(g.hardware)
    m, p, h = g.m, g.p, g.h
    mp, ph, mh = m * n_p + p, p * n_h + h, m * n_h + h
    take = lambda table, idx: np.take(table, idx)  # flat index into a small table  # noqa: E731

    weights_total, weights_active = take(T["weights_total"], mp), take(T["weights_active"], mp)
    kv_seq_full, kv_seq_read = take(T["kv_seq_full"], mp), take(T["kv_seq_read"], mp)
    # the capacity each engine sizes its cache in (planner.estimate.kv_capacity.engine_memory_terms); vLLM's overhead is
    # what its profiling takes at the --max-num-seqs the plan deploys, the batch itself (vllm_batch_that_fits)
    count, capacity = H["count"][h], take(T["capacity"], ph)
    vllm = P["vllm"][p]
    forward, sampler, non_torch = (take(T[k], mh) for k in ("vllm_forward", "vllm_sampler", "vllm_non_torch"))
    shards = np.where(take(T["tp"], ph), take(T["shards_tp"], mh), count)
    # memory (as planner.estimate.memory.estimate_memory)
    kv_engine = engine_kv_per_sequence(M, P, H, m, p, h, w, kv_seq_full)
    batch_by_memory = np.where(vllm, vllm_batch_that_fits(capacity - weights_total / count - non_torch, forward, sampler, kv_engine, shards),
                               np.floor(np.maximum((capacity - P["overhead"][p] - weights_total / count) * shards, 0) / kv_engine))
    overhead = P["overhead"][p]  # vLLM's, once the sequences it runs are known (below)
    gpu_fraction = np.clip(take(T["room_all"], ph) / (weights_total + kv_seq_full), 0, 1)
    offload = ((batch_by_memory < 1) & take(T["may_offload"], ph) & (gpu_fraction >= MIN_GPU_LAYER_FRACTION)
               & (weights_total * (1 - gpu_fraction) <= H["host_ram"][h]))  # the layers left over fit in host memory
    batch_by_memory = np.where(offload, 1, batch_by_memory)

    # A decode step of b sequences (planner.estimate.speed.DecodeStep) takes the longer of its GPU reads (the
    # weights once, then each sequence's KV cache, m0 + m1·b) and its compute (c1·b at the fitted share of
    # the sustained rate), plus the engine's fixed time and, for layers offloaded to the CPU, host-RAM
    # reads (h0 + h1·b). Both sides are linear in b, so the largest batch meeting the latency targets has
    # a closed form; a mixture of experts reads more experts as b grows, so for those rows the whole batch
    # is searched (grid_step.moe_batch). A mixture of experts runs at the engine's fitted fraction of the
    # speed the other factors give: its reads, compute and prefill slow alike; the fixed time does not.
    moe_speed = np.where(M["moe"][m], take(T["eff_moe"], ph), 1.0)
    bw_eff, host = take(T["bw_eff"], ph) * moe_speed, take(T["host"], ph) * moe_speed
    f = np.where(offload, gpu_fraction, 1.0)
    # tensor-parallel all-reduces and pipeline hops (planner.estimate.interconnect), per step and per token in it
    comm_fixed, comm_token = comm_tables(g.models, g.hardware, pcie_allreduce_share(catalog))
    tp_row = take(T["tp"], ph)
    comm0, comm1 = take(comm_fixed, mh) * tp_row, take(comm_token, mh) * tp_row
    step_overhead = take(T["step_overhead_s"], ph) * f + comm0  # the engine's fixed time per step (planner.estimate.speed.DecodeStep)
    kv_copies = np.where(take(T["tp"], ph), take(T["kv_copies_tp"], mh), 1.0)  # planner.estimate.memory.kv_read_copies
    m1 = kv_seq_read * kv_copies * f / bw_eff
    h1 = kv_seq_read * (1 - f) / host + comm1
    c1 = T["decode_flops"][m] * take(T["compute_s_per_flop"], ph) * f / moe_speed
    terms = StepTerms(f, bw_eff, host, m1, h1, c1, step_overhead)

    # prefill's GEMMs scale ideally under tensor parallelism: undo the fitted per-doubling loss (planner.estimate.speed._decoder)
    tp_doublings = np.log2(np.maximum(np.minimum(H["count"], H["domain"]), 1))[None, :]  # (pair, hardware) table first
    tp_loss = np.where(T["tp"], H["eff"]["tensor_parallel"][P["engine_index"][:, None], H["family_index"][None, :]] ** tp_doublings, 1.0)
    prefill_flops = take(T["flops"] / tp_loss, ph)

    def prefill_time(requests):  # one request's prefill with `requests` in flight sharing the weight read (planner.estimate.speed.prefill_s)
        seconds = prefill_s(w.input_tokens, T["flops_per_token"][m], prefill_flops, take(T["eff_prefill"], ph),
                            weights_total, take(T["bandwidth"], ph), take(T["eff_decode"], ph), requests) / moe_speed
        seconds = seconds + comm0 / np.maximum(requests, 1) + comm1 * w.input_tokens  # the prompt's all-reduces
        # as planner.estimate.speed.estimate_speed: offloaded layers make prefill at least 2x slower, 1/f below half on the GPU
        return np.where(offload, seconds * np.maximum(2.0, 1 / np.maximum(gpu_fraction, 1e-6)), seconds)

    prefill = prefill_time(1)
    # The targets must hold at the pessimistic end of the estimate's band (planner.estimate.speed
    # pessimistic_*_share): time to first token as if prefill ran at its 10th-percentile share, tokens/s
    # per stream at batched decode's (llama.cpp/Ollama batches at the widest band: one source measures them).
    ttft_target = w.max_ttft_s * pessimistic_prefill_share(catalog) if w.max_ttft_s else None
    gguf = P["gguf_engine"][p]
    batched_share = np.where(gguf, pessimistic_decode_share(catalog, 2, True), pessimistic_decode_share(catalog, 2, False))

    hidden = M["reasoning"][m]  # reasoning tokens written before the answer (0 for most models)
    out_tokens = w.output_tokens + hidden
    before_first = hidden if ttft_on_answer else 0.0  # decode steps the TTFT target must also cover

    def longest_step(share):  # the longest decode step the targets allow
        allowed = np.full(len(m), np.inf)
        if w.min_tokens_per_s:
            allowed = np.minimum(allowed, share / w.min_tokens_per_s)
        if ttft_target:  # the first answer token comes after the hidden reasoning tokens
            allowed = np.minimum(allowed, (ttft_target - prefill) / (1 + before_first))
        return allowed

    allowed, allowed_one = longest_step(batched_share), longest_step(pessimistic_decode_share(catalog, 1, False))
    batch_cap = np.minimum(batch_by_memory, take(T["max_batch"], ph))
    batch = np.floor(np.minimum(terms.largest_batch(weights_active, allowed), batch_cap))
    moe = M["moe"][m]
    # a mixture reads at least its active weights per step, so the dense closed form bounds its batch: only
    # rows with room for one sequence are searched (the others keep their bound below 1, as the search would)
    searched = moe & (batch >= 1)
    if searched.any():
        batch[searched] = moe_batch(M, m[searched], weights_active[searched], weights_total[searched], terms.rows(searched),
                                    allowed[searched], batch_cap[searched])
    single_ok = terms.step(weights_active, 1.0) <= allowed_one
    batch = np.where((batch < 1) & single_ok, 1.0, batch)  # one stream meets the targets at its own (narrower) band
    latency_ok = batch >= 1
    batch = np.maximum(batch, 1)
    read_b = weights_active.copy()  # weights read per step at the chosen batch
    read_b[moe] = decode_bytes_per_step(weights_active[moe], weights_total[moe], M["experts_total"][m[moe]],
                                        M["experts_active"][m[moe]], batch[moe])
    step_1 = terms.step(weights_active, 1.0)
    step_b = terms.step(read_b, batch)
    latency_at_batch = prefill + step_b * (1 + out_tokens)  # first token, then one step per output token (hidden ones too)
    requests_per_s_per_replica = replica_capacity_requests_per_s(batch, latency_at_batch, prefill, step_b, out_tokens,
                                                                 np.inf, prefill_time(batch))
    peak = w.requests_per_day / 86_400 * w.peak_to_average
    replicas = np.maximum(filters.min_replicas, np.ceil(peak / requests_per_s_per_replica))
    # Time to first token under load (planner.estimate.queueing), at the peak per replica: the same terms as
    # planner.estimate.speed.queue_terms (the step at the chosen batch's weight reads, as lines in the batch).
    budget, per_request = (table[P["engine_index"], :] for table in engine_queue_tables(catalog, list(P["engine_ids"]), g.hardware))
    slower = np.where(offload, np.maximum(2.0, 1 / np.maximum(gpu_fraction, 1e-6)), 1.0)
    queue = QueueTerms(prefill_s=prefill, prompt_token_s=(T["flops_per_token"][m] / (prefill_flops * take(T["eff_prefill"], ph)) / moe_speed + comm1) * slower,
                       reads0=read_b * f / bw_eff, reads1=m1, compute1=c1, fixed=step_overhead + read_b * (1 - f) / host, extra1=h1,
                       input_tokens=w.input_tokens, output_tokens=out_tokens, max_running=batch_cap,
                       token_budget=take(budget, ph), request_overhead_s=take(per_request, ph))
    # a lone request (planner.estimate.queueing.unloaded_ttft_s): the step of one sequence, its own weights read
    ttft_1 = unloaded_ttft_s(prefill, weights_active * f / bw_eff + m1, c1, step_overhead + weights_active * (1 - f) / host + h1,
                             queue.request_overhead_s)
    held = latency_ok & (batch_by_memory >= 1) if ttft_target else np.zeros(len(m), dtype=bool)
    replicas, ttft_capacity, ttft_at_peak = replicas_for_ttft(queue, peak, replicas, ttft_target or np.inf, held)
    latency_ok = latency_ok & ~(held & (ttft_capacity <= 0))
    requests_per_s_per_replica = np.minimum(requests_per_s_per_replica, ttft_capacity)
    # llama.cpp and Ollama are for one user or a small team: a multi-user service runs on a serving engine
    # (continuous batching, paged KV) wherever one runs (NVIDIA, AMD and Intel accelerators; not Apple, CPUs, edge SoCs).
    engine_ok = ~(gguf & H["serving_engine_runs"][h] & (peak * latency_at_batch > SMALL_TEAM_CONCURRENCY))
    in_flight = np.clip(np.ceil(peak / replicas * latency_at_batch), 1, batch)  # Little's law per replica
    total_gpus = replicas * count
    owned_limit = H["owned_limit"][h]
    return {
        "weights_gib": weights_total / GIB,
        "kv_gib": kv_seq_full * in_flight / GIB,
        "per_gpu_gib": (weights_total * np.where(offload, gpu_fraction, 1) / count + kv_seq_full * in_flight / shards
                        + np.where(vllm, np.maximum(forward, sampler * in_flight) + non_torch, overhead)) / GIB,
        "capacity_gib": capacity / GIB,
        "batch_by_memory": batch_by_memory,
        "fits": batch_by_memory >= 1,
        "offload": offload,
        "single_stream_ok": step_1 <= allowed,
        "latency_ok": latency_ok,
        "engine_ok": engine_ok,
        "decode_tokens_per_s": 1.0 / step_1,
        "ttft_s": ttft_1,
        "first_answer_token_s": ttft_1 + step_1 * hidden,
        "ttft_at_peak_s": ttft_at_peak,  # 90th percentile under load at the peak per replica (planner.estimate.queueing)
        "batch": batch,
        "in_flight": in_flight,
        "replicas": replicas,
        "total_gpus": total_gpus,
        # a datacenter part bought comes in whole baseboards (or racks): the plan pays for every GPU of them
        "usd_per_month": (paid := np.ceil(total_gpus / H["bought_in"][h]) * H["bought_in"][h] if filters.buy else total_gpus)
                         * H["usd_per_gpu_month"][h],
        "usd_per_month_high": paid * H["usd_per_gpu_month_high"][h],  # at the top of a price range (the budget rule)
        "owned_ok": np.where(owned_limit > 0, total_gpus <= owned_limit, True),
        "replica_tokens_per_month": requests_per_s_per_replica * (w.input_tokens + w.output_tokens) * 86_400 * 30.4375,
    }


