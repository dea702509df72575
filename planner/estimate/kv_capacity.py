"""KV cache capacity as each engine sizes it at start-up: tokens, and the most requests of N tokens that fit.

- vLLM (vllm/v1/worker/gpu_worker.py determine_available_memory, its "Memory profiling results" log):
  KV = gpu_memory_utilization x total memory - weights - the profiled activation peak - non-torch memory
  (NCCL buffers, the CUDA context) - CUDA graph memory, per GPU. It logs "GPU KV cache size: N tokens" as
  blocks of 16 tokens over its layer groups, every attention layer counted as holding every token (its
  hybrid allocator gives sliding-window layers pages from the same pool), and "Maximum concurrency for N
  tokens per request" from the blocks one request needs: every token in full-attention layers, at most
  window - 1 + the step's token budget in sliding-window ones (vllm/v1/kv_cache_interface.py,
  SlidingWindowSpec.max_memory_usage_bytes).
- SGLang (python/sglang/srt/model_executor/model_runner.py profile_max_num_token): the pool is
  mem_fraction_static x total memory - the weights; it logs "KV Cache is allocated. #tokens: N".
- TensorRT-LLM (KvCacheConfig.free_gpu_memory_fraction, default 0.9): that fraction of the memory free after
  the weights and the runtime's buffers.
- llama.cpp: exactly -c tokens per slot times the slots (--parallel), whatever the memory.

What vLLM profiles is estimated where no log gives it, for its V1 engine (the only one since 0.11): the non-torch
memory that grows during profiling (vllm_non_torch_gib) and the PyTorch peak, the larger of the forward pass at
the step's token budget and the sampler's dummy run over the sequence limit (vllm_activation_peak_gib). V0
start-ups (before 0.8; "# GPU blocks" logs) counted the CUDA context and graphs too, and are not predicted.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.catalog.records import Engine, Gpu, ModelSpec, Quant
from planner.estimate.memory import (
    KV_BYTES_PER_ELEMENT,
    attention_layers,
    held_tokens,
    kv_bytes_per_token_layer,
    kv_shards,
    layer_split,
    model_weight_bytes,
    resolve_kv_dtype,
    state_token_layers,
    usable_gib,
)
from planner.estimate.queueing import max_running_sequences, token_budget_per_step
from planner.units import GIB

VLLM_BLOCK_TOKENS = 16  # vLLM's default --block-size on GPUs
DEFAULT_FRACTION = {"vllm": 0.9, "sglang": 0.9, "tensorrt-llm": 0.9, "tgi": 1.0}


class KvCapacity(BaseModel):
    """KV cache of one replica as its engine reports it at start-up."""

    model_config = ConfigDict(frozen=True)

    engine: str
    kv_cache_gib_per_gpu: float
    tokens: int  # "GPU KV cache size: N tokens" (vLLM), "#tokens" (SGLang), -c x slots (llama.cpp)
    tokens_per_request: int
    max_concurrency: float  # "Maximum concurrency for N tokens per request: Xx"
    basis: dict[str, float]


def vllm_available_kv_gib(total_gib: float, gpu_memory_utilization: float, weights_gib: float, activation_peak_gib: float,
                          non_torch_gib: float, cuda_graph_gib: float = 0.0) -> float:
    """vLLM's own start-up accounting, per GPU (GiB): what the instance may use, less what it profiled."""
    return gpu_memory_utilization * total_gib - weights_gib - activation_peak_gib - non_torch_gib - cuda_graph_gib


