"""Memory: weights, KV cache and runtime overhead, split over GPUs, with CPU offload.

The formula functions take numbers or numpy arrays alike, so the recommender evaluates them over
every candidate at once and `estimate_memory` over one; both give the same figures. Bytes inside,
GiB (2**30) outside.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.catalog.records import Engine, Gpu, ModelSpec, Quant
from planner.units import GIB

# Tensor parallelism stays inside one node of 8 GPUs (NVLink); beyond it, pipeline stages span nodes
# (vLLM: tensor parallel within a node, pipeline parallel across nodes).
GPUS_PER_NODE = 8

# Bytes per cached element by KV-cache precision. q8_0 stores 32 int8 values with one fp16 scale.
KV_BYTES_PER_ELEMENT = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


class MemoryEstimate(BaseModel):
    """Memory of one replica. `per_gpu_gib` is the busiest GPU; `capacity_gib` what it may use."""

    model_config = ConfigDict(frozen=True)

    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float
    total_gib: float
    per_gpu_gib: float
    capacity_gib: float
    gpus: int
    split: str
    fits: bool
    gpu_layers: int
    cpu_offload_gib: float = 0.0
    kv_cache_dtype: str = "fp16"
    kv_tokens_per_sequence: int = 0
    sequences: int = 1


# Engines that load GGUF files, whose non-expert tensors a format may store otherwise than the checkpoint.
GGUF_ENGINES = frozenset({"llama.cpp", "ollama"})


def expert_params(model: ModelSpec, experts: int) -> float:
    """Parameters in `experts` routed experts of every layer: gate, up and down projections of
    hidden_size x intermediate_size each (intermediate_size is per expert in the catalogue)."""
    return float(model.layers * experts * 3 * model.hidden_size * (model.intermediate_size or 0))


def experts_only_other_bits(model: ModelSpec, quant: Quant, engine_id: str) -> float | None:
    """Bits of a mixture's non-expert weights when the format quantizes only its experts, else None."""
    if not model.is_moe or not model.intermediate_size:
        return None
    if engine_id in GGUF_ENGINES and quant.gguf_other_bits_per_weight:
        return quant.gguf_other_bits_per_weight
    return quant.other_bits_per_weight


def model_weight_bytes(model: ModelSpec, quant: Quant, engine_id: str) -> tuple[float, float]:
    """(all weights, the weights one token reads) in bytes.

    Most formats store every weight at bits_per_weight. A format that quantizes only the experts of
    a mixture (gpt-oss's MXFP4: "MoE weights" in MXFP4, the rest BF16 per its model card) stores the
    attention, embeddings and router at other_bits_per_weight, and at gguf_other_bits_per_weight in
    the GGUF files llama.cpp and Ollama load.
    """
    total, active = model.params_total_b * 1e9, model.params_active_b * 1e9
    other = experts_only_other_bits(model, quant, engine_id)
    if other is None:
        return total * quant.bits_per_weight / 8, active * quant.bits_per_weight / 8
    experts_all, experts_read = expert_params(model, model.experts_total), expert_params(model, model.experts_active)
    rest_all, rest_read = max(total - experts_all, 0.0), max(active - experts_read, 0.0)
    return ((experts_all * quant.bits_per_weight + rest_all * other) / 8,
            (experts_read * quant.bits_per_weight + rest_read * other) / 8)


def kv_bytes_per_token_layer(model: ModelSpec, kv_bytes_per_element: float) -> float:
    """Bytes one token occupies in one layer's KV cache.

    Standard and grouped-query attention keep K and V per KV head: 2 x kv_heads x head_dim elements.
    Multi-head latent attention (DeepSeek-V2/V3) caches one compressed latent plus the RoPE key:
    kv_lora_rank + qk_rope_head_dim elements (DeepSeek-V2 paper, arXiv 2405.04434, section 2.1).
    """
    return kv_elements_per_token_layer(model) * kv_bytes_per_element


def kv_cache_bytes(per_token_layer_bytes, full_layers, window_layers, window_tokens, context_tokens, sequences, state_token_layers=0.0):
    """KV cache bytes for `sequences` sequences of `context_tokens` each.

    Sliding-window layers never hold more than their window, whatever the context; linear-attention
    layers hold a fixed state (`state_token_layers`, see `state_token_layers`)."""
    return (np.asarray(per_token_layer_bytes) * held_tokens(full_layers, window_layers, window_tokens, context_tokens, state_token_layers)
            * np.asarray(sequences))


