"""Add a model the catalogue lacks, from its Hugging Face `config.json`.

Reads the architecture fields transformers uses (Llama, Mistral, Qwen, Gemma, Phi, Mixtral,
DeepSeek-V3, gpt-oss and their relatives, and the hybrids: Qwen3-Next, MiniMax-M1, Granite 4.0,
Nemotron-H, Kimi Linear, Gemma 3n; planner.catalog.hf_layers), counts the parameters from them
(planner.catalog.hf_params), and returns a `ModelSpec` whose source says it came from the user's file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from planner.catalog.hf_checks import check_config
from planner.catalog.hf_layers import expert_counts, layer_kinds, layer_layout
from planner.catalog.hf_params import params_from_architecture, params_from_config
from planner.catalog.records import ModelSpec
from planner.catalog.input_limits import CONFIG_LIMITS, load_json
from planner.errors import CatalogError, shown

__all__ = ["model_from_hf_config", "params_from_architecture", "parse_config"]

_REQUIRED = ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size")


def model_from_hf_config(config: dict[str, Any] | str | bytes, model_id: str, name: str | None = None) -> ModelSpec:
    """A `ModelSpec` from a parsed or raw `config.json`; raises CatalogError naming the bad field."""
    cfg, names = _from_mistral_params(parse_config(config))
    text_cfg = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else None
    if text_cfg and not all(k in cfg for k in _REQUIRED):
        cfg = {**cfg, **text_cfg}  # multimodal configs keep the language model under text_config
    missing = [k for k in _REQUIRED if type(cfg.get(k)) is not int]
    if missing:
        raise CatalogError(
            f"config.json: field '{names.get(missing[0], missing[0])}' is missing or not a whole number; a decoder config "
            f"needs {', '.join(names.get(k, k) for k in _REQUIRED)}."
        )
    check_config(cfg, names)  # every number the readers use, before any arithmetic
    try:
        return _spec(cfg, model_id, name)
    except (ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:  # a combination no check foresaw
        raise CatalogError(f"config.json: the architecture fields do not fit together ({exc.__class__.__name__}: "
                           f"{shown(str(exc), quote=False)}).") from None


def _spec(cfg: dict[str, Any], model_id: str, name: str | None) -> ModelSpec:
    layers = cfg["num_hidden_layers"]
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads") or cfg.get("num_kv_heads") or heads
    if cfg.get("multi_query"):
        kv_heads = 1
    latent = cfg.get("kv_lora_rank")
    head_dim = (cfg.get("v_head_dim") if latent else None) or cfg.get("head_dim") or hidden // heads
    experts, experts_active = expert_counts(cfg)
    intermediate = cfg.get("moe_intermediate_size") if experts else None
    intermediate = intermediate or cfg.get("intermediate_size") or 4 * hidden
    if isinstance(intermediate, list):  # Gemma 3n: a width per layer; the catalogue keeps the widest
        intermediate = max(intermediate)
    kinds = layer_kinds(cfg, layers)
    layout = layer_layout(cfg, kinds)
    total, active = params_from_config({**cfg, "num_key_value_heads": kv_heads, "head_dim": head_dim}, kinds)
    window = cfg.get("sliding_window") if layout.sliding else None
    max_context = cfg.get("max_position_embeddings") or cfg.get("n_positions") or cfg.get("seq_length") or 4096
    try:
        return ModelSpec(
            id=model_id.strip(),
            name=name or model_id.split("/")[-1],
            family=str(cfg.get("model_type", "custom")),
            aliases=(),
            params_total_b=round(total / 1e9, 3),
            params_active_b=round(active / 1e9, 3),
            layers=layers,
            hidden_size=hidden,
            attention_heads=heads,
            kv_heads=kv_heads,
            head_dim=head_dim,
            intermediate_size=intermediate,
            vocab_size=cfg["vocab_size"],
            experts_total=experts if experts else None,
            experts_active=experts_active if experts else None,
            sliding_window_tokens=window if window else None,
            sliding_window_layers=layout.sliding if window else None,
            kv_lora_rank=latent,
            qk_rope_head_dim=cfg.get("qk_rope_head_dim") if latent else None,
            linear_attention_layers=layout.linear or None,
            linear_state_elements=layout.linear_state_elements,
            cache_free_layers=layout.cache_free or None,
            max_context_tokens=max_context,
            hf_architecture=_architecture(cfg),
            license="unknown",
            commercial_use="restricted",
            license_notes="Licence not stated in config.json: check the model card before commercial use.",
            strengths=("general",),
            source="user upload: config.json",
            as_of=dt.date.today(),
            notes="Parameters counted from the architecture in config.json.",
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"field '{first['loc'][0]}': " if first["loc"] else ""
        raise CatalogError(f"config.json: {where}{first['msg'].removeprefix('Value error, ')}.") from None


def _architecture(cfg: dict[str, Any]) -> str | None:
    """The config's `architectures[0]` (the key into the engine support matrix), when it is a plain class name."""
    names = cfg.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else None
    if name and name.isidentifier() and len(name) <= 100:
        return name
    return _architecture_from_model_type(cfg.get("model_type"))


def _architecture_from_model_type(model_type: object) -> str | None:
    """An abridged config without `architectures`: transformers names the causal-LM class after `model_type`
    (qwen3_next -> Qwen3NextForCausalLM); taken only when the support matrix knows a class of that name."""
    if not isinstance(model_type, str) or not model_type.replace("_", "").isalnum():
        return None
    from planner.catalog.engine_support import default_support  # the matrix reads the catalogue: imported late

    wanted = ("".join(part for part in model_type.split("_")) + "ForCausalLM").lower()
    known = {r.architecture.lower(): r.architecture for r in default_support().rows}
    return known.get(wanted)


# Mistral's own `params.json` (mistral-inference) names the same numbers differently.
_MISTRAL_PARAMS = {"dim": "hidden_size", "n_layers": "num_hidden_layers", "n_heads": "num_attention_heads",
                   "n_kv_heads": "num_key_value_heads", "hidden_dim": "intermediate_size", "head_dim": "head_dim",
                   "vocab_size": "vocab_size", "sliding_window": "sliding_window", "max_seq_len": "max_position_embeddings"}


def _from_mistral_params(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A Mistral params.json read as the config.json fields it stands for, with each field's params.json name
    (for messages); any other config as it is."""
    if "dim" not in cfg or "n_layers" not in cfg or "hidden_size" in cfg:
        return cfg, {}
    out = {hf: cfg[k] for k, hf in _MISTRAL_PARAMS.items() if k in cfg}
    names = {hf: k for k, hf in _MISTRAL_PARAMS.items()}
    moe = cfg.get("moe")
    if moe is not None and not isinstance(moe, dict):
        raise CatalogError("params.json: field 'moe' must be an object with num_experts and num_experts_per_tok.")
    if moe:
        out.update(num_local_experts=moe.get("num_experts"), num_experts_per_tok=moe.get("num_experts_per_tok"))
        names.update(num_local_experts="moe.num_experts", num_experts_per_tok="moe.num_experts_per_tok")
    out["model_type"] = "mistral"
    return out, names


def parse_config(config: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """A config as a dict; raw text that is not one JSON object within the door's limits
    (planner.catalog.input_limits: size, nesting, number sizes, control characters) raises CatalogError saying so."""
    if isinstance(config, dict):
        return config
    parsed = load_json(config, "config.json", CONFIG_LIMITS, CatalogError)
    if not isinstance(parsed, dict):
        raise CatalogError("config.json: the file must hold one JSON object, like a Hugging Face config.json.")
    return parsed
