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

What vLLM profiles is estimated where no log gives it: non-torch memory from PR #10511's logs (1.79 GiB on an
H100 at TP 1, 3.58 GiB per GPU at TP 2) and #13061's (0.25 GiB on RTX 4090s at TP 2); the activation peak as
the step's token budget through the widest layer (the MLP's gate and up projections, split by TP, and the
hidden state a few times) plus the sampler's logits for the engine's sequence limit in FP32.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from planner.catalog.records import Engine, Gpu, ModelSpec, Quant
from planner.estimate.memory import (
    KV_BYTES_PER_ELEMENT,
    attention_layers,
    kv_bytes_per_token_layer,
    kv_shards,
    layer_split,
    model_weight_bytes,
    resolve_kv_dtype,
    state_token_layers,
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


def vllm_non_torch_gib(gpu: Gpu, tp: int) -> float:
    """Non-torch memory vLLM profiles per GPU: logged 1.79 GiB on an H100 alone and 3.58 GiB each at TP 2
    (vllm PR #10511), 0.25 GiB on RTX 4090s at TP 2 (vllm issue #13061)."""
    if gpu.kind == "datacenter":
        return 1.79 * (2 if tp > 1 else 1)
    return 0.25


def vllm_activation_peak_gib(model: ModelSpec, gpu: Gpu, tp: int, max_num_seqs: int | None = None,
                             max_num_batched_tokens: int | None = None) -> float:
    """The activation peak of vLLM's profiling run: the step's token budget through the MLP's gate and up
    projections (split by TP) and four hidden-state copies in BF16, plus FP32 logits for its sequence limit.
    For Llama 3 8B on an H100 this gives 1.09 GiB against the 1.26 GiB PR #10511 logged."""
    budget = max_num_batched_tokens or token_budget_per_step("vllm", gpu)
    width = 2 * (model.intermediate_size or 4 * model.hidden_size) / max(tp, 1) + 4 * model.hidden_size
    if model.is_moe and model.experts_active:
        width = 2 * (model.intermediate_size or 0) * model.experts_active / max(tp, 1) + 4 * model.hidden_size
    seqs = max_num_seqs or max_running_sequences("vllm", gpu) or 256
    return (budget * width * 2 + seqs * model.vocab_size * 4) / GIB


def kv_bytes_per_token_per_gpu(model: ModelSpec, gpus: int, tensor_parallel: bool, kv_dtype: str, domain: int) -> float:
    """Bytes one token takes in every attention layer's cache on one GPU (KV heads split by TP, replicated
    past the head count), each layer counted whole as vLLM's block pool counts it."""
    per_layer = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT[kv_dtype])
    return per_layer * attention_layers(model) / kv_shards(model, gpus, tensor_parallel, domain)


def request_token_layers(model: ModelSpec, tokens: int, budget: int) -> float:
    """Token-layers of cache one request of `tokens` needs: every token in full-attention layers, at most
    window - 1 + the step's budget in sliding-window ones (vLLM's SlidingWindowSpec), and a hybrid's fixed state."""
    full, windowed, window = layer_split(model)
    held_windowed = min(tokens, window - 1 + budget) if math.isfinite(window) else tokens
    return full * tokens + windowed * held_windowed + state_token_layers(model)


def kv_capacity(model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int = 1, tokens_per_request: int = 4096,
                kv_cache_dtype: str = "auto", memory_fraction: float | None = None, slots: int = 1,
                max_num_seqs: int | None = None, max_num_batched_tokens: int | None = None, cuda_graphs: bool = True) -> KvCapacity:
    """The KV cache an engine sets up for this replica, and how many requests of `tokens_per_request` it holds.

    `memory_fraction`: vLLM's --gpu-memory-utilization, SGLang's --mem-fraction-static, TensorRT-LLM's
    free_gpu_memory_fraction (default: the engine's). llama.cpp: `tokens_per_request` is -c per slot.
    `max_num_seqs`, `max_num_batched_tokens`: vLLM's limits where they are not its defaults; `cuda_graphs`
    False for --enforce-eager."""
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
        activation = vllm_activation_peak_gib(model, gpu, tp_size, max_num_seqs, max_num_batched_tokens)
        non_torch = vllm_non_torch_gib(gpu, tp_size)
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
