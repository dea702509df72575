"""Memory of one GPU during fine-tuning, and LoRA's trainable parameters.

    memory_per_gpu(model, gpu, request, trainable, data, nf4_bits)   -> FineTuneMemory
    lora_trainable_params(model, rank, target_modules)              adapter parameters
    activation_bytes / qlora_base_bytes / linear_shapes             the terms it is made of

Memory per GPU is weights + gradients + optimizer states + LoRA adapter + activations + the CUDA
context, each named after what it holds:

- full fine-tuning in mixed precision with AdamW keeps bf16 weights (2 B/param), bf16 gradients
  (2 B) and fp32 master weights, momentum and variance (12 B): 16 B per parameter (ZeRO paper,
  Rajbhandari et al. 2019, arXiv 1910.02054, section 3.1). "Pure bf16" training (torchtune,
  LLaMA-Factory's pure_bf16) keeps no master copy and bf16 moments: 8 B per parameter.
- LoRA freezes the bf16 base; QLoRA stores it as 4-bit NF4 with double quantization (Dettmers et
  al. 2023, arXiv 2305.14314). The adapters train in fp32 (peft's default `autocast_adapter_dtype`),
  so each trainable parameter costs 4 B weight + 4 B gradient + 8 B Adam moments.
- ZeRO stage 1 shards optimizer states over the data-parallel GPUs, stage 2 also gradients,
  stage 3 (= FSDP full shard) also the parameters.
- Activations per layer, 16-bit, without recomputation: 34·s·b·h + 5·a·s²·b bytes (Korthikanti
  et al. 2022, arXiv 2205.05198, eq. 2). FlashAttention never stores the s² score matrices, so the
  second term goes (the default here). Full activation checkpointing keeps each layer's 2·s·b·h
  input and recomputes one layer at a time, so one layer's full activations come back at the peak.
  The loss adds the logits: tokens × vocabulary × bytes per entry (data/finetune_assumptions.csv).

Bytes inside, GiB (2**30) outside.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.catalog.records import Gpu, ModelSpec
from planner.errors import ConstraintError
from planner.finetune.data import FineTuneData
from planner.finetune.request import FineTuneRequest, resolve_target_modules
from planner.units import GIB

# Bytes per parameter. Mixed precision: ZeRO paper section 3.1 (2 + 2 + K=12).
FULL_MIXED_BYTES = {"weights": 2.0, "gradients": 2.0, "optimizer": 12.0}
FULL_PURE_BF16_BYTES = {"weights": 2.0, "gradients": 2.0, "optimizer": 4.0}
BASE_BF16_BYTES = 2.0
# fp32 adapter (peft autocast_adapter_dtype=True), fp32 gradient, two fp32 Adam moments.
ADAPTER_BYTES = {"weights": 4.0, "gradients": 4.0, "optimizer": 8.0}
# Korthikanti et al. 2022, eq. 1-2: bytes per s·b·h per layer, and the s² attention term's factor.
ACTIVATION_SBH_BYTES = 34.0
ATTENTION_SCORES_FACTOR = 5.0
CHECKPOINT_SBH_BYTES = 2.0  # a checkpointed layer keeps only its 16-bit input


class FineTuneMemory(BaseModel):
    """Memory of one GPU during training, GiB. `fits` compares the total with the GPU's memory."""

    model_config = ConfigDict(frozen=True)

    weights_gib: float
    gradients_gib: float
    optimizer_gib: float
    adapter_gib: float
    activations_gib: float
    logits_gib: float
    overhead_gib: float
    total_per_gpu_gib: float
    capacity_gib: float
    fits: bool


def memory_per_gpu(model: ModelSpec, gpu: Gpu, req: FineTuneRequest, trainable: int, data: FineTuneData,
            nf4_bits: float) -> FineTuneMemory:
    n, z = req.gpus, req.zero_stage
    shard_params, shard_grads, shard_optim = (n if z >= 3 else 1), (n if z >= 2 else 1), (n if z >= 1 else 1)
    params = model.params_total_b * 1e9
    if req.method == "full":
        per_param = FULL_PURE_BF16_BYTES if req.pure_bf16 else FULL_MIXED_BYTES
        weights = params * per_param["weights"] / shard_params
        gradients = params * per_param["gradients"] / shard_grads
        optimizer = params * per_param["optimizer"] / shard_optim
        adapter = 0.0
    else:
        base = params * BASE_BF16_BYTES if req.method == "lora" else qlora_base_bytes(model, nf4_bits)
        weights = base / shard_params
        adapter = trainable * ADAPTER_BYTES["weights"] / shard_params
        gradients = trainable * ADAPTER_BYTES["gradients"] / shard_grads
        optimizer = trainable * ADAPTER_BYTES["optimizer"] / shard_optim
    activations = activation_bytes(model, req.seq_len, req.micro_batch, req.gradient_checkpointing, req.flash_attention)
    logits = req.seq_len * req.micro_batch * model.vocab_size * data.assumption("logits_bytes_per_vocab_entry")
    overhead = data.assumption("cuda_context_gib") * GIB
    total = weights + gradients + optimizer + adapter + activations + logits + overhead
    return FineTuneMemory(
        weights_gib=weights / GIB, gradients_gib=gradients / GIB, optimizer_gib=optimizer / GIB,
        adapter_gib=adapter / GIB, activations_gib=activations / GIB, logits_gib=logits / GIB,
        overhead_gib=overhead / GIB, total_per_gpu_gib=total / GIB, capacity_gib=gpu.memory_gib,
        fits=bool(total <= gpu.memory_gib * GIB),
    )


