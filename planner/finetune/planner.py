"""Fine-tuning: memory per GPU, trainable parameters, time and cost of full, LoRA and QLoRA training.

    plan_finetune(catalog, model, method)   one configuration -> FineTunePlan
    min_gpus_for(catalog, model, method, gpu)   how many of a GPU a method needs
    finetune_findings / finetune_section    what a deployment plan says about fine-tuning

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

Time: training FLOPs ≈ 6 × parameters × tokens (Kaplan et al. 2020, arXiv 2001.08361, section
2.1: forward 2N, backward 4N per token). LoRA skips the frozen weights' gradients (half of the
backward), so ≈ 4 × parameters × tokens; a mixture of experts counts its active parameters. The
GPUs deliver a published model-FLOPs utilisation of their dense bf16 peak; QLoRA pays a measured
dequantization slowdown. Both factors live in data/finetune_assumptions.csv with their sources.

Bytes inside, GiB (2**30) outside.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner.catalog.loading import DATA_DIR, Catalog
from planner.catalog.records import Assumption, Gpu, ModelSpec, OptFloat, Record
from planner.errors import CatalogError, ConstraintError
from planner.findings import Finding
from planner.units import GIB, MILLION, TERA

Method = Literal["lora", "qlora", "full"]
METHODS: tuple[str, ...] = ("lora", "qlora", "full")
METHOD_NAMES = {"lora": "LoRA", "qlora": "QLoRA", "full": "Full fine-tuning"}

# The linear layers of a Llama-style decoder block, as Hugging Face names them.
LINEAR_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MLP_MODULES = frozenset({"gate_proj", "up_proj", "down_proj"})
TARGET_PRESETS: dict[str, tuple[str, ...]] = {
    "all-linear": LINEAR_MODULES,  # peft's "all-linear": every linear layer but the output head
    "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qv": ("q_proj", "v_proj"),  # the LoRA paper's choice (Hu et al. 2021, section 7.1)
}

# Bytes per parameter. Mixed precision: ZeRO paper section 3.1 (2 + 2 + K=12).
FULL_MIXED_BYTES = {"weights": 2.0, "gradients": 2.0, "optimizer": 12.0}
FULL_PURE_BF16_BYTES = {"weights": 2.0, "gradients": 2.0, "optimizer": 4.0}
BASE_BF16_BYTES = 2.0
# fp32 adapter (peft autocast_adapter_dtype=True), fp32 gradient, two fp32 Adam moments.
ADAPTER_BYTES = {"weights": 4.0, "gradients": 4.0, "optimizer": 8.0}
# Saved adapters are written in bf16 safetensors.
ADAPTER_FILE_BYTES_PER_PARAM = 2.0
# Korthikanti et al. 2022, eq. 1-2: bytes per s·b·h per layer, and the s² attention term's factor.
ACTIVATION_SBH_BYTES = 34.0
ATTENTION_SCORES_FACTOR = 5.0
CHECKPOINT_SBH_BYTES = 2.0  # a checkpointed layer keeps only its 16-bit input
# Training FLOPs per parameter per token (Kaplan et al. 2020; LoRA: no frozen-weight gradients).
FLOPS_PER_PARAM_TOKEN = {"full": 6.0, "lora": 4.0, "qlora": 4.0}

PREFERRED_TRAINING_GPUS = ("h100-sxm", "a100-80gb", "h200", "h100-pcie")
MAX_GPUS_SEARCHED = 1024
SECTION_SEQ_LEN = 2048  # the sequence length a plan's fine-tuning section assumes
REQUIRED_FT_ASSUMPTIONS = ("mfu", "qlora_time_factor", "logits_bytes_per_vocab_entry", "cuda_context_gib")
QLORA_QUANT = "bnb-nf4"  # the catalogue's NF4 + double quantization record (4.127 bits per weight)


# ---------------------------------------------------------------- results

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


class ServiceQuote(BaseModel):
    """A managed fine-tuning service priced for this job's training tokens."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    service: str
    same_model: bool  # True: the service trains this open-weights model; False: a closed model instead
    usd_per_mtok: float
    usd_total: float
    source: str
    as_of: str
    notes: str | None = None


