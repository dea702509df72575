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
from planner.plan.workload import SMALL_TEAM_CONCURRENCY, Filters


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
    Rule("engine.support", "hard", "A combination is built only where the engine support matrix (data/engine_support.csv) lists the "
         "engine as running the model's architecture on that hardware class in that weight format; unknown is not supported."),
    Rule("engine.lifecycle", "hard", "Engines in maintenance mode or archived (data/engine_lifecycle.csv) are not planned."),
    Rule("memory.fits", "hard", "Weights, KV cache and engine overhead must fit in GPU memory (CPU offload allowed for llama.cpp/Ollama)."),
    Rule("latency.targets", "hard", "Time to first token and tokens/s per stream must meet the targets at the pessimistic end of the estimate's 80% band."),
    Rule("engine.fits-workload", "hard", "A service with more than a few requests in flight runs on a serving engine (vLLM, SGLang, TensorRT-LLM, TGI); "
         "llama.cpp and Ollama are for one user, small teams, Apple, CPUs and edge devices."),
    Rule("hardware.geforce-datacenter", "hard", "GeForce cards are not planned for a datacenter service: NVIDIA's GeForce driver licence "
         "does not permit datacenter deployment (https://www.nvidia.com/en-us/drivers/geforce-license/); nor are other desk and device "
         "parts (Radeon, Arc, laptop GPUs, consumer APUs, Macs, Jetson modules); say deployment: office for a desk-side one."),
    Rule("redundancy.replicas", "hard", "A production service (datacenter, 1,000+ requests a day) runs at least two replicas unless min_replicas says otherwise."),
    Rule("headroom.peak", "hard", "Each replica is planned at most 85% busy at the peak (M/D/1 queueing grows without bound near 100%)."),
    Rule("hardware.owned", "hard", "A plan on your own GPUs cannot use more of them than you have."),
    Rule("quant.severe-loss", "hard", "A weight format that raises perplexity by 10% or more (data/quants.csv: Q3_K_M, Q2_K) is not planned."),
    Rule("data.stale-price", "preference", "A plan names the oldest price it used, and warns when it is older than 180 days."),
    Rule("data.no-compute-figure", "preference", "A device with no published compute figure and no measured prefill is estimated at a "
         "conservative placeholder rate, and the plan says so."),
    Rule("quant.dominated", "preference", "A weight format no smaller and no better in measured quality than another is not considered."),
    Rule("hardware.dominated", "preference", "A device that costs no less than another, with no more memory, bandwidth or compute, is not considered."),
    Rule("budget.monthly", "hard", "The monthly cost must stay within the budget."),
    Rule("capability.minimum", "hard", "A model below min_capability on the task's benchmark is not planned."),
    Rule("prefer.capability", "preference", "Capability is the task's benchmark score (planner.plan.capability), published or by a stated fallback."),
    Rule("objective", "preference", "priority quality / balanced / cost picks among what passes the hard rules (planner.plan.objective)."),
    Rule("hardware.idle", "preference", "Owned GPUs the pick leaves idle are named, with what they could serve instead."),
    Rule("prefer.quant-quality", "preference", "Quantizations with a larger measured quality loss are penalised."),
    Rule("prefer.headroom", "preference", "Configurations that fill GPU memory to the brim are penalised."),
    Rule("prefer.simplicity", "preference", "Fewer GPUs per replica and fewer replicas are simpler to run."),
    Rule("guide.open-weights", "guide", "Open weights are strongly preferred for data privacy, high volume, offline use, custom fine-tuning and product embedding."),
    Rule("guide.closed-api", "guide", "A closed API is worth considering for maximum capability, low volume, rapid development and complex reasoning."),
)

# Candidate exclusion codes, in the order the checks run: a candidate's code is its first failure.
OK, NO_MEMORY, TOO_SLOW, ENGINE_UNFIT, TOO_MANY_GPUS, OVER_BUDGET, BELOW_CAPABILITY = 0, 1, 2, 3, 4, 5, 6
CODE_RULE = {NO_MEMORY: "memory.fits", TOO_SLOW: "latency.targets", ENGINE_UNFIT: "engine.fits-workload", TOO_MANY_GPUS: "hardware.owned",
             OVER_BUDGET: "budget.monthly", BELOW_CAPABILITY: "capability.minimum"}

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
        (ENGINE_UNFIT, ~v["engine_ok"]),
        (TOO_MANY_GPUS, ~v["owned_ok"]),
        # a budget holds at the top of a published price range, not at its low end (data/gpu_prices.csv usd_high)
        (OVER_BUDGET, v["usd_per_month_high"] > f.budget_usd_per_month if f.budget_usd_per_month is not None else np.zeros_like(v["fits"])),
    ]
    for code, mask in reversed(failing):
        codes = np.where(mask, code, codes)
    return codes


