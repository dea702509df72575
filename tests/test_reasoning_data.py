"""Reasoning tokens (data/reasoning_tokens.csv, data/reasoning_billing.csv) and the published task scores
(data/task_scores.csv): every row names a real model or API, every number is sourced, dated and plausible,
and the lookups answer what a plan needs to know about a reasoning model."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil

import pytest

from planner.catalog.loading import DATA_DIR, load_catalog
from planner.catalog.reasoning import (
    chat_template_kwargs,
    BILLING_FILE,
    REASONING_FILE,
    expected_reasoning_tokens,
    is_reasoning_model,
    load_reasoning_billing,
    load_reasoning_modes,
    non_thinking_mode,
    reasoning_billed_as,
    reasoning_modes,
)
from planner.catalog.task_scores import load_task_scores
from planner.errors import CatalogError, LookupFailed
from planner.plan.capability import MIN_FIT_POINTS, CapabilityTable

URL = re.compile(r"^https?://[^\s/]+\.[^\s/]+/\S*$")


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _known_ids(catalog) -> set[str]:
    return set(catalog.models) | set(catalog.apis)


# --- data/reasoning_tokens.csv ---------------------------------------------------------------------------------


def test_every_reasoning_row_names_a_catalogue_model_or_api(catalog):
    unknown = [r["model_id"] for r in _rows(REASONING_FILE) if r["model_id"] not in _known_ids(catalog)]
    assert unknown == []


def test_modes_are_unique_per_model_with_at_most_one_default():
    seen, defaults = set(), {}
    for r in _rows(REASONING_FILE):
        key = (r["model_id"].lower(), r["mode"].lower())
        assert key not in seen, key
        seen.add(key)
        assert r["reasons"] in {"yes", "no"} and r["default"] in {"yes", "no"}, r
        defaults[r["model_id"]] = defaults.get(r["model_id"], 0) + (r["default"] == "yes")
    assert max(defaults.values()) == 1


def test_every_figure_is_plausible_sourced_and_dated():
    today = dt.date.today()
    figures = 0
    for r in _rows(REASONING_FILE):
        assert URL.match(r["source"]), r["source"]
        assert dt.date.fromisoformat(r["as_of"]) <= today
        if r["typical_reasoning_tokens"]:
            figures += 1
            tokens = int(r["typical_reasoning_tokens"])
            # hundreds to tens of thousands per request; a reasoning mode never averages under 50 or over 200K
            assert 50 <= tokens <= 200_000, r
            assert r["reasons"] == "yes" and r["benchmark"], r
        if r["reasons"] == "no":
            assert not r["typical_reasoning_tokens"], r
    assert figures >= 15


def test_the_loader_reads_every_row():
    rows = _rows(REASONING_FILE)
    modes = load_reasoning_modes()
    assert sum(len(v) for v in modes.values()) == len(rows)
    assert len(modes) >= 40


def test_reasoning_models_are_told_from_chat_models():
    for model in ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1-0528", "moonshotai/Kimi-K2-Thinking", "openai/gpt-oss-120b",
                  "Qwen/Qwen3-235B-A22B-Thinking-2507", "Qwen/Qwen3-8B", "Qwen/Qwen3.5-397B-A17B", "zai-org/GLM-4.6",
                  "mistralai/Magistral-Small-2509", "microsoft/Phi-4-reasoning", "deepseek-ai/DeepSeek-V3.1", "MiniMaxAI/MiniMax-M1-80k"):
        assert is_reasoning_model(model), model
    for model in ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-235B-A22B-Instruct-2507", "moonshotai/Kimi-K2-Instruct",
                  "Qwen/Qwen3-Coder-480B-A35B-Instruct", "google/gemma-3-27b-it"):
        assert not is_reasoning_model(model), model
        assert reasoning_modes(model) == () and expected_reasoning_tokens(model) is None


def test_hybrid_models_name_their_non_thinking_mode_and_thinking_only_ones_do_not():
    assert non_thinking_mode("Qwen/Qwen3-32B") == "non-thinking"
    assert non_thinking_mode("moonshotai/Kimi-K2.5") == "instant"
    assert non_thinking_mode("deepseek-ai/DeepSeek-V3.2") == "non-thinking"
    assert non_thinking_mode("zai-org/GLM-4.5") == "non-thinking"
    for model in ("deepseek-ai/DeepSeek-R1-0528", "moonshotai/Kimi-K2-Thinking", "Qwen/Qwen3-30B-A3B-Thinking-2507", "openai/gpt-oss-20b"):
        assert non_thinking_mode(model) is None, model
    assert "enable_thinking" in next(m.can_disable for m in reasoning_modes("Qwen/Qwen3-32B") if m.mode == "thinking")


def test_expected_tokens_follow_the_published_figures():
    assert expected_reasoning_tokens("deepseek-ai/DeepSeek-R1-0528") == (23000, "https://huggingface.co/deepseek-ai/DeepSeek-R1-0528")
    assert expected_reasoning_tokens("deepseek-ai/DeepSeek-R1")[0] == 12000
    tokens, source = expected_reasoning_tokens("moonshotai/Kimi-K2.5")  # default is thinking
    assert tokens == 14000 and "2602.02276" in source
    assert expected_reasoning_tokens("moonshotai/Kimi-K2.5", "instant")[0] == 0
    assert expected_reasoning_tokens("Qwen/Qwen3-8B", "NON-THINKING")[0] == 0  # mode names are case-insensitive
    assert expected_reasoning_tokens("Qwen/Qwen3-8B") is None  # thinking by default, but no figure published
    # no default documented: the largest published figure among reasoning modes (gpt-oss: only 'high' was measured)
    assert expected_reasoning_tokens("openai/gpt-oss-120b") == expected_reasoning_tokens("openai/gpt-oss-120b", "high")
    assert expected_reasoning_tokens("openai/gpt-oss-120b", "low") is None
    # a thinking model writes more than it does in its measured non-reasoning sibling mode, and R1-0528 more than R1
    assert expected_reasoning_tokens("deepseek-ai/DeepSeek-R1-0528")[0] > expected_reasoning_tokens("deepseek-ai/DeepSeek-R1")[0]


def test_an_unknown_mode_names_the_modes_there_are():
    with pytest.raises(LookupFailed, match="use one of low, medium, high"):
        expected_reasoning_tokens("openai/gpt-oss-20b", "extreme")


def _write(tmp_path, text: str):
    (tmp_path / REASONING_FILE).write_text(text, encoding="utf-8")
    return tmp_path


HEADER = "model_id,mode,default,reasons,typical_reasoning_tokens,benchmark,can_disable,source,as_of,notes\n"


@pytest.mark.parametrize(("body", "message"), [
    ("m/x,thinking,yes,yes,1000,AIME,no,https://a.b/c,2025-01-01,\nm/x,Thinking,no,yes,,,no,https://a.b/c,2025-01-01,\n",
     r"row 3, field 'mode': a second 'Thinking' row for m/x"),
    ("m/x,thinking,yes,yes,,,no,https://a.b/c,2025-01-01,\nm/x,fast,yes,no,,,is it,https://a.b/c,2025-01-01,\n",
     r"row 3, field 'default': m/x already has a default mode"),
    ("m/x,fast,no,no,500,AIME,,https://a.b/c,2025-01-01,\n", r"row 2, field 'row'.*cannot carry a reasoning-token figure"),
    ("m/x,thinking,no,yes,500,,,https://a.b/c,2025-01-01,\n", r"row 2, field 'row'.*needs the benchmark"),
    ("m/x,thinking,no,yes,-5,AIME,,https://a.b/c,2025-01-01,\n", r"row 2, field 'typical_reasoning_tokens'"),
    ("m/x,thinking,no,maybe,,,,https://a.b/c,2025-01-01,\n", r"row 2, field 'reasons'"),
    ("m/x,thinking,no,yes,,,,https://a.b/c,someday,\n", r"row 2, field 'as_of'"),
])
def test_a_bad_row_is_named_by_file_row_and_field(tmp_path, body, message):
    with pytest.raises(CatalogError, match=f"{REASONING_FILE}, {message}"):
        load_reasoning_modes(_write(tmp_path, HEADER + body))


def test_without_a_default_the_largest_published_figure_is_planned_for(tmp_path):
    data = _write(tmp_path, HEADER + "m/x,low,no,yes,300,P,effort low,https://a.b/low,2025-01-01,\n"
                                     "m/x,high,no,yes,4000,P,effort low,https://a.b/high,2025-01-01,\n"
                                     "m/x,off,no,no,,,is it,https://a.b/off,2025-01-01,\n")
    assert expected_reasoning_tokens("M/X", data_dir=data) == (4000, "https://a.b/high")
    assert expected_reasoning_tokens("m/x", "low", data_dir=data) == (300, "https://a.b/low")
    assert non_thinking_mode("m/x", data_dir=data) == "off"


SWITCH_HEADER = "model_id,mode,default,reasons,typical_reasoning_tokens,benchmark,can_disable,chat_template_kwargs,source,as_of,notes\n"


def test_a_mode_names_the_chat_template_arguments_that_select_it(tmp_path):
    data = _write(tmp_path, SWITCH_HEADER + "m/x,thinking,yes,yes,,,enable_thinking=False,,https://a.b/c,2025-01-01,\n"
                                            'm/x,non-thinking,no,no,,,is it,"{""enable_thinking"": false}",https://a.b/c,2025-01-01,\n')
    assert chat_template_kwargs("m/x", "non-thinking", data_dir=data) == {"enable_thinking": False}
    assert chat_template_kwargs("m/x", "thinking", data_dir=data) is None  # the template's default needs nothing
    assert chat_template_kwargs("m/x", None, data_dir=data) is None


@pytest.mark.parametrize("cell", ['"{""enable_thinking"": fals}"', '"[1, 2]"'])
def test_a_switch_that_is_not_a_json_object_is_named(tmp_path, cell):
    data = _write(tmp_path, SWITCH_HEADER + f"m/x,non-thinking,no,no,,,is it,{cell},https://a.b/c,2025-01-01,\n")
    with pytest.raises(CatalogError, match=f"{REASONING_FILE}, row 2, field 'chat_template_kwargs'"):
        load_reasoning_modes(data)


def test_every_hybrid_with_a_template_switch_in_its_source_has_it_as_data():
    """Where a hybrid's switch text names a chat-template argument, its quiet mode carries it machine-readably."""
    for modes in load_reasoning_modes().values():
        text = " ".join(m.can_disable or "" for m in modes if m.reasons)
        if re.search(r"'(enable_)?thinking': False|enable_thinking=False", text):
            assert any(m.chat_template_kwargs for m in modes if not m.reasons), modes[0].model_id