class FineTunePlan(BaseModel):
    """One fine-tuning configuration with its memory, time, cost and what it means for serving."""

    model_config = ConfigDict(frozen=True)

    model: str
    model_name: str
    method: Method
    rank: int | None
    alpha: float | None
    target_modules: list[str]
    gpu: str
    gpu_name: str
    gpus: int
    zero_stage: int
    seq_len: int
    micro_batch: int
    gradient_checkpointing: bool
    flash_attention: bool
    pure_bf16: bool
    tokens: float
    epochs: float
    total_params: int
    trainable_params: int
    trainable_fraction: float
    memory: FineTuneMemory
    training_flops: float
    time_hours: float | None
    usd_per_gpu_hour: float | None
    price_provider: str | None
    cost_usd: float | None
    adapter_size_mib: float | None
    checkpoint_size_gib: float
    services: list[ServiceQuote]
    findings: list[Finding]
    approximate: bool

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------- input

class FineTuneRequest(BaseModel):
    """What to plan; validated so a bad value names its field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method
    rank: Annotated[int, Field(ge=1, le=4096)] = 16
    alpha: Annotated[float, Field(gt=0)] = 32.0
    target_modules: tuple[str, ...] = TARGET_PRESETS["all-linear"]
    gpus: Annotated[int, Field(ge=1, le=MAX_GPUS_SEARCHED)] = 1
    seq_len: Annotated[int, Field(ge=1, le=10_485_760)] = 2048
    micro_batch: Annotated[int, Field(ge=1, le=4096)] = 1
    gradient_checkpointing: bool = True
    flash_attention: bool = True
    zero_stage: Annotated[int, Field(ge=0, le=3)] = 0
    pure_bf16: bool = False
    tokens: Annotated[float, Field(ge=0, le=1e15)] = 10 * MILLION
    epochs: Annotated[float, Field(gt=0, le=1000)] = 1.0

    @field_validator("target_modules", mode="before")
    @classmethod
    def _targets(cls, value: object) -> object:
        return resolve_target_modules(value)


def resolve_target_modules(value: object) -> tuple[str, ...]:
    """A preset name ("all-linear", "attention", "qv"), a comma-separated string, or a list of module names."""
    if isinstance(value, str):
        preset = TARGET_PRESETS.get(value.strip().lower())
        if preset is not None:
            return preset
        value = value.replace(";", ",").split(",")
    names = [str(v).strip() for v in value or [] if str(v).strip()]  # type: ignore[union-attr]
    unknown = [n for n in names if n not in LINEAR_MODULES]
    if unknown or not names:
        raise ValueError(f"unknown module '{unknown[0] if unknown else ''}'; use one of {', '.join(TARGET_PRESETS)} "
                         f"or names from {', '.join(LINEAR_MODULES)}")
    return tuple(m for m in LINEAR_MODULES if m in names)  # canonical order, no duplicates


# ---------------------------------------------------------------- public functions

def plan_finetune(
    catalog: Catalog,
    model: str | ModelSpec,
    method: str,
    rank: int = 16,
    alpha: float = 32.0,
    target_modules: str | list[str] | tuple[str, ...] = "all-linear",
    gpu: str | None = None,
    gpus: int = 1,
    seq_len: int = 2048,
    micro_batch: int = 1,
    gradient_checkpointing: bool = True,
    zero_stage: int = 0,
    tokens: float = 10 * MILLION,
    epochs: float = 1.0,
    flash_attention: bool = True,
    pure_bf16: bool = False,
) -> FineTunePlan:
    """Memory per GPU, trainable parameters, time (hours) and cost (USD) of one fine-tuning run.

    `tokens` is the size of the dataset; `epochs` passes over it. Raises ConstraintError naming
    the field for invalid input, LookupFailed for an unknown model or GPU.
    """
    request = _request(method=method, rank=rank, alpha=alpha, target_modules=target_modules, gpus=gpus,
                       seq_len=seq_len, micro_batch=micro_batch, gradient_checkpointing=gradient_checkpointing,
                       flash_attention=flash_attention, zero_stage=zero_stage, pure_bf16=pure_bf16,
                       tokens=tokens, epochs=epochs)
    spec = model if isinstance(model, ModelSpec) else catalog.model(model)
    device = catalog.gpu(gpu) if gpu else default_training_gpu(catalog)
    data = load_finetune_data()
    return _plan(catalog, spec, device, request, data)


def min_gpus_for(
    catalog: Catalog,
    model: str | ModelSpec,
    method: str,
    gpu: str,
    zero_stage: int = 3,
    max_gpus: int = MAX_GPUS_SEARCHED,
    **options,
) -> int | None:
    """The fewest GPUs of this kind on which the method fits, sharded with `zero_stage`; None if none up to max_gpus.

    Without sharding (stage 0) more GPUs never lower the memory per GPU, so one GPU decides.
    """
    first = plan_finetune(catalog, model, method, gpu=gpu, gpus=1, zero_stage=zero_stage, **options)
    if first.memory.fits:
        return 1
    if zero_stage == 0:
        return None
    low, high = 1, None
    n = 2
    while n <= max_gpus:  # doubling, then bisection: memory per GPU falls monotonically with n
        if plan_finetune(catalog, model, method, gpu=gpu, gpus=n, zero_stage=zero_stage, **options).memory.fits:
            high = n
            break
        low, n = n, n * 2
    if high is None:
        if low < max_gpus and plan_finetune(catalog, model, method, gpu=gpu, gpus=max_gpus, zero_stage=zero_stage,
                                            **options).memory.fits:
            high = max_gpus
        else:
            return None
    while high - low > 1:
        mid = (low + high) // 2
        if plan_finetune(catalog, model, method, gpu=gpu, gpus=mid, zero_stage=zero_stage, **options).memory.fits:
            high = mid
        else:
            low = mid
    return high


def compare_methods(catalog: Catalog, model: str | ModelSpec, gpu: str | None = None, gpus: int = 1,
                    **options) -> list[FineTunePlan]:
    """The three methods side by side on the same GPUs and data (what the Fine-tuning page shows)."""
    return [plan_finetune(catalog, model, m, gpu=gpu, gpus=gpus, **options) for m in METHODS]


@dataclasses.dataclass(frozen=True)
class TrainingAsk:
    """What a deployment plan asks of fine-tuning: the method (or "none"), the data, and the GPUs owned."""

    method: str
    tokens: float
    epochs: float
    owned: tuple[tuple[str, int], ...] = ()  # (device id, count) the architect owns


def finetune_findings(catalog: Catalog, model_id: str, ask: TrainingAsk) -> list[Finding]:
    """What a deployment plan should say when the architect plans to fine-tune (`ask.method`)."""
    if ask.method == "none":
        return []
    return _section(catalog, model_id, ask)[1]


def finetune_section(catalog: Catalog, model_id: str, ask: TrainingAsk) -> dict:
    """The fine-tuning part of a plan or PDF, as JSON types; an empty dict when no fine-tuning is planned.

    The GPU is the architect's own (the kind with the most memory in total, with its count), else
    a rented training GPU in as many as the method needs.
    """
    if ask.method == "none":
        return {}
    return _section(catalog, model_id, ask)[0]


def _section(catalog: Catalog, model_id: str, ask: TrainingAsk) -> tuple[dict, list[Finding]]:
    method = ask.method
    gpu, owned_count = _training_gpu_for(catalog, ask)
    spec = catalog.model(model_id)
    seq_len = min(SECTION_SEQ_LEN, spec.max_context_tokens)
    gpus_needed = {m: min_gpus_for(catalog, spec, m, gpu.id, seq_len=seq_len) for m in METHODS}
    gpus = owned_count if owned_count else (gpus_needed[method] or 1)
    plan = plan_finetune(catalog, spec, method, gpu=gpu.id, gpus=gpus, zero_stage=3 if gpus > 1 else 0,
                         seq_len=seq_len, tokens=ask.tokens, epochs=ask.epochs)
    findings = [*_method_count_findings(spec, gpu, method, gpus_needed, owned_count, seq_len), *plan.findings]
    section = {
        "method": method,
        "model": spec.id,
        "gpu": gpu.id,
        "gpus": gpus,
        "owned": owned_count is not None,
        "gpus_needed": gpus_needed,
        "plan": plan.to_json_dict(),
        "findings": [f.model_dump(mode="json") for f in findings],
    }
    return section, findings


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


def default_training_gpu(catalog: Catalog) -> Gpu:
    """A common rented training GPU: H100 SXM when the catalogue has it."""
    for gpu_id in PREFERRED_TRAINING_GPUS:
        if gpu_id in catalog.gpus:
            return catalog.gpus[gpu_id]
    return max(catalog.gpus.values(), key=lambda g: (g.fp16_tflops_dense or 0, g.memory_gib))


def training_tflops(gpu: Gpu) -> float | None:
    """Dense 16-bit tensor TFLOPS with FP32 accumulate, which mixed-precision training uses.

    The catalogue records GeForce cards at their FP16-accumulate rate; with FP32 accumulate they
    run at half of it (Ada whitepaper: RTX 4090 330.3 vs 165.2 TFLOPS; GA102 whitepaper likewise).
    Workstation and datacenter parts run both at full rate.
    """
    if gpu.fp16_tflops_dense is None:
        return None
    if gpu.kind == "consumer" and gpu.vendor.upper().startswith("NVIDIA"):
        return gpu.fp16_tflops_dense / 2
    return gpu.fp16_tflops_dense


# ---------------------------------------------------------------- the numbers

def _plan(catalog: Catalog, model: ModelSpec, gpu: Gpu, req: FineTuneRequest, data: FineTuneData) -> FineTunePlan:
    lora = req.method != "full"
    total_params = int(round(model.params_total_b * 1e9))
    trainable = lora_trainable_params(model, req.rank, req.target_modules) if lora else total_params
    nf4_bits = catalog.quant(QLORA_QUANT).bits_per_weight
    memory = _memory(model, gpu, req, trainable, data, nf4_bits)
    flops = training_flops(model, req.method, req.tokens * req.epochs)
    tflops = training_tflops(gpu)
    time_hours = None
    if tflops:
        slowdown = data.assumption("qlora_time_factor") if req.method == "qlora" else 1.0
        seconds = flops * slowdown / (req.gpus * tflops * TERA * data.assumption("mfu"))
        time_hours = seconds / 3600
    prices = catalog.rent_prices(gpu.id)
    price = prices[0] if prices else None
    cost = time_hours * req.gpus * price.usd if (time_hours is not None and price) else None
    plan = FineTunePlan(
        model=model.id, model_name=model.name, method=req.method,
        rank=req.rank if lora else None, alpha=req.alpha if lora else None,
        target_modules=list(req.target_modules) if lora else [],
        gpu=gpu.id, gpu_name=gpu.name, gpus=req.gpus, zero_stage=req.zero_stage, seq_len=req.seq_len,
        micro_batch=req.micro_batch, gradient_checkpointing=req.gradient_checkpointing,
        flash_attention=req.flash_attention, pure_bf16=req.pure_bf16 and not lora,
        tokens=req.tokens, epochs=req.epochs, total_params=total_params, trainable_params=trainable,
        trainable_fraction=trainable / total_params, memory=memory, training_flops=flops,
        time_hours=time_hours, usd_per_gpu_hour=price.usd if price else None,
        price_provider=price.provider if price else None, cost_usd=cost,
        adapter_size_mib=trainable * ADAPTER_FILE_BYTES_PER_PARAM / 2**20 if lora else None,
        checkpoint_size_gib=total_params * BASE_BF16_BYTES / GIB,
        services=_quotes(model, req, data), findings=[], approximate=_approximate(model, lora),
    )
    return plan.model_copy(update={"findings": _plan_findings(plan, model, gpu)})


def training_flops(model: ModelSpec, method: str, tokens_processed: float) -> float:
    """FLOPs to train on `tokens_processed` tokens (dataset × epochs); active parameters for a mixture of experts."""
    return FLOPS_PER_PARAM_TOKEN[method] * model.params_active_b * 1e9 * tokens_processed


def _memory(model: ModelSpec, gpu: Gpu, req: FineTuneRequest, trainable: int, data: FineTuneData,
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


def _approximate(model: ModelSpec, lora: bool) -> bool:
    """Latent attention and expert layouts differ from the Llama-style shapes the counts assume."""
    return model.uses_latent_attention or (lora and model.is_moe)


def _quotes(model: ModelSpec, req: FineTuneRequest, data: FineTuneData) -> list[ServiceQuote]:
    """Managed services that could run this job (same open model) or a closed model's fine-tuning instead."""
    mtok = req.tokens * req.epochs / MILLION
    method = "lora" if req.method == "qlora" else req.method
    quotes = []
    for s in data.services:
        same_model = s.applies_to == "open-weights"
        if same_model and (method not in s.methods or not s.covers(model.params_total_b)):
            continue
        quotes.append(ServiceQuote(id=s.id, provider=s.provider, service=s.service, same_model=same_model,
                                   usd_per_mtok=s.usd_per_mtok_training, usd_total=mtok * s.usd_per_mtok_training,
                                   source=s.source, as_of=s.as_of.isoformat(), notes=s.notes))
    return sorted(quotes, key=lambda q: (not q.same_model, q.usd_total))