def explain_exclusion(code: int, model: ModelSpec, quant_id: str, engine_id: str, gpu_name: str, count: int,
                      row: dict[str, float], w: Workload, f: Filters, slow_end: dict[str, float] | None = None) -> str:
    """Why the closest configuration of a model failed, in plain words. `slow_end`: the shares of the estimate the
    targets are held at (planner.estimate.bands: `ttft` divides the time to first token, `decode` multiplies tokens/s)."""
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
        parts = parts or _at_the_slow_end(row, w, slow_end or {})
        return f"Too slow at best ({setup}): " + (" and ".join(parts) or "the latency targets are not met") + "."
    if code == ENGINE_UNFIT:
        return (f"Only llama.cpp/Ollama setups were left ({setup}): a service with more than {SMALL_TEAM_CONCURRENCY} requests in flight "
                "at the peak runs on a serving engine with continuous batching and paged KV (vLLM, SGLang, TensorRT-LLM, TGI).")
    if code == TOO_MANY_GPUS:
        return f"Needs {int(row['total_gpus'])} GPUs ({int(row['replicas'])} replicas of {setup}) to serve the peak; you have fewer."
    if code == OVER_BUDGET:
        high = row.get("usd_per_month_high", row["usd_per_month"])
        at_top = f" (${high:,.0f} at the top of its published price range)" if high > row["usd_per_month"] + 0.5 else ""
        return (f"Cheapest workable setup ({setup}, {int(row['replicas'])} replicas) costs ${row['usd_per_month']:,.0f}/month{at_top}; "
                f"the budget is ${f.budget_usd_per_month:,.0f}.")
    return "Excluded."


def _at_the_slow_end(row: dict[str, float], w: Workload, slow_end: dict[str, float]) -> list[str]:
    """What misses when the estimate itself meets the targets: the first answer token after hidden reasoning, the end
    of the estimate's 80% band the plan must hold, or the 90th percentile under load at the peak."""
    ttft_share, decode_share = slow_end.get("ttft", 1.0), slow_end.get("decode", 1.0)
    parts = []
    first = row.get("first_answer_token_s", row["ttft_s"])
    if w.max_ttft_s and first > row["ttft_s"] * 1.01 and first / ttft_share > w.max_ttft_s:
        parts.append(f"its first answer token comes after its hidden reasoning, {first:.1f} s (target {w.max_ttft_s:g} s)")
    elif w.max_ttft_s and row["ttft_s"] / ttft_share > w.max_ttft_s:
        parts.append(f"{row['ttft_s']:.2f} s to first token as estimated, {row['ttft_s'] / ttft_share:.2f} s at the slow end of "
                     f"its 80% band, which the plan must hold (target {w.max_ttft_s:g} s)")
    if w.min_tokens_per_s and row["decode_tokens_per_s"] * decode_share < w.min_tokens_per_s:
        parts.append(f"{row['decode_tokens_per_s']:.0f} tokens/s per stream as estimated, {row['decode_tokens_per_s'] * decode_share:.0f} "
                     f"at the slow end of its band (target {w.min_tokens_per_s:g})")
    if not parts and w.max_ttft_s and row.get("ttft_at_peak_s", 0) > w.max_ttft_s * ttft_share:
        parts.append(f"{row['ttft_at_peak_s']:.2f} s to first token at the peak load (90th percentile; target {w.max_ttft_s:g} s at "
                     "the slow end of its band)")
    return parts


def quant_penalty(quant: Quant, catalog_quants: dict[str, Quant] | None = None) -> float:
    """Points lost for the measured quality cost: 1 point per 1% perplexity increase, or 10 per 0.1 KLD.

    A format with no published measurement borrows the penalty of the measured non-GGUF format
    nearest in bits per weight (NF4 and MXFP4 from the 4-bit AWQ/GPTQ rows), so an
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


def restricted_licence(model: ModelSpec) -> Finding | None:
    if model.commercial_use == "restricted":
        return Finding(rule="licence.restricted", effect="warning", subject=model.id,
                       message=f"{model.name} ({model.license}) allows commercial use with conditions: {model.license_notes or 'read the licence'}")
    return None
