"""What a deployment plan says about fine-tuning: the method's GPUs, its plan and its findings.

    finetune_section(catalog, model_id, ask)    the plan's or PDF's fine-tuning part, as JSON types
    finetune_findings(catalog, model_id, ask)   the findings alone
"""

from __future__ import annotations

import dataclasses

from planner.catalog.loading import Catalog
from planner.catalog.records import Gpu, ModelSpec
from planner.findings import Finding
from planner.finetune.planner import default_training_gpu, min_gpus_for, plan_finetune
from planner.finetune.request import MAX_GPUS_SEARCHED, METHOD_NAMES, METHODS

SECTION_SEQ_LEN = 2048  # the sequence length a plan's fine-tuning section assumes


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


__all__ = ["TrainingAsk", "finetune_findings", "finetune_section"]
