"""The catalogue: every row sourced and dated, bad rows stop with file/row/field, lookups by alias."""

import csv
import shutil

import pytest

from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.loading import DATA_DIR, load_catalog, read_rows
from planner.errors import CatalogError, LookupFailed

SEED_MODELS = [
    "llama3.1:8b", "llama3.1:70b", "llama3.1:405b", "mistralai/Mistral-Large-Instruct-2411", "mistralai/Mistral-Small-24B-Instruct-2501",
    "mistralai/Ministral-8B-Instruct-2410", "mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/Mixtral-8x22B-Instruct-v0.1",
    "codellama/CodeLlama-7b-Instruct-hf", "deepseek-ai/deepseek-coder-6.7b-instruct", "microsoft/Phi-3-mini-4k-instruct",
    "Qwen/Qwen2.5-7B-Instruct", "01-ai/Yi-1.5-9B-Chat", "tiiuae/falcon-7b-instruct", "google/gemma-7b-it",
    "meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-4-Scout-17B-16E-Instruct", "Qwen/Qwen3-30B-A3B", "google/gemma-3-27b-it",
    "deepseek-ai/DeepSeek-R1", "openai/gpt-oss-20b", "openai/gpt-oss-120b", "microsoft/phi-4",
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_data_row_has_a_source_and_date():
    for path in sorted(DATA_DIR.glob("*.csv")):
        for i, row in enumerate(read_rows(path), start=2):
            assert row.get("source", "").strip(), f"{path.name} row {i} has no source"
            assert row.get("as_of", "").strip(), f"{path.name} row {i} has no as_of"


def test_catalogue_covers_what_an_architect_weighs(catalog):
    for key in SEED_MODELS:
        catalog.model(key)
    assert len(catalog.gpus) >= 25
    kinds = {g.kind for g in catalog.gpus.values()}
    assert {"consumer", "workstation", "datacenter", "apple", "cpu"} <= kinds
    assert {"llama.cpp", "ollama", "vllm", "sglang", "tgi", "tensorrt-llm"} <= set(catalog.engines)
    assert {"bf16", "fp8", "int8", "awq-int4", "gptq-int4", "bnb-nf4", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k"} <= set(catalog.quants)
    providers = {a.provider.lower() for a in catalog.apis.values()}
    assert {"openai", "anthropic", "google"} <= providers


def test_lookup_is_case_insensitive_and_accepts_aliases(catalog):
    assert catalog.model("META-LLAMA/llama-3.1-8b-instruct").id == "meta-llama/Llama-3.1-8B-Instruct"
    assert catalog.model("llama3.1:8b").id == "meta-llama/Llama-3.1-8B-Instruct"
    with pytest.raises(LookupFailed, match="model"):
        catalog.model("no-such-model")


def test_moe_models_read_fewer_parameters_than_they_hold(catalog):
    mixtral = catalog.model("mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert mixtral.is_moe and mixtral.params_active_b < mixtral.params_total_b / 3


def _copy_data(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_a_bad_row_names_the_file_row_and_field(tmp_path):
    data = _copy_data(tmp_path)
    path = data / "gpus.csv"
    rows = read_rows(path)
    rows[2]["memory_bandwidth_gb_s"] = "fast"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(CatalogError) as err:
        load_catalog.__wrapped__(data)
    message = str(err.value)
    assert "gpus.csv" in message and "row 4" in message and "memory_bandwidth_gb_s" in message


def test_a_missing_source_is_refused(tmp_path):
    data = _copy_data(tmp_path)
    path = data / "api_prices.csv"
    rows = read_rows(path)
    rows[0]["source"] = ""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(CatalogError, match="api_prices.csv, row 2, field 'source'"):
        load_catalog.__wrapped__(data)


LLAMA_31_8B_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "tie_word_embeddings": False,
}


def test_custom_model_from_hf_config_counts_parameters(catalog):
    model = model_from_hf_config(LLAMA_31_8B_CONFIG, "acme/my-llama")
    # Llama 3.1 8B has 8.03 B parameters (model card); norms are ignored, so within 0.1%.
    assert model.params_total_b == pytest.approx(8.03, rel=0.002)
    assert model.head_dim == 128 and model.kv_heads == 8 and model.max_context_tokens == 131072
    extended = catalog.with_models([model])
    assert extended.model("ACME/my-llama").id == "acme/my-llama"
    assert "acme/my-llama" not in catalog.models


@pytest.mark.parametrize("bad, field", [("{not json", "not valid JSON"), ('{"hidden_size": 4096}', "num_hidden_layers"), ("[1, 2]", "one JSON object")])
def test_bad_config_json_gets_a_clear_message(bad, field):
    with pytest.raises(CatalogError, match=field):
        model_from_hf_config(bad, "acme/bad")


def test_catalogue_architectures_match_their_parameter_counts(catalog):
    """Dense models: parameters counted from the config are within 10% of the stated total."""
    from planner.catalog.hf_config import params_from_architecture

    checked = 0
    for m in catalog.models.values():
        if m.is_moe or m.intermediate_size is None or m.uses_latent_attention or m.is_hybrid or m.cache_free_layers:
            continue
        total, _ = params_from_architecture(layers=m.layers, hidden=m.hidden_size, heads=m.attention_heads, kv_heads=m.kv_heads,
                                            head_dim=m.head_dim, intermediate=m.intermediate_size, vocab=m.vocab_size)
        tied, _ = params_from_architecture(layers=m.layers, hidden=m.hidden_size, heads=m.attention_heads, kv_heads=m.kv_heads,
                                           head_dim=m.head_dim, intermediate=m.intermediate_size, vocab=m.vocab_size, tied_embeddings=True)
        best = min(abs(total / 1e9 / m.params_total_b - 1), abs(tied / 1e9 / m.params_total_b - 1))
        if m.family.startswith(("falcon", "phi3")) and best > 0.1:
            continue  # Falcon's parallel MLP and Phi-3-small's layout are not gated MLPs
        assert best < 0.10, (m.id, total / 1e9, m.params_total_b)
        checked += 1
    assert checked > 30
