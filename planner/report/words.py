"""Words for people, shared by the dashboard and the PDF: rule titles, field labels, and the
precision each kind of figure is shown at.

Rule ids (`quant.severe-loss`) stay in JSON and in the dashboard's details expanders; everything a
person reads first uses the titles here. Nothing here imports streamlit.
"""

from __future__ import annotations

import math
import re

# One short title per rule id of planner.plan.rules (and the fine-tuning and data rules).
RULE_TITLES = {
    "privacy.no-api": "Data stays in the company",
    "privacy.on-prem": "On your own hardware",
    "privacy.offline": "Offline",
    "context.fits": "Context length",
    "licence.commercial": "Licence allows commercial use",
    "licence.restricted": "Licence conditions",
    "memory.fits": "Fits in GPU memory",
    "latency.targets": "Latency targets",
    "engine.fits-workload": "Engine suits the workload",
    "hardware.geforce-datacenter": "GeForce cards not used in a datacenter",
    "redundancy.replicas": "Redundancy",
    "headroom.peak": "Headroom at the peak",
    "hardware.owned": "GPUs you own",
    "hardware.none": "No usable hardware",
    "hardware.idle": "GPUs left idle",
    "hardware.dominated": "Hardware beaten outright",
    "quant.severe-loss": "Quantization too lossy",
    "quant.dominated": "Quantization beaten outright",
    "data.stale-price": "Price age",
    "data.no-compute-figure": "Compute figure estimated",
    "budget.monthly": "Monthly budget",
    "capability.minimum": "Minimum capability",
    "prefer.capability": "Capability",
    "prefer.quant-quality": "Quantization quality",
    "prefer.headroom": "Memory headroom",
    "prefer.simplicity": "Simplicity",
    "guide.open-weights": "When open weights win",
    "guide.closed-api": "When an API wins",
    "objective": "Objective",
    "plan.none": "Nothing fits",
    "engine.support": "Engine supports the model and hardware",
    "engine.lifecycle": "Engine maintained",
    "reasoning.not-needed": "Reasoning not needed",
    "reasoning.tokens": "Hidden reasoning tokens",
    "hardware.as-sold": "Hardware as sold",
    "cost.price-range": "Price range",
    "cost.power-unknown": "Power not counted",
    "interconnect.pcie": "Tensor parallel over PCIe",
    "finetune.fits": "Fine-tuning fits",
    "finetune.time": "Fine-tuning time",
    "finetune.serving": "Serving the fine-tuned model",
    "finetune.service": "Managed fine-tuning",
    "finetune.gpus_needed": "GPUs needed to fine-tune",
    "finetune.owned_too_small": "Your GPUs are too small to fine-tune",
    "finetune.approximate": "Fine-tuning estimate",
}
EFFECT_WORDS = {"excluded": "Excluded", "preferred": "Preferred", "warning": "Warning", "info": "Note"}

# The constraints' fields as the form labels them (planner.plan.constraints.Constraints).
FIELD_LABELS = {
    "name": "Plan name", "privacy": "Privacy", "requests_per_day": "Requests a day", "input_tokens": "Input tokens",
    "output_tokens": "Output tokens", "peak_to_average": "Peak / average traffic", "max_ttft_s": "Max time to first token",
    "min_tokens_per_s": "Min tokens/s per user", "context_tokens": "Context length", "gpus_available": "GPUs I own",
    "budget_usd_per_month": "Budget", "task": "Task", "fine_tuning": "Fine-tuning", "commercial_use": "Commercial use",
    "fine_tuning_tokens": "Training tokens", "fine_tuning_epochs": "Epochs", "models": "Only consider these models",
    "kv_cache_dtype": "KV-cache precision", "gpu_usd_per_hour": "GPU price", "gpu_price_for": "GPU priced",
    "utilisation": "Utilisation", "amortisation_months": "Amortisation", "power_usd_per_kwh": "Power price",
    "priority": "Priority", "min_capability": "Min capability", "max_capability_gap": "Max capability gap",
    "needs_max_capability": "Maximum capability needed", "rapid_development": "Rapid development",
    "embedded_in_product": "Model ships in our product", "deployment": "Deployment", "min_replicas": "Min replicas",
    "max_input_tokens": "Longest prompt", "max_output_tokens": "Longest answer",
    "expected_reasoning_tokens": "Hidden reasoning tokens per request", "allow_self_quantization": "We quantize checkpoints ourselves",
}


_PYDANTIC_WORDS = (
    (r"Input should be a valid number(, unable to parse string as a number)?", "enter a number"),
    (r"Input should be a valid integer(, got a number with a fractional part)?", "enter a whole number"),
    (r"Input should be greater than or equal to ", "must be at least "),
    (r"Input should be greater than ", "must be more than "),
    (r"Input should be less than or equal to ", "must be at most "),
    (r"Input should be a finite number", "must be a finite number"),
    (r" \(got None\)", ""),
)