def vllm_tokens(kv_bytes: float, bytes_per_token: float, block_tokens: int = VLLM_BLOCK_TOKENS) -> int:
    """Whole blocks of `block_tokens` that fit, in tokens (the "GPU KV cache size" line)."""
    return int(kv_bytes // (bytes_per_token * block_tokens)) * block_tokens


def visible_memory_gib(gpu: Gpu) -> float:
    """Memory CUDA reports as the device's total (what vLLM multiplies by gpu_memory_utilization): an 80 GiB H100
    shows 79.22 GiB (vllm PR #10511's log), a 24 GiB card 23.58 GiB (vllm PR #14447's); datacenter GDDR parts run
    with ECC on, which keeps 1/16 of the memory (L40S: 48 GiB, 44.99 GiB usable)."""
    share = 79.22 / 80 if gpu.kind == "datacenter" else 23.58 / 24
    gddr_ecc = gpu.kind == "datacenter" and gpu.memory_bandwidth_gb_s < 1500 and gpu.vendor.upper().startswith("NVIDIA")
    return gpu.memory_gib * (15 / 16 if gddr_ecc else share)


# What vLLM's V1 profiling counts beyond the weights and the forward pass, fitted to the logged start-ups of
# data/benchmarks.csv by planner.estimate.fit (factors vllm_non_torch_gib, vllm_sampler_copies in data/efficiency.csv);
# these defaults are for a catalogue without them.
# - Non-torch memory: what grew outside PyTorch's allocator during profiling (the CUDA context and NCCL's set-up come
#   before its baseline), per GPU.
# - The sampler's dummy run over `max_num_seqs` rows of the vocabulary holds several FP32 copies at its peak (logits,
#   temperature-scaled, sorted values with int64 indices for top-k/top-p, probabilities).
NON_TORCH_GIB = 0.5
SAMPLER_LOGITS_COPIES = 8.0


NCCL_TP_GIB = 0.13  # NCCL's buffers under tensor parallelism: 0.13 GiB more at TP 2 than alone on the same A100s (vLLM 0.10.1 logs)


def vllm_non_torch_gib(tp, base_gib: float = NON_TORCH_GIB):
    """Non-torch memory the V1 engine counts per GPU: the fitted base, and NCCL's buffers under tensor parallelism
    (NCCL_TP_GIB, from vLLM 0.10.1 logs in data/benchmarks.csv). Numbers or arrays."""
    return base_gib + np.where(np.asarray(tp) > 1, NCCL_TP_GIB, 0.0)


def vllm_activation_peak_gib(model: ModelSpec, gpu: Gpu, tp: int, max_num_seqs: int | None = None,
                             max_num_batched_tokens: int | None = None, sampler_copies: float = SAMPLER_LOGITS_COPIES) -> float:
    """The PyTorch peak of vLLM's profiling run: the larger of the forward pass (the step's token budget through the
    MLP's gate and up projections, split by TP, and four hidden-state copies in BF16) and the sampler's dummy run
    (`sampler_copies` FP32 copies of the logits of its sequence limit); the forward's memory is freed first."""
    forward_gib, logits_gib = vllm_profile_parts(model, gpu, tp, max_num_seqs, max_num_batched_tokens)
    return float(np.maximum(forward_gib, sampler_copies * logits_gib))


def vllm_profile_parts(model: ModelSpec, gpu: Gpu, tp: int, max_num_seqs: int | None = None,
                       max_num_batched_tokens: int | None = None) -> tuple[float, float]:
    """(the forward pass's peak, one FP32 logits tensor of the sequence limit), GiB, for vllm_activation_peak_gib."""
    budget = max_num_batched_tokens or token_budget_per_step("vllm", gpu)
    seqs = max_num_seqs or max_running_sequences("vllm", gpu) or 256
    forward, logits = vllm_profile_bytes(mlp_gate_up_width(model), model.hidden_size, model.vocab_size, max(tp, 1), budget, seqs)
    return float(forward) / GIB, float(logits) / GIB


def mlp_gate_up_width(model: ModelSpec) -> float:
    """Columns of the MLP's gate and up projections one token passes through (a mixture's active experts')."""
    if model.is_moe and model.experts_active:
        return 2 * (model.intermediate_size or 0) * model.experts_active
    return 2 * (model.intermediate_size or 4 * model.hidden_size)


def vllm_profile_bytes(mlp_width, hidden, vocab, tp, budget, max_seqs):
    """(forward pass peak, one FP32 logits tensor) in bytes: the step's token budget through the MLP's gate and up
    projections split by TP and four hidden-state copies in BF16; the sequence limit's logits. Numbers or arrays (the
    planning grid computes them per model and device)."""
    width = np.asarray(mlp_width, dtype=float) / np.asarray(tp, dtype=float) + 4 * np.asarray(hidden, dtype=float)
    return np.asarray(budget, dtype=float) * width * 2, np.asarray(max_seqs, dtype=float) * np.asarray(vocab, dtype=float) * 4


def vllm_profiled_parts(mlp_width, hidden, vocab, tp, budget, sampler_copies=SAMPLER_LOGITS_COPIES, non_torch_gib=NON_TORCH_GIB):
    """What vLLM's start-up profiling takes from the KV cache on one GPU, in bytes, in three parts: the forward pass
    at the step's token budget, the sampler's `sampler_copies` FP32 logits copies per sequence of its limit
    (--max-num-seqs), and the non-torch memory (vllm_non_torch_gib). Its PyTorch peak is the larger of the forward
    pass and the sampler's whole run. Numbers or arrays."""
    forward, logits = vllm_profile_bytes(mlp_width, hidden, vocab, tp, budget, 1)
    return forward, sampler_copies * logits, vllm_non_torch_gib(tp, non_torch_gib) * GIB


def vllm_batch_that_fits(room_bytes, forward_bytes, sampler_bytes_per_sequence, kv_bytes_per_sequence, shards):
    """The most sequences b a vLLM replica holds when its --max-num-seqs is b itself (as the plan deploys it):
    b x KV <= shards x (room - max(forward, b x sampler)), `room` being its capacity less the weights and the non-torch
    memory. The left side grows with b, so b is the smaller of its two regimes' bounds. Numbers or arrays."""
    room = np.asarray(room_bytes, dtype=float)
    by_forward = (room - forward_bytes) * shards / kv_bytes_per_sequence
    by_sampler = room * shards / (kv_bytes_per_sequence + shards * sampler_bytes_per_sequence)
    return np.floor(np.maximum(np.minimum(by_forward, by_sampler), 0))


def engine_memory_terms(model: ModelSpec, gpu: Gpu, engine: Engine, gpus: int, profile_terms: dict[str, float] | None = None,
                        max_num_seqs: int | None = None):
    """(capacity, overhead) of one GPU in GiB as the engine sizes its KV cache, the rest being the weights: vLLM's
    gpu_memory_utilization of the memory CUDA reports, less what its start-up profiling measures with `max_num_seqs`
    (vllm_profiled_parts, with the fitted `profile_terms`; default its own limit), its KV cache then exactly vLLM's
    own accounting; every other engine its memory share (planner.estimate.memory.usable_gib) less its fixed overhead
    (data/engines.csv). What the planning grid (planner.plan.grid_tables.vllm_profile_tables) and the single estimate
    (sequences_that_fit, the plan's memory) both size with."""
    if engine.id != "vllm":
        return usable_gib(gpu, engine), engine.overhead_gib
    forward, sampler, non_torch = _vllm_parts(model, gpu, engine, gpus, profile_terms)
    seqs = max_num_seqs or max_running_sequences("vllm", gpu) or 256
    return _vllm_capacity_gib(engine, gpu), (max(forward, sampler * seqs) + non_torch) / GIB


def _vllm_capacity_gib(engine: Engine, gpu: Gpu) -> float:
    return (engine.default_gpu_memory_utilization or DEFAULT_FRACTION["vllm"]) * visible_memory_gib(gpu)


def _vllm_parts(model: ModelSpec, gpu: Gpu, engine: Engine, gpus: int, profile_terms: dict[str, float] | None) -> tuple[float, float, float]:
    terms = profile_terms or {}
    tp = min(gpus, gpu.scale_up_gpus) if gpus > 1 and engine.tensor_parallel else 1
    return tuple(float(x) for x in vllm_profiled_parts(mlp_gate_up_width(model), model.hidden_size, model.vocab_size, tp,
                                                       token_budget_per_step("vllm", gpu), terms.get("sampler_copies", SAMPLER_LOGITS_COPIES),
                                                       terms.get("non_torch_gib", NON_TORCH_GIB)))


def kv_bytes_per_token_per_gpu(model: ModelSpec, gpus: int, tensor_parallel: bool, kv_dtype: str, domain: int) -> float:
    """Bytes one token takes in every attention layer's cache on one GPU (KV heads split by TP, replicated
    past the head count), each layer counted whole as vLLM's block pool counts it."""
    per_layer = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT[kv_dtype])
    return per_layer * attention_layers(model) / kv_shards(model, gpus, tensor_parallel, domain)


