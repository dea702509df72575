"""A config.json's numbers checked before any arithmetic: each field the readers use (hf_config,
hf_layers, hf_params) is a whole number (not true/false, not text) within the bounds of
planner.catalog.plausible, and the fields agree (KV heads divide the heads, experts per token at most
the experts, heads divide the width when no head_dim is given). A fault raises CatalogError naming the
field as the file spells it (a Mistral params.json's `n_heads`, not `num_attention_heads`).
"""

from __future__ import annotations

from typing import Any

from planner.catalog.plausible import ARCHITECTURE_BOUNDS as B
from planner.errors import CatalogError, shown

_CONTEXT = (1, B["max_context_tokens"][1])
_SMALL = (1, 64)  # convolution kernels: published mixers use 4
# config.json field -> (lowest, highest). A lowest of 0 is a field whose 0 the readers take as "none".
INT_FIELDS: dict[str, tuple[int, int]] = {
    "num_hidden_layers": B["layers"][:2], "hidden_size": B["hidden_size"][:2], "num_attention_heads": B["attention_heads"][:2],
    "num_key_value_heads": B["kv_heads"][:2], "num_kv_heads": B["kv_heads"][:2], "vocab_size": B["vocab_size"][:2],
    "head_dim": B["head_dim"][:2], "v_head_dim": B["head_dim"][:2], "qk_nope_head_dim": B["head_dim"][:2],
    "qk_rope_head_dim": B["head_dim"][:2], "kv_lora_rank": (0, B["kv_lora_rank"][1]), "q_lora_rank": (0, B["kv_lora_rank"][1]),
    "intermediate_size": B["intermediate_size"][:2], "moe_intermediate_size": B["intermediate_size"][:2],
    "shared_expert_intermediate_size": (0, B["intermediate_size"][1]),
    "num_local_experts": (0, B["experts_total"][1]), "n_routed_experts": (0, B["experts_total"][1]),
    "num_experts": (0, B["experts_total"][1]), "num_experts_per_tok": (0, B["experts_active"][1]),
    "experts_per_token": (0, B["experts_active"][1]), "n_shared_experts": (0, B["experts_total"][1]),
    "num_shared_experts": (0, B["experts_total"][1]), "first_k_dense_replace": (0, B["layers"][1]),
    "decoder_sparse_step": (1, B["layers"][1]), "max_position_embeddings": _CONTEXT, "n_positions": _CONTEXT,
    "seq_length": _CONTEXT, "sliding_window": (0, _CONTEXT[1]), "sliding_window_pattern": (1, B["layers"][1]),
    "full_attention_interval": (1, B["layers"][1]), "num_kv_shared_layers": (0, B["layers"][1]),
    "linear_num_value_heads": B["attention_heads"][:2], "linear_num_key_heads": B["attention_heads"][:2],
    "linear_key_head_dim": B["head_dim"][:2], "linear_value_head_dim": B["head_dim"][:2], "linear_conv_kernel_dim": _SMALL,
    "mamba_n_heads": (1, 4_096), "mamba_num_heads": (1, 4_096), "mamba_d_head": B["head_dim"][:2],
    "mamba_head_dim": B["head_dim"][:2], "mamba_d_state": (1, 4_096), "ssm_state_size": (1, 4_096),
    "mamba_n_groups": (1, 1_024), "n_groups": (1, 1_024), "mamba_d_conv": _SMALL, "conv_kernel": _SMALL,
    "vocab_size_per_layer_input": B["vocab_size"][:2], "hidden_size_per_layer_input": B["hidden_size"][:2],
}
_KDA_FIELDS = {"num_heads": B["attention_heads"][:2], "head_dim": B["head_dim"][:2], "short_conv_kernel_size": _SMALL}
# Fields one reader needs together: the first present asks for the rest.
_TOGETHER = (("linear_num_value_heads", "linear_num_key_heads", "linear_key_head_dim", "linear_value_head_dim"),)


def check_config(cfg: dict[str, Any], names: dict[str, str] | None = None) -> None:
    """Raise CatalogError on the first field of `cfg` a reader would choke on; `names` maps a field back to
    the file's own name (params.json)."""
    def name(field: str) -> str:
        return f"'{names[field]}' ({field})" if names and field in names else f"'{field}'"

    for field, (low, high) in INT_FIELDS.items():
        if cfg.get(field) is not None:
            _whole(cfg[field], name(field), low, high, allow_list=field == "intermediate_size")
    for group in _TOGETHER:
        if group[0] in cfg and (absent := [f for f in group if cfg.get(f) is None]):
            raise CatalogError(f"config.json: field {name(absent[0])} is missing; {group[0]} needs {', '.join(group[1:])}.")
    if cfg.get("mamba_n_heads") or cfg.get("mamba_num_heads"):
        heads_field = "mamba_n_heads" if cfg.get("mamba_n_heads") else "mamba_num_heads"
        for pair in (("mamba_d_head", "mamba_head_dim"), ("mamba_d_state", "ssm_state_size")):
            if all(cfg.get(f) is None for f in pair):
                raise CatalogError(f"config.json: field '{pair[0]}' (or '{pair[1]}') is missing; a Mamba-2 mixer "
                                   f"('{heads_field}') needs its head size and state size.")
    _check_layer_lists(cfg, name)
    _check_agreement(cfg, name)