def rule_title(rule_id: str) -> str:
    """'quant.severe-loss' -> 'Quantization too lossy'; an unknown id in words of its own."""
    if rule_id in RULE_TITLES:
        return RULE_TITLES[rule_id]
    words = rule_id.replace(".", " ").replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def finding_title(rule: str, message: str) -> tuple[str, str]:
    """The title a finding is shown under, and its sentence. A sentence that opens with a setting's
    label ('Deployment: datacenter (the default ...)') is about that setting, whichever rule recorded
    it, so the label titles it; 'Objective: Objective: ...' is said once."""
    opening = re.match(r"^([A-Z][\w /-]{2,40}): ", message)
    if opening and opening.group(1) in {*FIELD_LABELS.values(), rule_title(rule)}:
        return opening.group(1), message[opening.end():]
    return rule_title(rule), message


def for_people(message: str) -> str:
    """A validation message with field names replaced by their labels and the "Field 'x':" prefix
    dropped (the dashboard draws it under the field itself)."""
    text = re.sub(r"^(Field|Invalid constraints)[^:]*:\s*", "", message.strip())
    for pydantic_words, ours in _PYDANTIC_WORDS:
        text = re.sub(pydantic_words, ours, text)
    for name in sorted(FIELD_LABELS, key=len, reverse=True):
        text = re.sub(rf"(?<![\w']){re.escape(name)}(?![\w'])", FIELD_LABELS[name].lower(), text)
    return text[:1].upper() + text[1:]


def requests_text(requests_per_day: float) -> str:
    """Requests are whole: 2,053 (never 2,053.388)."""
    return f"{round(requests_per_day):,}"


def usd_text(usd: float | None) -> str:
    """Dollars: no cents from $100 up, cents below (a $0.42 price still reads)."""
    if usd is None or (isinstance(usd, float) and math.isnan(usd)):
        return "—"
    return f"${usd:,.0f}" if abs(usd) >= 100 else f"${usd:,.2f}"


def capability_text(score: float | None, estimated: bool = False) -> str:
    """A benchmark score at the benchmark's own precision (one decimal; Elo ratings whole)."""
    if score is None:
        return "unscored"
    text = f"{score:,.0f}" if score >= 200 else f"{score:.1f}"
    return text + (" (estimated)" if estimated else "")


def readable(message: str, names: dict[str, str] | None = None) -> str:
    """A planner sentence for people: `field` names become their form labels, catalogue ids
    (`apple-m2-ultra-192gb`) the names in `names` (id -> display name), and no CLI commands."""
    text = re.sub(r"`(\w+)`", lambda m: f"'{FIELD_LABELS[m.group(1)]}'" if m.group(1) in FIELD_LABELS else m.group(0), message)
    text = without_internal_notes(text).replace("gpu rent_per_gpu_hour ", "rental of ").replace("gpu purchase ", "purchase of ")
    for key, name in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
        if key in text:
            text = re.sub(rf"(?<![\w./-]){re.escape(key)}(?![\w-])", name, text)
    return text


# Working notes that slipped into data text ('(clause text per brief; card copies only show ...)'):
# provenance belongs in the sources, not in a sentence a reader acts on.
_INTERNAL_NOTE = re.compile(r"\s*\((?=[^()]*\b(?:per brief|card copies|sources read|abridged copy)\b)[^()]*\)", re.IGNORECASE)
# A command for the terminal means nothing on a web page or in a CTO's PDF; the sentence reads without it.
_CLI_HINT = re.compile(r"\s*\((?:python -m planner|planner )[^()]*\)")


def without_internal_notes(text: str) -> str:
    """`text` without bracketed working notes about where a sentence came from, or CLI commands."""
    return _CLI_HINT.sub("", _INTERNAL_NOTE.sub("", text))


def oldest_price_text(entry: dict, names: dict[str, str] | None = None) -> str:
    """The plan's oldest price in words: what, where, when, and whether it is stale."""
    names = names or {}
    kind = str(entry.get("kind", ""))
    what = names.get(entry.get("id"), entry.get("id"))
    how = {"gpu rent_per_gpu_hour": "rental of", "gpu purchase": "purchase price of", "api": "API price of"}.get(kind, "price of")
    text = f"Oldest price used: the {how} {what} at {entry.get('provider')}, {entry.get('as_of')} ({entry.get('age_days')} days old)"
    return text + ("; it is over 180 days old, so check it or set your own price." if entry.get("stale") else ".")


PRIVACY_WORDS = {"any": "paid APIs allowed", "no-third-party-api": "no third-party API", "on-prem": "on-premises",
                 "offline": "offline / air-gapped"}


def hardware_text(constraints: dict, gpu_names: dict[str, str], cost_mode: str | None = None) -> str:
    """Where the plan's GPUs come from, in words: owned ones by name, else bought or rented."""
    owned = constraints.get("gpus_available")
    if owned:
        return ", ".join(f"{g.get('count', 1)}× {gpu_names.get(g.get('gpu'), g.get('gpu'))} (owned)" for g in owned)
    if cost_mode == "own" or constraints.get("privacy") in ("on-prem", "offline"):
        return "bought for the plan (the planner picks)"
    return "rented in the cloud"