def request_token_layers(model: ModelSpec, tokens: int, budget: int) -> float:
    """Token-layers of cache one request of `tokens` needs: every token in full-attention layers, at most
    window - 1 + the step's budget in sliding-window ones (vLLM's SlidingWindowSpec), and a hybrid's fixed state."""
    full, windowed, window = layer_split(model)
    return float(held_tokens(full, windowed, vllm_window(window, budget), tokens, state_token_layers(model)))


def vllm_window(window, budget):
    """Tokens vLLM holds for a request in a sliding-window layer: window - 1 + the step's token budget (a chunk of the
    prompt attends back over the window; vllm/v1/kv_cache_interface.py SlidingWindowSpec.max_memory_usage_bytes)."""
    return np.asarray(window, dtype=float) - 1 + np.asarray(budget, dtype=float)


def kv_capacity(model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int = 1, tokens_per_request: int = 4096,
                kv_cache_dtype: str = "auto", memory_fraction: float | None = None, slots: int = 1,
                max_num_seqs: int | None = None, max_num_batched_tokens: int | None = None, cuda_graphs: bool = True,
                non_torch_gib: float = NON_TORCH_GIB, sampler_copies: float = SAMPLER_LOGITS_COPIES) -> KvCapacity:
    """The KV cache an engine sets up for this replica, and how many requests of `tokens_per_request` it holds.

    `memory_fraction`: vLLM's --gpu-memory-utilization, SGLang's --mem-fraction-static, TensorRT-LLM's
    free_gpu_memory_fraction (default: the engine's). llama.cpp: `tokens_per_request` is -c per slot.
    `max_num_seqs`, `max_num_batched_tokens`: vLLM's limits where they are not its defaults; `cuda_graphs`
    False for --enforce-eager. `non_torch_gib`, `sampler_copies`: vLLM's fitted profiling terms (vllm_profile_terms)."""
    kv_dtype = resolve_kv_dtype(kv_cache_dtype, engine)
    tp = gpus > 1 and engine.tensor_parallel
    tp_size = min(gpus, gpu.scale_up_gpus) if tp else 1
    weights_gib = model_weight_bytes(model, quant, engine.id)[0] / gpus / GIB
    per_token = kv_bytes_per_token_per_gpu(model, gpus, tp, kv_dtype, gpu.scale_up_gpus)
    layers = max(attention_layers(model), 1)
    budget = max_num_batched_tokens or token_budget_per_step(engine.id, gpu)
    need_per_request = request_token_layers(model, tokens_per_request, budget) / layers * per_token  # bytes on one GPU
    fraction = memory_fraction if memory_fraction is not None else (engine.default_gpu_memory_utilization or DEFAULT_FRACTION.get(engine.id, 1.0))
    basis: dict[str, float] = {"total_gib": gpu.memory_gib, "memory_fraction": fraction, "weights_gib": weights_gib}
    if engine.id in {"llama.cpp", "ollama"}:
        tokens = tokens_per_request * slots
        kv_gib = tokens * need_per_request / tokens_per_request / GIB
        return KvCapacity(engine=engine.id, kv_cache_gib_per_gpu=kv_gib, tokens=tokens, tokens_per_request=tokens_per_request,
                          max_concurrency=float(slots), basis={**basis, "slots": slots})
    if engine.id == "vllm":
        activation = vllm_activation_peak_gib(model, gpu, tp_size, max_num_seqs, max_num_batched_tokens, sampler_copies)
        non_torch = float(vllm_non_torch_gib(tp_size, non_torch_gib))
        total = visible_memory_gib(gpu)
        kv_gib = vllm_available_kv_gib(total, fraction, weights_gib, activation, non_torch)
        basis.update(total_gib=total, activation_peak_gib=activation, non_torch_gib=non_torch)
        tokens = vllm_tokens(max(kv_gib, 0) * GIB, per_token)
    elif engine.id == "sglang":
        kv_gib = fraction * visible_memory_gib(gpu) - weights_gib
        tokens = int(max(kv_gib, 0) * GIB // per_token)
    else:  # TensorRT-LLM and others: a fraction of what is free after the weights and the runtime's buffers
        runtime = engine.overhead_gib
        kv_gib = fraction * (visible_memory_gib(gpu) - weights_gib - runtime)
        basis["runtime_gib"] = runtime
        tokens = int(max(kv_gib, 0) * GIB // per_token)
    concurrency = max(kv_gib, 0) * GIB / need_per_request if need_per_request > 0 else math.inf
    return KvCapacity(engine=engine.id, kv_cache_gib_per_gpu=max(kv_gib, 0.0), tokens=tokens, tokens_per_request=tokens_per_request,
                      max_concurrency=concurrency, basis=basis)


def vllm_profile_terms(catalog) -> dict[str, float]:
    """The fitted vLLM profiling terms of data/efficiency.csv as kv_capacity's keyword arguments (defaults where the
    catalogue has none)."""
    index = catalog.efficiency_index
    out = {}
    for factor, name in (("vllm_non_torch_gib", "non_torch_gib"), ("vllm_sampler_copies", "sampler_copies")):
        row = index.get((factor, "vllm", "*"))
        if row is not None:
            out[name] = row.value
    return out


def sequences_that_fit(model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int = 1, context_tokens: int = 4096,
                       kv_cache_dtype: str = "auto", profile_terms: dict[str, float] | None = None, max_num_seqs: int | None = None) -> int:
    """How many sequences of `context_tokens` the KV cache holds, with the capacity and overhead the engine sizes it with
    (engine_memory_terms) and, for vLLM, its sliding-window pages (vllm_window), as the candidate grid sizes a batch;
    at least 1, since a lone sequence may spill to the CPU. vLLM's profiling depends on its --max-num-seqs: a server
    set to `max_num_seqs` (a benchmarked one: its setting or vLLM's default), or, without it, one the plan deploys
    with --max-num-seqs at the batch it holds (vllm_batch_that_fits)."""
    weights_per_gpu = model_weight_bytes(model, quant, engine.id)[0] / gpus
    shards = kv_shards(model, gpus, gpus > 1 and engine.tensor_parallel, gpu.scale_up_gpus)
    full, windowed, window = layer_split(model)
    if engine.id == "vllm":  # its pool holds window - 1 + the budget of a sliding-window layer, not the window
        window = float(vllm_window(window, token_budget_per_step("vllm", gpu)))
    per_sequence = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT[resolve_kv_dtype(kv_cache_dtype, engine)]) * float(
        held_tokens(full, windowed, window, context_tokens, state_token_layers(model)))
    if engine.id == "vllm" and max_num_seqs is None:
        forward, sampler, non_torch = _vllm_parts(model, gpu, engine, gpus, profile_terms)
        room = _vllm_capacity_gib(engine, gpu) * GIB - weights_per_gpu - non_torch
        return max(1, int(vllm_batch_that_fits(room, forward, sampler, per_sequence, shards)))
    capacity, overhead = engine_memory_terms(model, gpu, engine, gpus, profile_terms, max_num_seqs)
    room = (capacity - overhead) * GIB - weights_per_gpu
    return max(1, int(math.floor(max(room, 0) * shards / per_sequence)))


def running_cap(model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int, context_tokens: int, kv_cache_dtype: str,
                profile_terms: dict[str, float] | None = None, max_num_seqs: int | None = None) -> int:
    """Sequences of `context_tokens` the engine runs at once: as many as its KV cache holds (sequences_that_fit), at most
    its sequence limit (`max_num_seqs` where the server sets one, else planner.estimate.queueing.max_running_sequences)."""
    fit = sequences_that_fit(model, quant, gpu, engine, gpus, context_tokens, kv_cache_dtype, profile_terms, max_num_seqs)
    limit = max_num_seqs or max_running_sequences(engine.id, gpu) or fit
    return max(1, min(fit, limit))