# ---------------------------------------------------------------- findings

def _plan_findings(plan: FineTunePlan, model: ModelSpec, gpu: Gpu) -> list[Finding]:
    name = METHOD_NAMES[plan.method]
    m = plan.memory
    out = [Finding(
        rule="finetune.fits", effect="info" if m.fits else "warning", subject=plan.method,
        message=(f"{name} of {model.name} {'fits' if m.fits else 'does NOT fit'} on {plan.gpus} × {gpu.name}: "
                 f"{m.total_per_gpu_gib:.1f} of {m.capacity_gib:.0f} GiB per GPU at {plan.seq_len:,} tokens × "
                 f"micro-batch {plan.micro_batch}{', checkpointed' if plan.gradient_checkpointing else ''}"
                 f"{f', ZeRO-{plan.zero_stage}' if plan.zero_stage else ''}."),
    )]
    if plan.time_hours is not None:
        cost = (f" ≈ {_usd(plan.cost_usd)} at ${plan.usd_per_gpu_hour:.2f}/GPU-hour ({plan.price_provider})"
                if plan.cost_usd is not None else " (no rent price listed for this GPU)")
        out.append(Finding(rule="finetune.time", effect="info", subject=plan.method, message=(
            f"{plan.tokens * plan.epochs / 1e6:,.1f} M training tokens take ≈ {plan.time_hours:,.1f} h on "
            f"{plan.gpus} × {gpu.name}{cost}.")))
    else:
        out.append(Finding(rule="finetune.time", effect="warning", subject=plan.method, message=(
            f"{gpu.name} has no published 16-bit tensor rate in the catalogue, so no training time is estimated.")))
    same = [q for q in plan.services if q.same_model]
    if same and plan.cost_usd is not None:
        best = same[0]
        out.append(Finding(rule="finetune.service", effect="info", subject=plan.method, message=(
            f"{best.provider} would train it for ≈ {_usd(best.usd_total)} (${best.usd_per_mtok:.2f} per M tokens) "
            f"against ≈ {_usd(plan.cost_usd)} of rented GPU time.")))
    out.append(_serving_finding(plan))
    if plan.approximate:
        out.append(Finding(rule="finetune.approximate", effect="info", subject=model.id, message=(
            f"{model.name} uses {'latent attention' if model.uses_latent_attention else 'experts'}; the adapter size "
            "assumes Llama-style projections and separate expert MLPs, so treat it as approximate.")))
    return out


