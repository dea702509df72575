"""How a Hugging Face `config.json` lays out its layers: which attend over every token, which over a
sliding window, which keep a fixed recurrent state (linear attention, state-space mixers) and which
keep no cache of their own; and the size of that state.

Each reader follows the config fields of the architecture's transformers/vLLM implementation:
Qwen3-Next (`layer_types` or `full_attention_interval`; Gated DeltaNet `linear_*` fields), MiniMax-M1
(`attn_type_list`: 0 lightning/linear, 1 softmax), Granite 4.0 hybrids (`layer_types` "mamba" /
"attention", `mamba_*`), Nemotron-H (`hybrid_override_pattern`: M Mamba-2, * attention, - MLP, E MoE),
Kimi Linear (`linear_attn_config`: KDA and full-attention layer lists), Gemma 3n
(`num_kv_shared_layers`: the last layers reuse earlier layers' KV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerLayout:
    """Counts over the decoder's layers; `linear_state_elements` is per linear layer and sequence."""

    sliding: int = 0
    linear: int = 0
    cache_free: int = 0
    linear_state_elements: int | None = None


def layer_layout(cfg: dict[str, Any], kinds: list[str]) -> LayerLayout:
    """The layout of a decoder config whose layers are of `kinds` (layer_kinds); a plain transformer has only
    full (and maybe sliding) layers."""
    shared = int(cfg.get("num_kv_shared_layers") or 0)
    owning = kinds[: len(kinds) - shared] if shared else kinds
    linear = sum(1 for k in owning if k == "linear")
    return LayerLayout(
        sliding=sum(1 for k in owning if k == "sliding"),
        linear=linear,
        cache_free=sum(1 for k in owning if k == "none") + shared,
        linear_state_elements=linear_state_elements(cfg) if linear else None,
    )


def layer_kinds(cfg: dict[str, Any], layers: int) -> list[str]:
    """One of full | sliding | linear | none per layer."""
    pattern = cfg.get("hybrid_override_pattern")
    if isinstance(pattern, str) and pattern:
        return [{"M": "linear", "*": "full"}.get(c, "none") for c in pattern[:layers]]
    attn_types = cfg.get("attn_type_list")
    if isinstance(attn_types, list) and attn_types:
        return ["full" if int(t) == 1 else "linear" for t in attn_types[:layers]]
    linear_cfg = cfg.get("linear_attn_config")
    if isinstance(linear_cfg, dict) and linear_cfg.get("kda_layers"):
        kda = {int(i) for i in linear_cfg["kda_layers"]}  # 1-based layer numbers in Kimi Linear's config
        return ["linear" if i + 1 in kda else "full" for i in range(layers)]
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        return [_kind_of(str(t)) for t in layer_types[:layers]]
    interval = cfg.get("full_attention_interval")
    if isinstance(interval, int) and interval > 1 and _has_linear_fields(cfg):
        return ["full" if (i + 1) % interval == 0 else "linear" for i in range(layers)]
    window_pattern = cfg.get("sliding_window_pattern")
    if cfg.get("sliding_window") and cfg.get("use_sliding_window", True):
        if isinstance(window_pattern, int) and window_pattern > 1:
            return ["full" if (i + 1) % window_pattern == 0 else "sliding" for i in range(layers)]
        return ["sliding"] * layers  # Mistral v0.1: the window on every layer
    return ["full"] * layers


def _kind_of(layer_type: str) -> str:
    t = layer_type.lower()
    if "sliding" in t or "local" in t or "chunked" in t:
        return "sliding"
    if "linear" in t or "mamba" in t or "delta" in t or "lightning" in t:
        return "linear"
    return "full"


def _has_linear_fields(cfg: dict[str, Any]) -> bool:
    return any(k.startswith("linear_") for k in cfg)


@dataclass(frozen=True)
class MambaDims:
    heads: int
    head_dim: int
    state: int
    groups: int
    kernel: int


def mamba_dims(cfg: dict[str, Any]) -> MambaDims | None:
    """A Mamba-2 mixer's sizes, under Granite 4.0's (`mamba_*`) or Nemotron-H's names; None for other configs."""
    heads = cfg.get("mamba_n_heads") or cfg.get("mamba_num_heads")
    if not heads:
        return None
    return MambaDims(heads=heads, head_dim=cfg.get("mamba_d_head") or cfg.get("mamba_head_dim"),
                     state=cfg.get("mamba_d_state") or cfg.get("ssm_state_size"),
                     groups=cfg.get("mamba_n_groups") or cfg.get("n_groups") or 1,
                     kernel=cfg.get("mamba_d_conv") or cfg.get("conv_kernel") or 4)


def expert_counts(cfg: dict[str, Any]) -> tuple[int | None, int | None]:
    """(routed experts, experts per token) under the names Mixtral, DeepSeek, Qwen and gpt-oss use."""
    experts = cfg.get("num_local_experts") or cfg.get("n_routed_experts") or cfg.get("num_experts")
    return experts, cfg.get("num_experts_per_tok") or cfg.get("experts_per_token")


def linear_state_elements(cfg: dict[str, Any]) -> int:
    """Elements of one linear layer's recurrent state per sequence: the recurrent matrix plus the short
    causal convolution's last (kernel - 1) inputs, as vLLM's mamba_utils state shapes count them."""
    if "linear_num_value_heads" in cfg:  # Gated DeltaNet (Qwen3-Next)
        k_heads, v_heads = cfg["linear_num_key_heads"], cfg["linear_num_value_heads"]
        k_dim, v_dim = cfg["linear_key_head_dim"], cfg["linear_value_head_dim"]
        conv_dim = 2 * k_heads * k_dim + v_heads * v_dim
        return v_heads * k_dim * v_dim + ((cfg.get("linear_conv_kernel_dim") or 4) - 1) * conv_dim
    linear_cfg = cfg.get("linear_attn_config")
    if isinstance(linear_cfg, dict) and linear_cfg.get("kda_layers"):  # Kimi Delta Attention
        heads, dim = linear_cfg["num_heads"], linear_cfg["head_dim"]
        return heads * dim * dim + ((linear_cfg.get("short_conv_kernel_size") or 4) - 1) * 3 * heads * dim
    mamba = mamba_dims(cfg)
    if mamba:  # Mamba-2 (Granite 4.0 H, Nemotron-H)
        inner = mamba.heads * mamba.head_dim
        return inner * mamba.state + (mamba.kernel - 1) * (inner + 2 * mamba.groups * mamba.state)
    heads = cfg["num_attention_heads"]  # lightning attention (MiniMax-M1): a head_dim x head_dim state per head
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    return heads * head_dim * head_dim
