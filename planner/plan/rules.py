"""The rules: small, named, each with a sentence a person understands.

Hard rules exclude (privacy, context, licence, memory, latency, GPUs owned, budget). Preferences
score what is left (capability for the task, cost, quantization quality, headroom, simplicity).
The seed's guide decides which way the constraints point: open weights for privacy, volume,
offline use and fine-tuning; a closed API for maximum capability, low volume and complex reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.catalog.records import ModelSpec, Quant
from planner.estimate.load import Workload
from planner.findings import Finding
from planner.plan.constraints import Constraints
from planner.plan.workload import Filters


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str  # "hard" or "preference" or "guide"
    summary: str


RULES: tuple[Rule, ...] = (
    Rule("privacy.no-api", "hard", "When data may not leave the company, third-party APIs are excluded."),
    Rule("privacy.on-prem", "hard", "On-premises and offline plans run on hardware you own, not rented cloud GPUs."),
    Rule("context.fits", "hard", "The model's maximum context must hold the context the task needs."),
    Rule("licence.commercial", "hard", "Commercial use needs a licence that allows it."),
    Rule("licence.restricted", "preference", "Licences with conditions (user caps, use policies) are flagged."),
    Rule("memory.fits", "hard", "Weights, KV cache and engine overhead must fit in GPU memory (CPU offload allowed for llama.cpp/Ollama)."),
    Rule("latency.targets", "hard", "Time to first token and tokens/s per stream must meet the targets."),
    Rule("hardware.owned", "hard", "A plan on your own GPUs cannot use more of them than you have."),
    Rule("quant.dominated", "preference", "A weight format no smaller and no better in measured quality than another is not considered."),
    Rule("hardware.dominated", "preference", "A device that costs no less than another, with no more memory, bandwidth or compute, is not considered."),
    Rule("budget.monthly", "hard", "The monthly cost must stay within the budget."),
    Rule("prefer.capability", "preference", "Higher published benchmark score for the task is preferred."),
    Rule("prefer.cost", "preference", "Cheaper is preferred: each doubling of monthly cost costs 3 points."),
    Rule("prefer.quant-quality", "preference", "Quantizations with a larger measured quality loss are penalised."),
    Rule("prefer.headroom", "preference", "Configurations that fill GPU memory to the brim are penalised."),
    Rule("prefer.simplicity", "preference", "Fewer GPUs per replica and fewer replicas are simpler to run."),
    Rule("guide.open-weights", "guide", "Open weights are strongly preferred for data privacy, high volume, offline use, custom fine-tuning and product embedding."),
    Rule("guide.closed-api", "guide", "A closed API is worth considering for maximum capability, low volume, rapid development and complex reasoning."),
)

# Candidate exclusion codes, in the order the checks run: a candidate's code is its first failure.
OK, NO_MEMORY, TOO_SLOW, TOO_MANY_GPUS, OVER_BUDGET = 0, 1, 2, 3, 4
CODE_RULE = {NO_MEMORY: "memory.fits", TOO_SLOW: "latency.targets", TOO_MANY_GPUS: "hardware.owned", OVER_BUDGET: "budget.monthly"}

TASK_STRENGTH = {"code": "code", "reasoning": "reasoning", "multilingual": "multilingual", "long-context": "long-context", "edge": "edge"}
UNSCORED_CAPABILITY = 40.0  # a model with no published score ranks below every scored model of note


def model_exclusion(model: ModelSpec, w: Workload, f: Filters) -> Finding | None:
    """The first hard rule a model breaks whatever the hardware, or None."""
    if model.max_context_tokens < w.context_needed:
        return Finding(rule="context.fits", effect="excluded", subject=model.id,
                       message=f"{model.name} holds {model.max_context_tokens:,} tokens of context; the task needs {w.context_needed:,}.")
    if f.commercial_use and model.commercial_use == "no":
        return Finding(rule="licence.commercial", effect="excluded", subject=model.id,
                       message=f"{model.name}'s licence ({model.license}) does not allow commercial use. {model.license_notes or ''}".strip())
    return None


def candidate_codes(v: dict[str, np.ndarray], f: Filters) -> np.ndarray:
    """Per candidate: 0 when every hard rule passes, else the code of the first that fails."""
    codes = np.full(len(v["fits"]), OK, dtype=np.int8)
    failing = [
        (NO_MEMORY, ~v["fits"]),
        (TOO_SLOW, ~v["latency_ok"]),
        (TOO_MANY_GPUS, ~v["owned_ok"]),
        (OVER_BUDGET, v["usd_per_month"] > f.budget_usd_per_month if f.budget_usd_per_month is not None else np.zeros_like(v["fits"])),
    ]
    for code, mask in reversed(failing):
        codes = np.where(mask, code, codes)
    return codes


def explain_exclusion(code: int, model: ModelSpec, quant_id: str, engine_id: str, gpu_name: str, count: int,
                      row: dict[str, float], w: Workload, f: Filters) -> str:
    """Why the closest configuration of a model failed, in plain words."""
    setup = f"{quant_id} on {count}× {gpu_name} with {engine_id}"
    if code == NO_MEMORY:
        return (f"Does not fit even at its smallest setting: {model.name} needs {row['weights_gib']:.1f} GiB of weights "
                f"({setup}) but each GPU offers {row['capacity_gib']:.1f} GiB.")
    if code == TOO_SLOW:
        parts = []
        if w.min_tokens_per_s and row["decode_tokens_per_s"] < w.min_tokens_per_s:
            parts.append(f"{row['decode_tokens_per_s']:.0f} tokens/s per stream (target {w.min_tokens_per_s:g})")
        if w.max_ttft_s and row["ttft_s"] > w.max_ttft_s:
            parts.append(f"{row['ttft_s']:.2f} s to first token (target {w.max_ttft_s:g} s)")
        return f"Too slow at best ({setup}): " + (" and ".join(parts) or "the latency targets are not met") + "."
    if code == TOO_MANY_GPUS:
        return f"Needs {int(row['total_gpus'])} GPUs ({int(row['replicas'])} replicas of {setup}) to serve the peak; you have fewer."
    if code == OVER_BUDGET:
        return f"Cheapest workable setup ({setup}, {int(row['replicas'])} replicas) costs ${row['usd_per_month']:,.0f}/month; the budget is ${f.budget_usd_per_month:,.0f}."
    return "Excluded."


def capability_for_task(model: ModelSpec, task: str) -> float:
    """The model's published score, plus 5 points when the task is one of its stated strengths."""
    base = model.capability_score if model.capability_score is not None else UNSCORED_CAPABILITY
    strength = TASK_STRENGTH.get(task)
    return base + (5.0 if strength and strength in model.strengths else 0.0)