def _usd(x: float) -> str:
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def _serving_finding(plan: FineTunePlan) -> Finding:
    if plan.method == "full":
        return Finding(rule="finetune.serving", effect="info", subject="full", message=(
            f"Full fine-tuning produces a new {plan.checkpoint_size_gib:,.1f} GiB checkpoint: serve and quantize it "
            "like the base model, one deployment per fine-tuned variant."))
    rank_flag = max(16, 2 ** math.ceil(math.log2(plan.rank or 1)))  # vLLM's default and its power-of-two sizes
    trained_on = (" It was trained against the 4-bit base: serve it on that base, or merge it into the bf16 weights "
                  "and quantize the result for serving." if plan.method == "qlora" else " Merge it into the base for one model.")
    return Finding(rule="finetune.serving", effect="info", subject=plan.method, message=(
        f"The adapter is {plan.adapter_size_mib:,.0f} MiB (bf16 safetensors).{trained_on} To serve many adapters on one "
        f"base, run vLLM with `--enable-lora --max-lora-rank {rank_flag}` (https://docs.vllm.ai/en/latest/features/lora.html)."))


def _method_count_findings(model: ModelSpec, gpu: Gpu, method: str, needed: dict[str, int | None],
                           owned: int | None, seq_len: int) -> list[Finding]:
    """'QLoRA of a 70B model fits on one 80 GB GPU; full fine-tuning needs 16.'"""
    def count(n: int | None) -> str:
        return f"more than {MAX_GPUS_SEARCHED}" if n is None else str(n)

    parts = [f"{METHOD_NAMES[m]} needs {count(needed[m])} × {gpu.name}" for m in METHODS]
    out = [Finding(rule="finetune.gpus_needed", effect="info", subject=model.id,
                   message=f"{model.name}: " + "; ".join(parts) + f" (FSDP/ZeRO-3 over several GPUs, {seq_len:,}-token sequences).")]
    chosen = needed[method]
    if owned is not None and (chosen is None or chosen > owned):
        cheaper = [m for m in METHODS if needed[m] is not None and needed[m] <= owned]
        hint = f" {METHOD_NAMES[cheaper[0]]} fits on them." if cheaper else ""
        out.append(Finding(rule="finetune.owned_too_small", effect="warning", subject=method, message=(
            f"{METHOD_NAMES[method]} of {model.name} needs {count(chosen)} × {gpu.name}; you have {owned}.{hint}")))
    return out


