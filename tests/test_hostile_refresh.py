"""Hostile price lists at `refresh prices --litellm --write`: the prices file is replaced whole with rows that
load (finite prices in range, sane contexts) or left byte for byte as it was, with one clean line naming the
entry and field (exit 2); `written: true` is printed only after the file was replaced."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog.loading import DATA_DIR, read_rows
from planner.catalog.records import ApiPrice
from tests.hostile_support import DATA, PEAK_RSS_LIMIT_MIB, assert_one_clean_line, peak_rss_mib, run_main, snapshot, strict_json

def load_csv(path, kind):
    return [kind.model_validate({k: v for k, v in row.items() if k in kind.model_fields}) for row in read_rows(path)]


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
GOOD = {"litellm_provider": "together_ai", "mode": "chat", "input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7,
        "max_input_tokens": 16384}
ENTRY_FIELDS = ["input_cost_per_token", "output_cost_per_token", "max_input_tokens", "litellm_provider", "mode"]

hostile = st.one_of(
    st.sampled_from([0, -1, -5, 1e-7, 0.01, 0.011, 1, 1e30, 1e308, 5e-324, 10**18, 2**63, True, None, "", "cheap", [], {},
                     16384.0, 1e30, -0.0, "openai", "together_ai", "chat", "embedding"]),
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-10, 10**20), st.text(max_size=10),
)
names = st.one_of(st.sampled_from(["together_ai/phi-4", "phi-4", "together_ai/phi-4\ud800", "\x1b[31mphi-4", "p" * 300,
                                   "together_ai/" + "\u202e4-ihp", "together_ai/phi-4\x00"]), st.text(max_size=20))


@pytest.fixture
def prices(tmp_path):
    path = tmp_path / "api_prices.csv"
    shutil.copy(DATA_DIR / "api_prices.csv", path)
    return path


@pytest.fixture(scope="module", autouse=True)
def data_untouched():
    before = snapshot(DATA)
    yield
    assert snapshot(DATA) == before, "a file under data/ changed"


def _refresh(tmp_path, prices, doc_text: str) -> tuple[int, str, str, bytes, bytes]:
    source = tmp_path / "prices.json"
    source.write_text(doc_text, encoding="utf-8", errors="surrogatepass")
    before = prices.read_bytes()
    code, out, err = run_main(["refresh", "prices", "--litellm", str(source), "--write", "--json", "--prices-file", str(prices),
                               "--as-of", "2026-12-01"])
    return code, out, err, before, prices.read_bytes()


def _check(code, out, err, before, after, prices, *needles):
    assert code in (0, 2), err
    if code == 2:
        assert_one_clean_line(err, *needles)
        assert after == before and not out, "a refused price list changed the prices file or printed a result"
    else:
        assert strict_json(out)["written"] is True
        rows = load_csv(prices, ApiPrice)  # the file the planner reads next loads, every row validated
        assert rows and all(0 <= r.usd_per_mtok_input <= 10_000 and 0 <= r.usd_per_mtok_output <= 10_000 for r in rows)
        assert all(r.context_tokens is None or 1 <= r.context_tokens <= 16_777_216 for r in rows)
    assert not [p for p in prices.parent.iterdir() if p.name.endswith(".tmp")], "a temporary file was left behind"


@SETTINGS
@given(field=st.sampled_from(ENTRY_FIELDS), value=hostile)
def test_any_value_in_an_entry_is_written_in_range_or_refused(field, value, tmp_path, prices):
    doc = {"together_ai/phi-4": {**GOOD, field: value}}
    code, out, err, before, after = _refresh(tmp_path, prices, json.dumps(doc))
    _check(code, out, err, before, after, prices, field, "together_ai/phi-4", "not LiteLLM's")


@SETTINGS
@given(name=names)
def test_any_entry_name_is_written_or_refused(name, tmp_path, prices):
    code, out, err, before, after = _refresh(tmp_path, prices, json.dumps({name: GOOD}))
    _check(code, out, err, before, after, prices, "entry", "field name")


RAW = {
    "Infinity": ('{"together_ai/phi-4": {"litellm_provider": "together_ai", "input_cost_per_token": Infinity, '
                 '"output_cost_per_token": 1e-7}}', "input_cost_per_token"),
    "1e308": ('{"together_ai/phi-4": {"litellm_provider": "together_ai", "input_cost_per_token": 1e308, '
              '"output_cost_per_token": 1e-7}}', "input_cost_per_token"),
    "a 5,000-digit integer": ('{"together_ai/phi-4": {"litellm_provider": "together_ai", "input_cost_per_token": '
                              + "9" * 5_000 + ', "output_cost_per_token": 1e-7}}', "input_cost_per_token"),
    "a context of 1e30": (json.dumps({"together_ai/phi-4": {**GOOD, "max_input_tokens": 1e30}}), "max_input_tokens"),
    "a context of -5": (json.dumps({"together_ai/phi-4": {**GOOD, "max_input_tokens": -5}}), "max_input_tokens"),
    "nested 5,000 deep": ('{"a": ' + "[" * 5_000 + "]" * 5_000 + "}", "nested"),
    "nested 500,000 deep": ('{"a": ' + "[" * 500_000 + "]" * 500_000 + "}", "lists and objects"),
    "a lone surrogate in a name": (json.dumps({"together_ai/phi-4\ud800": GOOD}), "phi-4"),
}


@pytest.mark.parametrize("name", list(RAW))
def test_hostile_price_lists_change_nothing(name, tmp_path, prices):
    code, out, err, before, after = _refresh(tmp_path, prices, RAW[name][0])
    assert code == 2
    _check(code, out, err, before, after, prices, RAW[name][1])


def test_a_failed_write_leaves_the_file_and_never_says_written(tmp_path, prices, monkeypatch):
    def refuse(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    code, out, err, before, after = _refresh(tmp_path, prices, json.dumps({"together_ai/phi-4": GOOD}))
    assert code == 1 and '"written"' not in out and not out
    assert_one_clean_line(err, "cannot write")
    assert after == before
    assert not [p for p in prices.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_prices_file_that_is_not_a_prices_table_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    source = tmp_path / "prices.json"
    source.write_text(json.dumps({"together_ai/phi-4": GOOD}))
    code, out, err = run_main(["refresh", "prices", "--litellm", str(source), "--write", "--prices-file", str(other)])
    assert code == 2 and other.read_text() == "a,b\n1,2\n"
    assert_one_clean_line(err, "--prices-file")


def test_a_good_list_is_written_whole(tmp_path, prices):
    code, out, err, before, after = _refresh(tmp_path, prices, json.dumps({"together_ai/phi-4": GOOD}))
    assert code == 0, err
    added = {c["id"]: c for c in strict_json(out)["changes"]}["together/phi-4"]
    assert added["kind"] == "added" and added["new_input"] == 0.1
    assert any(r.id == "together/phi-4" and r.context_tokens == 16384 for r in load_csv(prices, ApiPrice))


def test_peak_memory_of_a_large_hostile_price_list_is_bounded(tmp_path, prices):
    """Just under the limits (16 MiB, 1,000,000 values: 30,000 entries of 24 fields), one entry refused at the
    end, so the whole file is parsed and walked."""
    source = tmp_path / "big.json"
    entries = {f"together_ai/m{i}": {**GOOD, **{f"f{j}": f"v{j:010d}" for j in range(19)}} for i in range(30_000)}
    entries["together_ai/phi-4"] = {**GOOD, "input_cost_per_token": 1e308}
    source.write_text(json.dumps(entries, separators=(",", ":")))
    assert source.stat().st_size < 16 << 20
    code, peak_mib, err = peak_rss_mib(["refresh", "prices", "--litellm", str(source), "--write", "--prices-file", str(prices)])
    assert code == 2 and "input_cost_per_token" in err, err
    assert peak_mib < PEAK_RSS_LIMIT_MIB, f"peak {peak_mib:.0f} MiB"