def quant_penalty(quant: Quant, catalog_quants: dict[str, Quant] | None = None) -> float:
    """Points lost for the measured quality cost: 1 point per 1% perplexity increase, or 10 per 0.1 KLD.

    A format with no published measurement borrows the penalty of the measured non-GGUF format
    nearest in bits per weight (NF4 and MXFP4 from the 4-bit AWQ/GPTQ rows, FP8 from INT8), so an
    unmeasured format never looks lossless.
    """
    measured = _measured_penalty(quant)
    if measured is not None or not catalog_quants:
        return measured or 0.0
    proxy = quality_proxy(quant, catalog_quants)
    return _measured_penalty(proxy) or 0.0 if proxy else 0.0


def quality_proxy(quant: Quant, catalog_quants: dict[str, Quant]) -> Quant | None:
    """The measured format a quality-unmeasured one is assumed to match (None if it is measured)."""
    if quant.quality_value is not None:
        return None
    known = [q for q in catalog_quants.values() if q.quality_value is not None and q.format != "gguf" and q.bits_per_weight < 16]
    if not known:
        return None
    nearest = min(abs(q.bits_per_weight - quant.bits_per_weight) for q in known)
    # among equally near formats take the worst, to stay conservative
    return max((q for q in known if abs(q.bits_per_weight - quant.bits_per_weight) == nearest), key=_measured_penalty)


