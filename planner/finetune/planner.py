"""Fine-tuning: trainable parameters, memory per GPU, time and cost of full, LoRA and QLoRA training.

    plan_finetune(catalog, model, method)   one configuration -> FineTunePlan
    min_gpus_for(catalog, model, method, gpu)   how many of a GPU a method needs
    compare_methods(catalog, model)   the three methods side by side

Memory per GPU: planner.finetune.memory. What a deployment plan says about fine-tuning:
planner.finetune.section.

Time: training FLOPs ≈ 6 × parameters × tokens (Kaplan et al. 2020, arXiv 2001.08361, section
2.1: forward 2N, backward 4N per token). LoRA skips the frozen weights' gradients (half of the
backward), so ≈ 4 × parameters × tokens; a mixture of experts counts its active parameters. The
GPUs deliver a published model-FLOPs utilisation of their dense bf16 peak; QLoRA pays a measured
dequantization slowdown. Both factors live in data/finetune_assumptions.csv with their sources.

Bytes inside, GiB (2**30) outside.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from planner.catalog.loading import Catalog
from planner.catalog.records import Gpu, ModelSpec
from planner.findings import Finding
from planner.finetune.data import FineTuneData, load_finetune_data
from planner.finetune.memory import (
    BASE_BF16_BYTES,
    FineTuneMemory,
    lora_trainable_params,
    memory_per_gpu,
)
from planner.finetune.request import (
    MAX_GPUS_SEARCHED,
    METHOD_NAMES,
    METHODS,
    FineTuneRequest,
    Method,
    validated_request,
)
from planner.units import GIB, MILLION, TERA

# Saved adapters are written in bf16 safetensors.
ADAPTER_FILE_BYTES_PER_PARAM = 2.0
# Training FLOPs per parameter per token (Kaplan et al. 2020; LoRA: no frozen-weight gradients).
FLOPS_PER_PARAM_TOKEN = {"full": 6.0, "lora": 4.0, "qlora": 4.0}

PREFERRED_TRAINING_GPUS = ("h100-sxm", "a100-80gb", "h200", "h100-pcie")
QLORA_QUANT = "bnb-nf4"  # the catalogue's NF4 + double quantization record (4.127 bits per weight)


# ---------------------------------------------------------------- results

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
    request = validated_request(method=method, rank=rank, alpha=alpha, target_modules=target_modules, gpus=gpus,
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
    memory = memory_per_gpu(model, gpu, req, trainable, data, nf4_bits)
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


__all__ = [
    "FineTunePlan", "ServiceQuote", "compare_methods", "default_training_gpu", "min_gpus_for", "plan_finetune",
    "training_flops", "training_tflops",
]
