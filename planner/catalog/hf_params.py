"""Parameter counts from a Hugging Face `config.json`: embeddings, each layer's token mixer
(attention, latent attention, Gated DeltaNet, Mamba-2) and its MLP (dense, mixture of experts with
shared experts, or none). Norms, biases and convolution weights are left out (under 0.1%).
"""

from __future__ import annotations

from typing import Any

from planner.catalog.hf_layers import expert_counts, mamba_dims


def params_from_architecture(
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    intermediate: int,
    vocab: int,
    experts: int | None = None,
    experts_active: int | None = None,
    shared_experts: int = 0,
    tied_embeddings: bool = False,
) -> tuple[float, float]:
    """(total, active) parameter counts of a gated-MLP decoder whose every layer is alike."""
    attention = attention_params(hidden, heads, kv_heads, head_dim)
    embeddings = vocab * hidden * (1 if tied_embeddings else 2)
    mlp_total, mlp_active = mlp_params(hidden, intermediate, experts, experts_active, shared_experts, intermediate)
    return float(embeddings + layers * (attention + mlp_total)), float(embeddings + layers * (attention + mlp_active))


def attention_params(hidden: int, heads: int, kv_heads: int, head_dim: int) -> int:
    """q and o (heads x head_dim each way), k and v (kv_heads x head_dim)."""
    return hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2


def mlp_params(hidden: int, expert_intermediate: int, experts: int | None, experts_active: int | None,
               shared_experts: int, shared_intermediate: int, gated: bool = True) -> tuple[int, int]:
    """(total, active) of one layer's MLP: gate, up and down projections per expert, the router, and
    shared experts of `shared_intermediate` each, always active."""
    per = (3 if gated else 2) * hidden * expert_intermediate
    shared = shared_experts * (3 if gated else 2) * hidden * shared_intermediate
    if not experts:
        return per + shared, per + shared
    router = hidden * experts
    return experts * per + router + shared, (experts_active or 1) * per + router + shared


# Decoder model types whose transformers configuration class ties the input and output embeddings when
# config.json leaves tie_word_embeddings out (e.g. SmolLM3Config, Gemma3TextConfig: tie_word_embeddings=True).
TIED_BY_DEFAULT = frozenset({"smollm3", "gemma", "gemma2", "gemma3", "gemma3_text", "gemma3n", "gemma3n_text", "gemma4",
                             "gemma4_text", "cohere", "cohere2", "ernie4_5", "ernie4_5_moe", "falcon", "lfm2", "lfm2_moe",
                             "starcoder2", "mistral3", "kimi_k25"})


def tied_embeddings(cfg: dict[str, Any]) -> bool:
    """Whether the output projection reuses the input embeddings (the config's own word, else its class default)."""
    if "tie_word_embeddings" in cfg:
        return bool(cfg["tie_word_embeddings"])
    return str(cfg.get("model_type", "")) in TIED_BY_DEFAULT


def params_from_config(cfg: dict[str, Any], kinds: list[str]) -> tuple[float, float]:
    """(total, active) for a config whose layers are of `kinds` (planner.catalog.hf_layers), with
    latent attention, dense-first layers (DeepSeek's first_k_dense_replace), per-layer MLP widths
    (Gemma 3n), Nemotron-H's one-block-per-layer pattern and Gemma 3n's per-layer embeddings."""
    hidden, heads, vocab = cfg["hidden_size"], cfg["num_attention_heads"], cfg["vocab_size"]
    kv_heads = cfg.get("num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or hidden // heads
    experts, active_experts = expert_counts(cfg)
    moe_width = cfg.get("moe_intermediate_size") or cfg.get("intermediate_size") or 4 * hidden
    dense_width = cfg.get("intermediate_size") or 4 * hidden
    shared = cfg.get("n_shared_experts") or cfg.get("num_shared_experts") or 0
    shared_width = cfg.get("shared_expert_intermediate_size") or moe_width
    if cfg.get("shared_expert_intermediate_size") and not shared:
        shared = 1  # Qwen-MoE style: one shared expert of its own width
    first_dense = cfg.get("first_k_dense_replace") or 0
    pattern = cfg.get("hybrid_override_pattern")
    total = active = float(vocab * hidden * (1 if tied_embeddings(cfg) else 2))
    if cfg.get("vocab_size_per_layer_input") and cfg.get("hidden_size_per_layer_input"):
        per_layer_embed = cfg["vocab_size_per_layer_input"] * cfg["hidden_size_per_layer_input"] * len(kinds)
        total, active = total + per_layer_embed, active + per_layer_embed
    for i, kind in enumerate(kinds):
        mixer = _mixer_params(cfg, kind, hidden, heads, kv_heads, head_dim)
        block = pattern[i] if isinstance(pattern, str) and i < len(pattern) else None
        if block in {"M", "*"}:  # Nemotron-H: a mixer block carries no MLP
            mlp = (0, 0)
        elif block == "-":
            mlp, mixer = mlp_params(hidden, dense_width, None, None, 0, 0, gated=False), 0
        elif block == "E":
            mlp, mixer = mlp_params(hidden, moe_width, experts, active_experts, shared, shared_width, gated=False), 0
        elif experts and i >= first_dense and i % (cfg.get("decoder_sparse_step") or 1) == 0:
            mlp = mlp_params(hidden, moe_width, experts, active_experts, shared, shared_width)
        else:
            width = dense_width[i] if isinstance(dense_width, list) else dense_width
            mlp = mlp_params(hidden, width, None, None, 0, 0)
        total += mixer + mlp[0]
        active += mixer + mlp[1]
    return total, active


def _mixer_params(cfg: dict[str, Any], kind: str, hidden: int, heads: int, kv_heads: int, head_dim: int) -> int:
    if kind == "linear" and "linear_num_value_heads" in cfg:  # Gated DeltaNet: qkvz, b/a gates, out
        k, v = cfg["linear_num_key_heads"] * cfg["linear_key_head_dim"], cfg["linear_num_value_heads"] * cfg["linear_value_head_dim"]
        return hidden * (2 * k + 2 * v) + hidden * 2 * cfg["linear_num_value_heads"] + v * hidden
    mamba = mamba_dims(cfg)
    if kind == "linear" and mamba:  # Mamba-2: in_proj (z, x, B, C, dt), out_proj
        inner = mamba.heads * mamba.head_dim
        return hidden * (2 * inner + 2 * mamba.groups * mamba.state + mamba.heads) + inner * hidden
    if cfg.get("kv_lora_rank"):  # multi-head latent attention (DeepSeek-V2/V3, Kimi K2)
        nope, rope = cfg.get("qk_nope_head_dim") or 128, cfg.get("qk_rope_head_dim") or 64  # null: DeepSeek-V3's sizes
        v_dim, rank, q_rank = cfg.get("v_head_dim") or 128, cfg["kv_lora_rank"], cfg.get("q_lora_rank")
        q = hidden * q_rank + q_rank * heads * (nope + rope) if q_rank else hidden * heads * (nope + rope)
        return q + hidden * (rank + rope) + rank * heads * (nope + v_dim) + heads * v_dim * hidden
    return attention_params(hidden, heads, kv_heads, head_dim)