# --- data/reasoning_billing.csv ---------------------------------------------------------------------------------


def test_billing_rows_name_closed_apis_and_bill_reasoning_as_output(catalog):
    rows = _rows(BILLING_FILE)
    assert len(rows) == len(load_reasoning_billing())
    for r in rows:
        assert r["api_id"] in catalog.apis, r["api_id"]
        assert not catalog.apis[r["api_id"]].open_weights
        assert r["reasoning_billed_as"] == "output"
        assert URL.match(r["source"]) and dt.date.fromisoformat(r["as_of"])
    assert {catalog.apis[r["api_id"]].provider for r in rows} >= {"openai", "anthropic", "google"}


def test_every_first_party_reasoning_api_with_a_token_figure_has_a_billing_row():
    for r in _rows(REASONING_FILE):
        if r["model_id"].split("/")[0] in {"openai", "anthropic", "google"} and not r["model_id"].startswith("openai/gpt-oss"):
            assert reasoning_billed_as(r["model_id"]) is not None, r["model_id"]
    assert reasoning_billed_as("anthropic/claude-haiku-3.5") is None  # no extended thinking on Haiku 3.5


# --- data/task_scores.csv ----------------------------------------------------------------------------------------


def test_every_task_score_is_plausible_sourced_and_dated(catalog):
    today = dt.date.today()
    for r in _rows("task_scores.csv"):
        assert r["model"] in _known_ids(catalog), r["model"]
        assert URL.match(r["source"]), r["source"]
        assert dt.date.fromisoformat(r["as_of"]) <= today
        score = float(r["score"])
        if r["benchmark"] == "LMArena text Elo":
            assert 900 <= score <= 1700, r
            assert re.search(r"±\d+ 95% CI", r["notes"]), f"{r['model']}: LMArena row without its confidence interval"
        else:
            assert 0 < score <= 100, r