def held_tokens(full_layers, window_layers, window_tokens, context_tokens, state_token_layers=0.0):
    """Token-layers one sequence of `context_tokens` keeps (and attends to): every token in each
    full-attention layer, at most the window in each sliding-window layer, and the fixed recurrent
    state of the linear-attention layers, counted as the token-layers of cache it equals in size."""
    context = np.asarray(context_tokens, dtype=float)
    return (np.asarray(full_layers) * context + np.asarray(window_layers) * np.minimum(context, window_tokens)
            + np.asarray(state_token_layers))


def layer_split(model: ModelSpec) -> tuple[int, int, float]:
    """(full-attention layers, sliding-window layers, window tokens; inf when there is no window).

    Linear-attention and cache-free layers are neither: they hold no per-token cache."""
    window_layers = model.sliding_window_layers or 0 if model.sliding_window_tokens else 0
    window = float(model.sliding_window_tokens) if window_layers else math.inf
    return attention_layers(model) - window_layers, window_layers, window


def kv_elements_per_token_layer(model: ModelSpec) -> int:
    """Elements one token adds to one attention layer's cache: K and V per KV head, or MLA's latent
    plus RoPE key."""
    if model.uses_latent_attention:
        return model.kv_lora_rank + (model.qk_rope_head_dim or 0)
    return 2 * model.kv_heads * model.head_dim


def state_token_layers(model: ModelSpec) -> float:
    """The fixed state of a hybrid's linear-attention layers in token-layers of KV cache: every
    sequence holds linear_attention_layers x linear_state_elements elements whatever its length
    (Gated DeltaNet: value heads x key dim x value dim plus the short convolution's last kernel-1
    inputs, as vLLM's mamba_utils sizes it; Mamba-2: heads x head dim x state size plus the conv
    window). The state is held at the cache's precision (vLLM's mamba cache dtype 'auto' follows the
    model's)."""
    if not model.linear_attention_layers:
        return 0.0
    return model.linear_attention_layers * model.linear_state_elements / kv_elements_per_token_layer(model)


def attention_layers(model: ModelSpec) -> int:
    """Layers that run softmax attention over the prompt (full or sliding-window); a hybrid's
    linear-attention layers and Nemotron-H's MLP-only blocks do not."""
    return model.layers - (model.linear_attention_layers or 0) - (model.cache_free_layers or 0)


def attention_flops_per_token_layer(model: ModelSpec) -> float:
    """FLOPs a decoding token spends on one cached token in one layer (scores, then weighted values).

    Standard and grouped-query attention: every query head takes a dot product with the cached key
    and adds the value, 2 x 2 x heads x head_dim. Latent attention decodes in the compressed space
    (DeepSeek-V2 paper, arXiv 2405.04434, section 2.1.3: the up-projections are absorbed): each of
    the query heads scores against kv_lora_rank + qk_rope_head_dim elements and adds kv_lora_rank,
    so every cached element serves all the heads, about four times the work of the same heads in GQA
    (vLLM's MLA backend decodes this way: "the attention 'simulates' a multi-head attention, while the
    compute is similar to multi-query attention", docs.vllm.ai/en/v0.10.2/api/vllm/attention/backends/mla/common.html).
    """
    if model.uses_latent_attention:
        return 2 * model.attention_heads * (2 * model.kv_lora_rank + (model.qk_rope_head_dim or 0))
    return 4 * model.attention_heads * model.head_dim


def prefill_attention_flops_per_token(model: ModelSpec, prompt_tokens) -> float:
    """Attention FLOPs per prompt token in prefill. Causal: a token attends to half the prompt on average;
    scores over the query-key dims, then the weighted values. Latent attention prefills with its keys and
    values up-projected (vLLM's "compute friendly approach" for prefill): query-key dims head_dim +
    qk_rope_head_dim (192 in DeepSeek-V3), values head_dim.

    Sliding windows are not counted as saved work: llama.cpp's measured prefill (data/benchmarks.csv,
    DGX Spark rows for gpt-oss and Gemma 3 from 2k to 35k prompts) slows with the prompt as if every
    layer attended to all of it; counting the windows made those predictions up to 1.5x too fast.
    """
    dims = 2 * model.head_dim + (model.qk_rope_head_dim or 0) if model.uses_latent_attention else 2 * model.head_dim
    return 2 * attention_layers(model) * model.attention_heads * dims * np.asarray(prompt_tokens, dtype=float) / 2


def kv_read_copies(model: ModelSpec, gpus, tensor_parallel, domain=GPUS_PER_NODE) -> np.ndarray:
    """How many times a decode step reads each sequence's KV cache, over the replica's GPUs.

    Tensor parallelism gives each GPU its own KV heads; with more GPUs than KV heads (and always for a
    latent cache, one 'head') the heads are replicated and every copy is read: tp_size / kv_shards
    (vLLM, model_executor/models/deepseek_v2.py: "Number of KV heads is less than TP size, so we
    replicate the KV heads across multiple tensor parallel GPUs").
    """
    tp_size = np.where(tensor_parallel, np.minimum(np.asarray(gpus, dtype=float), domain), 1.0)
    heads = 1 if model.uses_latent_attention else model.kv_heads
    return tp_size / np.maximum(1, np.minimum(tp_size, heads))


