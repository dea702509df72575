"""The catalogue's rows against the config.json files they come from (data/configs), and each newer
architecture kind's KV cache and weights against a hand computation from its config."""

import json
from pathlib import Path

import pytest

from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.hf_layers import layer_kinds
from planner.catalog.hf_params import params_from_config
from planner.catalog.loading import DATA_DIR, load_catalog
from planner.catalog.records import ARCHITECTURE_FIELDS as ARCHITECTURE
from planner.estimate.memory import estimate_memory, model_weight_bytes
from planner.units import GIB

CONFIGS = sorted((DATA_DIR / "configs").glob("*.json"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def config(model_id: str) -> dict:
    return json.loads((DATA_DIR / "configs" / (model_id.replace("/", "__") + ".json")).read_text())


def test_every_stored_config_has_its_row(catalog):
    """Each file in data/configs is one model's, and that row carries its source: the file's original address
    (the model's config.json or params.json) and, in its notes, the copy that was read."""
    assert len(CONFIGS) >= 15
    for path in CONFIGS:
        row = catalog.models[path.stem.replace("__", "/", 1)]
        assert row.source.endswith(("/config.json", "/params.json")) and row.as_of, path.name
        assert row.notes and ("config" in row.notes or "params.json" in row.notes), path.name


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_the_rows_architecture_is_the_configs(catalog, path: Path):
    model_id = path.stem.replace("__", "/", 1)
    row, read = catalog.models[model_id], model_from_hf_config(path.read_bytes(), model_id)
    assert {f: getattr(row, f) for f in ARCHITECTURE} == {f: getattr(read, f) for f in ARCHITECTURE}
    # the row's size is the model card's; counted from the config it agrees within 6% (nominal card sizes round)
    assert read.params_total_b == pytest.approx(row.params_total_b, rel=0.06)


def test_twin_rows_name_the_row_whose_architecture_they_share(catalog):
    """A row whose own config.json is not stored says whose architecture it has, and has exactly it."""
    twins = [m for m in catalog.models.values() if (m.notes or "").startswith("config.json not in the stored corpus: architecture is ")]
    assert len(twins) >= 15
    for m in twins:
        base = catalog.models[m.notes.split("architecture is ")[1].split("'s ")[0]]
        assert {f: getattr(m, f) for f in ARCHITECTURE} == {f: getattr(base, f) for f in ARCHITECTURE}, m.id


def _bf16(catalog):
    return catalog.quants["bf16"]


def test_gated_deltanet_hybrid_kv_cache_by_hand(catalog):
    """Qwen3-Next-80B-A3B: every 4th of 48 layers is full attention (12), the other 36 Gated DeltaNet.
    Full layers: K and V x 2 KV heads x head_dim 256 x 2 bytes = 2,048 bytes per token. A DeltaNet layer
    holds 32 value heads x 128 x 128 of recurrent state plus 3 x (2 x 16 x 128 + 32 x 128) of convolution
    inputs = 548,864 elements, 1,097,728 bytes, whatever the context."""
    cfg = config("Qwen/Qwen3-Next-80B-A3B-Instruct")
    full, linear = cfg["layer_types"].count("full_attention"), cfg["layer_types"].count("linear_attention")
    assert (full, linear) == (12, 36) and cfg["layer_types"][3::4] == ["full_attention"] * 12
    per_token = 2 * cfg["num_key_value_heads"] * cfg["head_dim"] * 2
    state = (cfg["linear_num_value_heads"] * cfg["linear_key_head_dim"] * cfg["linear_value_head_dim"]
             + (cfg["linear_conv_kernel_dim"] - 1) * (2 * cfg["linear_num_key_heads"] * cfg["linear_key_head_dim"]
                                                      + cfg["linear_num_value_heads"] * cfg["linear_value_head_dim"])) * 2
    assert per_token == 2048 and state == 1_097_728
    model, gpu, engine = catalog.model("Qwen/Qwen3-Next-80B-A3B-Instruct"), catalog.gpus["h200"], catalog.engines["vllm"]
    for context in (8192, 262_144):
        mem = estimate_memory(model, _bf16(catalog), gpu, engine, 1, context, 1, "fp16")
        assert mem.kv_cache_gib * GIB == pytest.approx(full * context * per_token + linear * state, rel=1e-12)
    # a full-attention model of the same layers would hold four times the per-token cache
    assert estimate_memory(model, _bf16(catalog), gpu, engine, 1, 262_144, 1).kv_cache_gib < 48 * 262_144 * per_token / GIB / 3.9


def test_mamba2_hybrid_kv_cache_by_hand(catalog):
    """Nemotron-3-Nano-30B-A3B: the pattern's '*' blocks attend (KV cache), 'M' blocks are Mamba-2 (fixed
    state: heads x head_dim x state + (kernel - 1) x (heads x head_dim + 2 x groups x state)), the rest
    (MoE 'E' blocks) keep nothing."""
    cfg = config("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    pattern = cfg["hybrid_override_pattern"]
    attention, mamba = pattern.count("*"), pattern.count("M")
    inner = cfg["mamba_num_heads"] * cfg["mamba_head_dim"]
    state = (inner * cfg["ssm_state_size"] + (cfg["conv_kernel"] - 1) * (inner + 2 * cfg["n_groups"] * cfg["ssm_state_size"])) * 2
    per_token = 2 * cfg["num_key_value_heads"] * cfg["head_dim"] * 2
    model = catalog.model("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    mem = estimate_memory(model, _bf16(catalog), catalog.gpus["h100-sxm"], catalog.engines["vllm"], 1, 100_000, 1, "fp16")
    assert mem.kv_cache_gib * GIB == pytest.approx(attention * 100_000 * per_token + mamba * state, rel=1e-12)
    assert (attention, mamba) == (6, 23)


def test_lightning_attention_hybrid_kv_cache_by_hand(catalog):
    """MiniMax-M1: attn_type_list marks 10 softmax layers (1) among 80; the 70 lightning layers each keep a
    heads x head_dim x head_dim state (64 x 128 x 128)."""
    cfg = config("MiniMaxAI/MiniMax-M1-80k")
    softmax = sum(cfg["attn_type_list"])
    per_token = 2 * cfg["num_key_value_heads"] * cfg["head_dim"] * 2
    state = cfg["num_attention_heads"] * cfg["head_dim"] ** 2 * 2
    model = catalog.model("MiniMaxAI/MiniMax-M1-80k")
    mem = estimate_memory(model, _bf16(catalog), catalog.gpus["h200"], catalog.engines["vllm"], 8, 1_000_000, 1, "fp16")
    assert mem.kv_cache_gib * GIB == pytest.approx(softmax * 1_000_000 * per_token + (80 - softmax) * state, rel=1e-12)


def test_latent_attention_kv_cache_by_hand(catalog):
    """Kimi K2 (DeepSeek-V3 layout): each token caches kv_lora_rank + qk_rope_head_dim = 512 + 64 elements per
    layer, 1,152 bytes in BF16, over 61 layers."""
    cfg = config("moonshotai/Kimi-K2-Instruct")
    per_token = (cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"]) * 2 * cfg["num_hidden_layers"]
    model = catalog.model("moonshotai/Kimi-K2-Instruct")
    mem = estimate_memory(model, _bf16(catalog), catalog.gpus["h200"], catalog.engines["vllm"], 16, 131_072, 1, "fp16")
    assert per_token == 1152 * 61
    assert mem.kv_cache_gib * GIB == pytest.approx(131_072 * per_token, rel=1e-12)


def test_sliding_window_kv_cache_by_hand(catalog):
    """gpt-oss-120b: 18 of 36 layers attend over a 128-token window, the other 18 over everything; 8 KV heads
    x 64 x 2 (K, V) x 2 bytes = 2,048 bytes per token per layer."""
    model = catalog.model("openai/gpt-oss-120b")
    mem = estimate_memory(model, catalog.quants["mxfp4"], catalog.gpus["h100-sxm"], catalog.engines["vllm"], 1, 100_000, 1, "fp16")
    assert mem.kv_cache_gib * GIB == pytest.approx((18 * 100_000 + 18 * 128) * 2048, rel=1e-12)


def test_moe_with_shared_experts_weights_by_hand(catalog):
    """DeepSeek-V3.2-Exp's parameters written out from its config: latent attention per layer, 3 dense
    layers, then 58 MoE layers of 256 routed experts and 1 shared expert (gate, up, down of
    hidden x moe_intermediate each) and a router; untied embeddings. BF16 weights are 2 bytes each."""
    cfg = config("deepseek-ai/DeepSeek-V3.2-Exp")
    h, heads, vocab = cfg["hidden_size"], cfg["num_attention_heads"], cfg["vocab_size"]
    nope, rope, v, rank, q_rank = (cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"],
                                   cfg["q_lora_rank"])
    attention = h * q_rank + q_rank * heads * (nope + rope) + h * (rank + rope) + rank * heads * (nope + v) + heads * v * h
    dense_layers = cfg["first_k_dense_replace"]
    moe_layers = cfg["num_hidden_layers"] - dense_layers
    expert = 3 * h * cfg["moe_intermediate_size"]
    total = (2 * vocab * h + cfg["num_hidden_layers"] * attention + dense_layers * 3 * h * cfg["intermediate_size"]
             + moe_layers * ((cfg["n_routed_experts"] + cfg["n_shared_experts"]) * expert + h * cfg["n_routed_experts"]))
    counted, _ = params_from_config(cfg, layer_kinds(cfg, cfg["num_hidden_layers"]))
    assert counted == total
    assert total / 1e9 == pytest.approx(671, rel=0.005)  # the model card's 671B
    model = catalog.model("deepseek-ai/DeepSeek-V3.2-Exp")
    weights, _ = model_weight_bytes(model, _bf16(catalog), "vllm")
    assert weights == pytest.approx(total * 2, rel=0.001)


def test_every_task_score_names_a_catalogue_model_or_api(catalog):
    from planner.catalog.task_scores import load_task_scores

    known = {m.lower() for m in catalog.models} | {a.lower() for a in catalog.apis}
    scores = load_task_scores()
    assert len(scores) >= 250
    assert [key for key in scores if key[0] not in known] == []


def test_the_late_2026_catalogue_covers_what_an_architect_weighs(catalog):
    families = ["Qwen/Qwen3-Coder-480B-A35B-Instruct", "Qwen/Qwen3-Coder-30B-A3B-Instruct", "Qwen/Qwen3-Next-80B-A3B-Instruct",
                "Qwen/Qwen3-30B-A3B-Instruct-2507", "Qwen/Qwen3.5-35B-A3B", "deepseek-ai/DeepSeek-V3.1", "deepseek-ai/DeepSeek-V3.2-Exp",
                "deepseek-ai/DeepSeek-R1-0528", "moonshotai/Kimi-K2-Instruct-0905", "zai-org/GLM-4.6", "MiniMaxAI/MiniMax-M1-80k",
                "mistralai/Devstral-Small-2507", "mistralai/Magistral-Small-2509", "nvidia/NVIDIA-Nemotron-Nano-9B-v2",
                "ibm-granite/granite-4.0-h-small", "allenai/OLMo-2-0325-32B-Instruct", "microsoft/Phi-4-reasoning"]
    assert len(catalog.models) >= 110 and all(f in catalog.models for f in families)
    assert len(catalog.gpus) >= 55
    assert {"b300", "gb200-nvl72", "gb300-nvl72", "mi355x", "h20", "l20", "rtx-5080", "rtx-5070-ti", "rx-7900-xtx", "rx-9070-xt",
            "ryzen-ai-max-395", "apple-m4-pro-64gb", "jetson-agx-orin-64gb", "jetson-agx-thor", "intel-arc-b580",
            "intel-gaudi3-pcie", "cpu-2s-xeon-6980p"} <= set(catalog.gpus)
    providers = {a.provider for a in catalog.apis.values()}
    assert {"replicate", "together"} <= providers
    assert any(p.provider.startswith("Hugging Face Inference Endpoints") for p in catalog.gpu_prices)


def test_weights_match_published_checkpoint_and_gguf_sizes(catalog):
    """data/checkpoint_sizes.csv: published safetensors totals and GGUF file sizes of late-2025/2026 models.
    The planner's weight bytes (parameters x the format's bits) are within 3% of each, but for the rows whose
    notes state a known gap (llama.cpp keeps more of Nemotron-H's tensors above 4 bits than the format's
    measured average)."""
    import csv

    within, gaps = set(), []
    for row in csv.DictReader(open(DATA_DIR / "checkpoint_sizes.csv", newline="", encoding="utf-8")):
        quant = catalog.quants[row["format"]]
        engine = "llama.cpp" if row["format"].startswith("q") else "vllm"
        weights, _ = model_weight_bytes(catalog.model(row["model"]), quant, engine)
        error = weights / float(row["bytes"]) - 1
        if row["notes"].startswith("Known gap:"):
            gaps.append((row["model"], error))
            continue
        assert abs(error) < 0.03, (row["model"], row["format"], error)
        within.add(row["model"])
    assert len(within) >= 10
    assert all(error < -0.03 for _, error in gaps)  # a stated gap is a real one, in the stated direction