def test_the_large_open_models_are_scored_by_measurement(catalog):
    scores = load_task_scores()
    for model in ("Qwen/Qwen3.5-397B-A17B", "moonshotai/Kimi-K2.5", "deepseek-ai/DeepSeek-V3.2", "zai-org/GLM-4.7", "zai-org/GLM-5",
                  "deepseek-ai/DeepSeek-R1-0528", "deepseek-ai/DeepSeek-V3.1", "openai/gpt-oss-120b", "moonshotai/Kimi-K2-Thinking"):
        for task in ("chat", "reasoning", "code"):
            assert (model.lower(), task) in scores, (model, task)
    table = CapabilityTable(scores, catalog.models, catalog.apis, "code")
    assert table.of("Qwen/Qwen3.5-397B-A17B").published
    assert table.of("Qwen/Qwen3.5-397B-A17B").score == pytest.approx(76.4)


def test_long_context_now_ranks_on_its_own_benchmark(catalog):
    scores = load_task_scores()
    open_scored = sum(1 for (m, t) in scores if t == "long-context" and m in {k.lower() for k in catalog.models})
    assert open_scored >= MIN_FIT_POINTS
    table = CapabilityTable(scores, catalog.models, catalog.apis, "long-context")
    assert table.task == "long-context" and table.benchmark.startswith("AA-LCR")


def test_a_copy_of_the_data_loads_the_same(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    assert load_reasoning_modes(target) == load_reasoning_modes()
    assert load_reasoning_billing(target) == load_reasoning_billing()
