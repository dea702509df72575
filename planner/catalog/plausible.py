"""Bounds on a model's architecture: what a decoder the planner can estimate may look like.

Each bound is set well beyond the largest published open-weights model (data/models.csv: the widest and
deepest rows are Llama 3.1 405B, Kimi K2 and Llama 4 Scout), so a real model passes and a typing slip or
a hostile file (0 heads, 1e12 layers, a negative MLP width) is refused with the field named, instead of
a division by zero or a plan for a model nobody can build. `ModelSpec` checks them on every row (the
shipped catalogue, the user's file, an uploaded config.json); `hf_config` checks the config's own fields
against the same numbers first, so its message names the field as the file spells it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planner.errors import shown

# field: (lowest, highest, why the highest). Fields 0 may take mean "none" in the config (no window, no experts).
ARCHITECTURE_BOUNDS: dict[str, tuple[int, int, str]] = {
    "layers": (1, 1_000, "the deepest published decoders have ~130 (Llama 3.1 405B: 126)"),
    "hidden_size": (1, 131_072, "the widest published is 16,384 (Llama 3.1 405B)"),
    "attention_heads": (1, 1_024, "published models have at most 128"),
    "kv_heads": (1, 1_024, "published models have at most 128"),
    "head_dim": (1, 1_024, "published heads are at most 256 wide (Gemma)"),
    "intermediate_size": (1, 1_048_576, "the widest published MLP is 53,248 (Llama 3.1 405B)"),
    "vocab_size": (1, 4_194_304, "the largest published vocabulary is 262,400 (Gemma 3)"),
    "experts_total": (1, 4_096, "published mixtures route over at most 512 experts (Qwen3-Next)"),
    "experts_active": (1, 4_096, "published mixtures activate at most ~10 experts a token"),
    "sliding_window_tokens": (1, 16_777_216, "at most the longest context"),
    "sliding_window_layers": (0, 1_000, "at most the layers"),
    "kv_lora_rank": (1, 65_536, "published latent attention uses 512 (DeepSeek-V3)"),
    "qk_rope_head_dim": (1, 1_024, "published latent attention uses 64"),
    "linear_attention_layers": (0, 1_000, "at most the layers"),
    "linear_state_elements": (1, 1 << 31, "published hybrids keep ~1.4 M elements a layer"),
    "cache_free_layers": (0, 1_000, "at most the layers"),
    "max_context_tokens": (1, 16_777_216, "the longest published context is 10,485,760 tokens (Llama 4 Scout)"),
}
# 10 T parameters: ten times the largest open-weights model (Kimi K2, 1.04 T), ~20 TB of bf16 weights.
MAX_PARAMS_B = 10_000.0


def architecture_fault(get: Callable[[str], Any]) -> str | None:
    """The first way a model's architecture (read through `get(field)`) is implausible, as a sentence naming
    the field; None when it is plausible."""
    for field, (low, high, why) in ARCHITECTURE_BOUNDS.items():
        value = get(field)
        if value is not None and not low <= value <= high:
            return f"{field} must be {low:,} to {high:,} ({why}), got {shown(value)}"
    for field in ("params_total_b", "params_active_b"):
        value = get(field)
        if value is not None and not 0 < value <= MAX_PARAMS_B:
            return (f"{field} must be above 0 and at most {MAX_PARAMS_B:,.0f} (10 T parameters, ten times the largest "
                    f"open-weights model), got {shown(value)}")
    heads, kv_heads = get("attention_heads"), get("kv_heads")
    if heads and kv_heads and heads % kv_heads:
        return (f"kv_heads ({kv_heads}) must divide attention_heads ({heads}): grouped-query attention shares each "
                "KV head among an equal number of query heads")
    experts, active = get("experts_total"), get("experts_active")
    if experts and active and active > experts:
        return f"experts_active ({active}) must be at most experts_total ({experts})"
    return None