def kv_shards(model: ModelSpec, gpus: int, tensor_parallel: bool, domain: int = GPUS_PER_NODE) -> int:
    """Over how many GPUs the KV cache divides.

    Tensor parallelism splits KV heads; with more GPUs than KV heads they are replicated, and a latent
    cache is one 'head' replicated on every rank. A layer split divides layers, so the cache too.
    """
    if not tensor_parallel:
        return gpus
    heads = 1 if model.uses_latent_attention else model.kv_heads
    tp_size = min(gpus, domain)
    return max(1, min(tp_size, heads)) * max(1, gpus // tp_size)


def usable_gib(gpu: Gpu, engine: Engine) -> float:
    """GPU memory the engine may use: vLLM and SGLang pre-allocate a fraction of it."""
    return gpu.memory_gib * (engine.default_gpu_memory_utilization or 1.0)


def resolve_kv_dtype(requested: str, engine: Engine) -> str:
    """The KV-cache precision to size with: the request if the engine supports it, else fp16."""
    if requested in {"auto", "fp16"}:
        return "fp16"
    supported = {d.lower() for d in engine.kv_cache_dtypes}
    if requested == "fp8" and any(d.startswith("fp8") for d in supported):
        return "fp8"
    if requested in supported:
        return requested
    return "fp16"


def estimate_memory(
    model: ModelSpec,
    quant: Quant,
    gpu: Gpu,
    engine: Engine,
    gpus: int = 1,
    context_tokens: int = 4096,
    sequences: int = 1,
    kv_cache_dtype: str = "auto",
    capacity_gib: float | None = None,
    overhead_gib: float | None = None,
) -> MemoryEstimate:
    """Memory of one replica serving `sequences` sequences of `context_tokens` tokens. `capacity_gib` and `overhead_gib`
    (per GPU) as the engine sizes its cache (planner.estimate.kv_capacity.engine_memory_terms: vLLM's profiled peak),
    else its memory share and fixed overhead."""
    kv_dtype = resolve_kv_dtype(kv_cache_dtype, engine)
    full, windowed, window = layer_split(model)
    weights = model_weight_bytes(model, quant, engine.id)[0]
    per_token_layer = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT[kv_dtype])
    kv = float(kv_cache_bytes(per_token_layer, full, windowed, window, context_tokens, sequences, state_token_layers(model)))
    tensor_parallel = gpus > 1 and engine.tensor_parallel
    shards = kv_shards(model, gpus, tensor_parallel, gpu.scale_up_gpus)
    overhead = (engine.overhead_gib if overhead_gib is None else overhead_gib) * GIB
    per_gpu = weights / gpus + kv / shards + overhead
    capacity = (usable_gib(gpu, engine) if capacity_gib is None else capacity_gib) * GIB
    fits, gpu_layers, offload = per_gpu <= capacity, model.layers, 0.0
    if not fits and engine.cpu_offload:
        fraction = gpu_layer_fraction(weights + kv, (capacity - overhead) * gpus)
        gpu_layers = int(math.floor(fraction * model.layers))
        offload = (weights + kv) * (1 - gpu_layers / model.layers)
        per_gpu = (weights + kv - offload) / gpus + overhead
        fits = gpu_layers > 0
    split = "single" if gpus == 1 else ("layer-split" if not tensor_parallel else
                                        "tensor-parallel" if gpus <= gpu.scale_up_gpus else "tensor+pipeline-parallel")
    return MemoryEstimate(
        weights_gib=weights / GIB,
        kv_cache_gib=kv / GIB,
        overhead_gib=overhead * gpus / GIB,
        total_gib=(weights + kv + overhead * gpus) / GIB,
        per_gpu_gib=per_gpu / GIB,
        capacity_gib=capacity / GIB,
        gpus=gpus,
        split=split,
        fits=bool(fits),
        gpu_layers=gpu_layers,
        cpu_offload_gib=offload / GIB,
        kv_cache_dtype=kv_dtype,
        kv_tokens_per_sequence=int(context_tokens),
        sequences=int(sequences),
    )


def gpu_layer_fraction(layer_bytes, gpu_bytes_for_layers):
    """Share of the layers (weights and their KV) that fit on the GPUs; the rest runs on the CPU."""
    return np.clip(np.asarray(gpu_bytes_for_layers) / np.asarray(layer_bytes), 0.0, 1.0)