def _whole(value: Any, field: str, low: int, high: int, allow_list: bool = False) -> None:
    if allow_list and isinstance(value, list) and value:  # Gemma 3n: an MLP width per layer
        for item in value:
            _whole(item, field, low, high)
        return
    if type(value) is not int:
        raise CatalogError(f"config.json: field {field} must be a whole number from {low:,} to {high:,}, got {shown(value)}.")
    if not low <= value <= high:
        raise CatalogError(f"config.json: field {field} must be from {low:,} to {high:,}, got {shown(value)}.")


def _check_layer_lists(cfg: dict[str, Any], name) -> None:
    layers_high = B["layers"][1]
    if "hybrid_override_pattern" in cfg and not isinstance(cfg["hybrid_override_pattern"], str | None):
        raise CatalogError(f"config.json: field {name('hybrid_override_pattern')} must be text such as \"M-M*\".")
    attn_types = cfg.get("attn_type_list")
    if attn_types is not None and not isinstance(attn_types, list):
        raise CatalogError(f"config.json: field {name('attn_type_list')} must be a list of 0 (linear) and 1 (softmax).")
    for t in attn_types or []:
        _whole(t, name("attn_type_list"), 0, 1)
    layer_types = cfg.get("layer_types")
    if layer_types is not None and not (isinstance(layer_types, list) and all(isinstance(t, str) for t in layer_types)):
        raise CatalogError(f"config.json: field {name('layer_types')} must be a list of layer type names.")
    linear_cfg = cfg.get("linear_attn_config")
    if isinstance(linear_cfg, dict) and linear_cfg.get("kda_layers"):
        if not isinstance(linear_cfg["kda_layers"], list):
            raise CatalogError("config.json: field 'linear_attn_config.kda_layers' must be a list of layer numbers.")
        for i in linear_cfg["kda_layers"]:
            _whole(i, "'linear_attn_config.kda_layers'", 1, layers_high)
        for field, (low, high) in _KDA_FIELDS.items():
            if linear_cfg.get(field) is not None or field != "short_conv_kernel_size":
                _whole(linear_cfg.get(field), f"'linear_attn_config.{field}'", low, high)


def _check_agreement(cfg: dict[str, Any], name) -> None:
    heads, hidden = cfg.get("num_attention_heads"), cfg.get("hidden_size")
    kv_heads = cfg.get("num_key_value_heads") or cfg.get("num_kv_heads")
    kv_field = "num_key_value_heads" if cfg.get("num_key_value_heads") else "num_kv_heads"
    if isinstance(heads, int) and isinstance(kv_heads, int) and not cfg.get("multi_query"):
        if kv_heads > heads or heads % kv_heads:
            raise CatalogError(f"config.json: field {name(kv_field)} ({kv_heads}) must divide {name('num_attention_heads')} "
                               f"({heads}): grouped-query attention shares each KV head among an equal number of heads.")
    if isinstance(heads, int) and isinstance(hidden, int) and not cfg.get("head_dim") and not cfg.get("kv_lora_rank"):
        if hidden % heads or hidden // heads > B["head_dim"][1]:
            raise CatalogError(f"config.json: field {name('num_attention_heads')} ({heads}) must divide {name('hidden_size')} "
                               f"({hidden}) into heads of at most {B['head_dim'][1]:,} when no head_dim is given (each head "
                               "is hidden_size / heads wide).")
    experts_field = next((f for f in ("num_local_experts", "n_routed_experts", "num_experts") if cfg.get(f)), None)
    per_token_field = next((f for f in ("num_experts_per_tok", "experts_per_token") if cfg.get(f)), None)
    if experts_field and not per_token_field:
        raise CatalogError(f"config.json: field {name(experts_field)} ({cfg[experts_field]}) names a mixture of experts, "
                           f"which needs {name('num_experts_per_tok')} (or 'experts_per_token') of at least 1.")
    if experts_field and per_token_field and cfg[per_token_field] > cfg[experts_field]:
        raise CatalogError(f"config.json: field {name(per_token_field)} ({cfg[per_token_field]}) must be at most "
                           f"{name(experts_field)} ({cfg[experts_field]}): a token is routed to some of the experts.")
    shared, layers = cfg.get("num_kv_shared_layers"), cfg.get("num_hidden_layers")
    if isinstance(shared, int) and isinstance(layers, int) and shared >= layers:
        raise CatalogError(f"config.json: field {name('num_kv_shared_layers')} ({shared}) must be below "
                           f"{name('num_hidden_layers')} ({layers}): some layers keep the KV cache the others share.")
