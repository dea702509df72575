"""Adding models from config files and refreshing API prices from a price list, through the CLI."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from planner.catalog.loading import DATA_DIR
from planner.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
LITELLM = FIXTURES / "litellm_prices.json"


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    path = tmp_path / "models.json"
    monkeypatch.setenv("PLANNER_USER_MODELS_FILE", str(path))
    return path


def test_add_model_from_one_config_and_plan_with_it(user_models, tmp_path, capsys):
    config = tmp_path / "config.json"
    shutil.copy(DATA_DIR / "configs" / "Qwen__Qwen3-Next-80B-A3B-Instruct.json", config)
    assert main(["add-model", "--config", str(config), "--name", "acme/next-80b"]) == 0
    out = capsys.readouterr().out
    assert "added acme/next-80b" in out and "hybrid linear attention" in out
    assert [m["id"] for m in json.loads(user_models.read_text())] == ["acme/next-80b"]
    constraints = tmp_path / "c.json"
    constraints.write_text(json.dumps({"models": ["acme/next-80b"], "requests_per_day": 1000}))
    assert main(["plan", "--constraints", str(constraints), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommendation"]["model"] == "acme/next-80b"


def test_add_a_whole_folder_of_configs(user_models, tmp_path, capsys):
    folder = tmp_path / "configs"
    folder.mkdir()
    for name in ("moonshotai__Kimi-K2-Instruct.json", "nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json"):
        shutil.copy(DATA_DIR / "configs" / name, folder / name.replace("moonshotai", "acme").replace("nvidia", "acme"))
    assert main(["add-model", "--config", str(folder), "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert sorted(m["id"] for m in added) == ["acme/Kimi-K2-Instruct", "acme/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"]
    assert main(["catalog", "models"]) == 0
    assert "acme/Kimi-K2-Instruct" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 32000}', "num_hidden_layers"),
    ("[1, 2]", "one JSON object"),
])
def test_a_bad_config_adds_nothing_and_says_why(user_models, tmp_path, capsys, content, message):
    folder = tmp_path / "configs"
    folder.mkdir()
    shutil.copy(DATA_DIR / "configs" / "HuggingFaceTB__SmolLM3-3B.json", folder / "acme__good.json")
    (folder / "acme__bad.json").write_text(content)
    assert main(["add-model", "--config", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "acme__bad.json" in err and message in err and len(err.strip().splitlines()) == 1
    assert not user_models.exists()


def test_refresh_from_litellm_shows_the_diff_and_writes_nothing(capsys):
    before = (DATA_DIR / "api_prices.csv").read_bytes()
    assert main(["refresh", "prices", "--litellm", str(LITELLM), "--as-of", "2026-12-01", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    changes = {c["id"]: c for c in doc["changes"]}
    assert changes["openai/gpt-4o"]["kind"] == "unchanged" and changes["openai/gpt-4o"]["old_as_of"] == "2026-11-25"
    assert changes["anthropic/claude-opus-4.5"]["kind"] == "unchanged"  # the dated snapshot name stands for its row
    changed = changes["deepinfra/gpt-oss-20b"]
    assert changed["kind"] == "changed" and (changed["old_input"], changed["new_input"]) == (0.03, 0.04)
    assert changes["together/phi-4"]["kind"] == "added" and changes["together/phi-4"]["row"]["hf_model_id"] == "microsoft/phi-4"
    assert "openai/text-embedding-3-small" not in changes  # not a chat model
    assert doc["written"] is False and (DATA_DIR / "api_prices.csv").read_bytes() == before


def test_refresh_writes_only_with_write(tmp_path, capsys):
    prices = tmp_path / "api_prices.csv"
    shutil.copy(DATA_DIR / "api_prices.csv", prices)
    assert main(["refresh", "prices", "--litellm", str(LITELLM), "--as-of", "2026-12-01", "--write", "--prices-file", str(prices)]) == 0
    assert "wrote" in capsys.readouterr().out
    rows = {r["id"]: r for r in csv.DictReader(prices.open(newline="", encoding="utf-8"))}
    assert (rows["deepinfra/gpt-oss-20b"]["usd_per_mtok_input"], rows["deepinfra/gpt-oss-20b"]["as_of"]) == ("0.04", "2026-12-01")
    assert "was $0.03 / $0.14" in rows["deepinfra/gpt-oss-20b"]["notes"]
    assert rows["openai/gpt-4o"]["as_of"] == "2026-12-01" and rows["openai/gpt-4o"]["usd_per_mtok_output"] == "10"
    assert rows["together/phi-4"]["source"].endswith("model_prices_and_context_window.json")
    untouched = rows["groq/llama-3.1-8b-instant"]
    assert untouched["as_of"] == "2026-11-25"


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ('{"models": [{"name": "x"}]}', "not LiteLLM's"),
    ('{"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": "cheap", "output_cost_per_token": 1e-05}}', "'gpt-4o'"),
])
def test_a_broken_or_foreign_price_file_is_refused_and_changes_nothing(tmp_path, capsys, content, message):
    bad = tmp_path / "prices.json"
    bad.write_text(content)
    prices = tmp_path / "api_prices.csv"
    shutil.copy(DATA_DIR / "api_prices.csv", prices)
    before = prices.read_bytes()
    assert main(["refresh", "prices", "--litellm", str(bad), "--write", "--prices-file", str(prices)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert prices.read_bytes() == before


def test_refresh_from_the_installed_genai_prices_package(capsys):
    pytest.importorskip("genai_prices")
    assert main(["refresh", "prices", "--genai-prices", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    changes = {c["id"]: c for c in doc["changes"]}
    assert len(changes) >= 10 and {c["kind"] for c in changes.values()} <= {"unchanged", "changed"}
    assert changes["openai/gpt-4o"]["new_input"] == 2.5  # a price the package and the table agree on