def _training_gpu_for(catalog: Catalog, ask: TrainingAsk) -> tuple[Gpu, int | None]:
    owned = [(gpu, count) for gpu, count in ask.owned if gpu in catalog.gpus]
    if owned:
        best = max(owned, key=lambda g: catalog.gpus[g[0]].memory_gib * g[1])
        return catalog.gpus[best[0]], best[1]
    return default_training_gpu(catalog), None


def _request(**values) -> FineTuneRequest:
    try:
        return FineTuneRequest(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "input"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "literal_error" and field == "method":
            message = f"must be one of {', '.join(METHODS)}"
        got = first.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and not isinstance(got, bool) else ""
        raise ConstraintError(f"Field '{field}': {message}{shown}.", field=field) from None


# ---------------------------------------------------------------- data

class FineTuneService(Record):
    """A managed fine-tuning service's published price per million training tokens."""

    id: str
    provider: str
    service: str
    applies_to: Literal["open-weights", "closed"]
    methods: Annotated[tuple[str, ...], Field(min_length=1)]
    min_params_b: OptFloat = None
    max_params_b: OptFloat = None
    usd_per_mtok_training: Annotated[float, Field(ge=0)]
    billing: str

    @field_validator("methods", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(v.strip() for v in value.split(";") if v.strip()) if isinstance(value, str) else value

    def covers(self, params_b: float) -> bool:
        return (self.min_params_b is None or params_b > self.min_params_b) and (
            self.max_params_b is None or params_b <= self.max_params_b)


class FineTuneReference(Record):
    """A published fine-tuning measurement (peak memory or throughput) the estimate is checked against."""

    id: str
    model: str
    method: Method
    rank: OptFloat = None
    target_modules: str = "all-linear"
    seq_len: Annotated[int, Field(ge=1)]
    micro_batch: Annotated[int, Field(ge=1)]
    gradient_checkpointing: bool
    flash_attention: bool = True
    pure_bf16: bool = False
    gpus: Annotated[int, Field(ge=1)] = 1
    zero_stage: Annotated[int, Field(ge=0, le=3)] = 0
    gpu: str
    metric: Literal["peak_memory", "tokens_per_s"]
    value: Annotated[float, Field(gt=0)]
    unit: Literal["GB", "GiB", "tokens/s"]
    kind: Literal["measured", "upper_bound", "guideline"]

    @property
    def value_gib(self) -> float:
        return self.value * 1e9 / GIB if self.unit == "GB" else self.value


class FineTuneData(BaseModel):
    """The fine-tuning data files, validated."""

    model_config = ConfigDict(frozen=True)

    services: tuple[FineTuneService, ...]
    references: tuple[FineTuneReference, ...]
    assumptions: dict[str, Assumption]
    reference_models: tuple[ModelSpec, ...] = ()  # models only the references use (not offered by the planner)

    def assumption(self, key: str) -> float:
        return self.assumptions[key].value


@functools.lru_cache(maxsize=4)
def load_finetune_data(data_dir: Path = DATA_DIR) -> FineTuneData:
    """data/finetune_{services,references,assumptions,models}.csv, validated; cached."""
    data_dir = Path(data_dir)
    assumptions = {a.id: a for a in _read(data_dir / "finetune_assumptions.csv", Assumption)}
    for key in REQUIRED_FT_ASSUMPTIONS:
        if key not in assumptions:
            raise CatalogError(f"finetune_assumptions.csv: the assumption '{key}' is missing.")
    return FineTuneData(services=tuple(_read(data_dir / "finetune_services.csv", FineTuneService)),
                        references=tuple(_read(data_dir / "finetune_references.csv", FineTuneReference)),
                        assumptions=assumptions,
                        reference_models=tuple(_read(data_dir / "finetune_models.csv", ModelSpec)))


def _read(path: Path, kind: type[Record]) -> list:
    if not path.exists():
        raise CatalogError(f"{path.name}: the data file is missing (expected at {path}).")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row_number, row in enumerate(rows, start=2):
        if None in row:
            raise CatalogError(f"{path.name}, row {row_number}: more cells than columns in the header.")
        try:
            # A blank cell is an absent value, so the field's default applies.
            out.append(kind.model_validate({k: v for k, v in row.items() if v is not None and v.strip()}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise CatalogError(f"{path.name}, row {row_number}, field '{where}': {first['msg']}.") from None
    return out


__all__ = [
    "FineTuneData", "FineTuneMemory", "FineTunePlan", "FineTuneReference", "FineTuneRequest", "FineTuneService",
    "LINEAR_MODULES", "METHODS", "ServiceQuote", "TARGET_PRESETS", "TrainingAsk", "activation_bytes", "compare_methods",
    "default_training_gpu", "finetune_findings", "finetune_section", "linear_shapes", "load_finetune_data",
    "lora_trainable_params", "min_gpus_for", "plan_finetune", "qlora_base_bytes", "resolve_target_modules",
    "training_flops", "training_tflops",
]