def _measured_penalty(quant: Quant) -> float | None:
    if quant.quality_value is None or quant.quality_metric is None:
        return None
    if quant.quality_metric == "kld":
        return 100.0 * quant.quality_value
    return max(0.0, quant.quality_value)


def preference_scores(capability: np.ndarray, quant_pen: np.ndarray, usd: np.ndarray, per_gpu_gib: np.ndarray,
                      capacity_gib: np.ndarray, gpus: np.ndarray, replicas: np.ndarray, offload: np.ndarray) -> np.ndarray:
    """Score of each feasible candidate; higher is better."""
    cheapest = max(float(np.min(usd)), 1.0) if len(usd) else 1.0
    cost = 3.0 * np.log2(np.maximum(usd, 1.0) / cheapest)
    fill = per_gpu_gib / capacity_gib
    headroom = np.where(fill > 0.9, 2.0, 0.0)
    simplicity = 0.5 * np.log2(np.maximum(gpus, 1)) + 0.25 * np.log2(np.maximum(replicas, 1)) + np.where(offload, 3.0, 0.0)
    return capability - quant_pen - cost - headroom - simplicity


def verdict(c: Constraints, self_host_usd: float | None, best_api_usd: float | None, open_capability: float | None,
            best_closed_capability: float | None) -> tuple[str, list[str], list[Finding]]:
    """Which way the constraints point, with the seed guide's reasons."""
    to_self: list[str] = []
    to_api: list[str] = []
    if c.privacy != "any":
        to_self.append({"no-third-party-api": "data may not go to a third-party API",
                        "on-prem": "the model must run on premises", "offline": "the system must run offline"}[c.privacy])
    if c.fine_tuning != "none":
        to_self.append(f"you plan {c.fine_tuning} fine-tuning on your own data, which open weights allow")
    if self_host_usd is not None and best_api_usd is not None:
        if self_host_usd < best_api_usd:
            to_self.append(f"at this volume self-hosting (${self_host_usd:,.0f}/month) costs less than a comparable API (${best_api_usd:,.0f}/month)")
        elif best_api_usd < 0.8 * self_host_usd:
            to_api.append(f"at this volume a comparable API (${best_api_usd:,.0f}/month) costs less than self-hosting (${self_host_usd:,.0f}/month)")
    if self_host_usd is None:
        to_api.append("no self-hosted configuration meets the constraints")
    if best_closed_capability is not None and open_capability is not None and best_closed_capability - open_capability >= 5:
        to_api.append(f"the most capable closed model scores {best_closed_capability:.0f} against {open_capability:.0f} for the open pick (maximum capability)")
    if c.task == "reasoning" and c.privacy == "any":
        to_api.append("complex reasoning is where closed frontier models lead")
    forced = c.privacy != "any"
    if forced or (to_self and not to_api):
        result = "self-host"
    elif to_api and not to_self:
        result = "api"
    else:
        result = "either"
    if forced and self_host_usd is None:
        result = "self-host"
    reasons = [f"Self-host: {r}." for r in to_self] + [f"API: {r}." for r in to_api]
    findings = [Finding(rule="guide.open-weights", effect="info", message=f"Points to open weights: {r}.") for r in to_self]
    findings += [Finding(rule="guide.closed-api", effect="info", message=f"Points to a paid API: {r}.") for r in to_api]
    return result, reasons or ["Self-hosting and a paid API are both reasonable here."], findings


def restricted_licence(model: ModelSpec) -> Finding | None:
    if model.commercial_use == "restricted":
        return Finding(rule="licence.restricted", effect="warning", subject=model.id,
                       message=f"{model.name} ({model.license}) allows commercial use with conditions: {model.license_notes or 'read the licence'}")
    return None