def activation_bytes(model: ModelSpec, seq_len: int, micro_batch: int, checkpointing: bool, flash_attention: bool) -> float:
    """Activations held for the backward pass, 16-bit (Korthikanti et al. 2022, arXiv 2205.05198).

    Per layer without recomputation: 34·s·b·h + 5·a·s²·b; FlashAttention drops the s² term.
    Full checkpointing keeps 2·s·b·h per layer plus one layer recomputed in full at a time.
    """
    s, b, h, a = seq_len, micro_batch, model.hidden_size, model.attention_heads
    per_layer = ACTIVATION_SBH_BYTES * s * b * h + (0.0 if flash_attention else ATTENTION_SCORES_FACTOR * a * s * s * b)
    if checkpointing:
        return model.layers * CHECKPOINT_SBH_BYTES * s * b * h + per_layer
    return model.layers * per_layer


def qlora_base_bytes(model: ModelSpec, nf4_bits_per_weight: float) -> float:
    """Bytes of a 4-bit NF4 base: the decoder's linear layers at NF4's bits per weight, the rest in bf16.

    bitsandbytes quantizes only linear layers and transformers leaves the output head unquantized,
    so the embeddings and head (and norms) stay 16-bit. They are what the architecture's linear
    layers leave of the parameter count, bounded by one or two vocab × hidden matrices.
    """
    params = model.params_total_b * 1e9
    shapes = linear_shapes(model)
    linear = model.layers * sum(i * o * c for i, o, c in shapes.values())
    embedding = model.vocab_size * model.hidden_size
    unquantized = min(max(params - linear, embedding), 2 * embedding, params)
    quantized = params - unquantized
    return quantized * nf4_bits_per_weight / 8 + unquantized * BASE_BF16_BYTES


def lora_trainable_params(model: ModelSpec, rank: int, target_modules: str | list[str] | tuple[str, ...] = "all-linear") -> int:
    """Trainable parameters of LoRA adapters: per targeted linear layer r × (in + out).

    q_proj: hidden → heads·head_dim; k_proj, v_proj: hidden → kv_heads·head_dim; o_proj:
    heads·head_dim → hidden; gate_proj, up_proj: hidden → intermediate; down_proj: intermediate →
    hidden. A mixture of experts has one MLP per expert, so its MLP terms count experts_total times.
    """
    try:
        modules = resolve_target_modules(target_modules)
    except ValueError as exc:
        raise ConstraintError(f"Field 'target_modules': {exc}.", field="target_modules") from None
    shapes = linear_shapes(model)
    missing = [m for m in modules if m not in shapes]
    if missing:
        raise ConstraintError(f"Field 'target_modules': the model records no intermediate_size, so '{missing[0]}' "
                              "cannot be sized; target attention modules only.", field="target_modules")
    return model.layers * sum(rank * (shapes[m][0] + shapes[m][1]) * shapes[m][2] for m in modules)


def linear_shapes(model: ModelSpec) -> dict[str, tuple[int, int, int]]:
    """(in_features, out_features, copies per layer) of each linear layer of one decoder block."""
    h, q_out, kv_out = model.hidden_size, model.attention_heads * model.head_dim, model.kv_heads * model.head_dim
    shapes = {"q_proj": (h, q_out, 1), "k_proj": (h, kv_out, 1), "v_proj": (h, kv_out, 1), "o_proj": (q_out, h, 1)}
    if model.intermediate_size:
        experts = model.experts_total if model.is_moe else 1
        i = model.intermediate_size
        shapes |= {"gate_proj": (h, i, experts), "up_proj": (h, i, experts), "down_proj": (i, h, experts)}
    return shapes


__all__ = [
    "FineTuneMemory", "activation_bytes", "linear_shapes", "lora_trainable_params", "memory_per_gpu", "qlora_base_bytes",
]
