"""Quality on sample outputs: checks, Wilson intervals, McNemar, bad files line by line, real endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oracle_server import OracleServer

from planner.cli.main import main
from planner.quality import SampleFileError, compare, load_samples, mcnemar_exact_p, parse_samples, run_quality, wilson_interval
from planner.quality.checks import check_reply

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "quality_samples.jsonl"


def right_answer(sample) -> str:
    c = sample.check
    return {"exact": lambda: c.answer, "numeric": lambda: f"{c.answer:g}", "choice": lambda: c.answer,
            "json_schema": lambda: json.dumps(c.schema_.get("const") if "const" in c.schema_ else
                                              {k: v["const"] for k, v in c.schema_["properties"].items()}),
            "regex": lambda: {"regex-date": "2024-03-05", "regex-email": "ada@example.com",
                              "regex-python": "items[::-1]"}[sample.id]}[c.type]()


def test_wilson_interval_matches_the_published_worked_value():
    low, high = wilson_interval(8, 10)  # 8 of 10: 0.490 to 0.943 (Wilson score interval, z = 1.96)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(0, 20)[1] == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_mcnemar_exact_counts_only_discordant_pairs():
    assert mcnemar_exact_p(0, 6) == pytest.approx(2 / 64)  # six samples only B passed: 2 × 0.5⁶
    assert mcnemar_exact_p(1, 7) == pytest.approx(2 * 9 / 256)  # 2 × (C(8,0) + C(8,1)) / 2⁸
    assert mcnemar_exact_p(3, 3) == 1.0 and mcnemar_exact_p(0, 0) == 1.0


def test_each_check_kind():
    samples = {s.id: s for s in load_samples(SHIPPED)}
    assert check_reply(samples["capital-france"], " paris. ")[0]
    assert not check_reply(samples["capital-france"], "Lyon")[0]
    assert check_reply(samples["arith-div"], "It is 3.5")[0] and not check_reply(samples["arith-div"], "3.6")[0]
    assert check_reply(samples["choice-gas"], "The answer is C) carbon dioxide, a gas")[0]
    assert not check_reply(samples["choice-gas"], "A")[0]
    assert check_reply(samples["json-person"], '```json\n{"name": "Ada", "age": 36}\n```')[0]
    ok, why = check_reply(samples["json-person"], '{"name": "Ada", "age": "36"}')
    assert not ok and why.startswith("schema:")
    assert check_reply(samples["regex-date"], "2024-03-05")[0] and not check_reply(samples["regex-date"], "05/03/2024")[0]


def test_the_shipped_samples_are_valid_and_cite_their_licence():
    samples = load_samples(SHIPPED)
    assert len(samples) == 20 and all(s.licence == "CC0-1.0" and s.source for s in samples)
    assert {s.check.type for s in samples} == {"exact", "regex", "choice", "json_schema", "numeric"}
    assert all(check_reply(s, right_answer(s))[0] for s in samples)  # every check can be passed


def test_bad_sample_files_are_rejected_line_by_line():
    text = "\n".join([
        '{"id": "ok", "prompt": "2+2?", "check": {"type": "numeric", "answer": 4}}',
        '{"id": "a", "prompt": "x", "check": {"type": "fuzzy", "answer": "y"}}',
        "not json",
        '{"id": "b", "prompt": "x", "check": {"type": "regex", "pattern": "("}}',
        '{"id": "c", "prompt": "x", "check": {"type": "choice", "choices": ["A", "B"], "answer": "C"}}',
        '{"id": "ok", "prompt": "again", "check": {"type": "exact", "answer": "y"}}',
        '{"id": "d", "check": {"type": "exact", "answer": "y"}}',
        '{"id": "e", "prompt": "x", "check": {"type": "json_schema", "schema": {"type": "nonsense"}}}',
        '{"id": "f", "prompt": "x", "check": {"type": "exact", "answer": "y"}, "temperature": 1}',
    ])
    with pytest.raises(SampleFileError) as caught:
        parse_samples(text, name="s.jsonl")
    assert caught.value.problems == [
        "line 2: field 'check.type' must be one of choice, exact, json_schema, numeric, regex",
        "line 3: not JSON (Expecting value at column 1)",
        "line 4: field 'check.pattern': not a regular expression: missing ), unterminated subpattern at position 0",
        "line 5: field 'check': answer 'C' is not one of the choices ['A', 'B']",
        "line 6: id 'ok' repeats line 1",
        "line 7: field 'prompt' is missing",
        f"line 8: field 'check.schema': not a valid JSON schema: {caught.value.problems[6].split('schema: ', 1)[1]}",
        "line 9: field 'temperature' is not allowed (allowed: id, prompt, check, system, max_tokens, source, licence)",
    ]
    assert str(caught.value).startswith("s.jsonl has 8 bad line(s):\n  line 2:")


def test_cli_rejects_a_bad_file_with_exit_2_naming_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "prompt": "p", "check": {"type": "numeric"}}\n')
    assert main(["quality", "--url", "http://127.0.0.1:9/v1", "--samples", str(bad)]) == 2
    assert "line 1: field 'check.answer' is missing" in capsys.readouterr().err


def test_an_oracle_and_a_failing_endpoint_compared():
    samples = load_samples(SHIPPED)
    oracle = OracleServer({s.prompt: right_answer(s) for s in samples})
    wrong = OracleServer({s.prompt: "I do not know" for s in samples}, fail_prompts={samples[0].prompt})
    try:
        good, bad = run_quality(oracle.url, samples), run_quality(wrong.url, samples)
    finally:
        oracle.stop()
        wrong.stop()
    assert (good.passed, good.pass_rate, good.model) == (20, 1.0, "oracle")
    assert good.pass_rate_interval_95 == wilson_interval(20, 20) and good.latency_p50_s > 0
    assert bad.passed == 0 and bad.request_errors == 1
    assert bad.failures[0].reason == "request failed: HTTP 500" and bad.failures[1].reason == "expected 'Tokyo'"
    result = compare(bad, good)
    assert (result.only_b_passed, result.only_a_passed, result.difference) == (20, 0, 1.0)
    assert result.p_value == pytest.approx(2 / 2**20) and result.significant


def test_an_unreachable_endpoint_is_exit_1_with_the_reason(tmp_path, capsys):
    assert main(["quality", "--url", "http://127.0.0.1:9/v1", "--model", "m"]) == 1
    assert "every request to http://127.0.0.1:9/v1 failed (request failed: ConnectionError)" in capsys.readouterr().err
    assert main(["quality", "--url", "ftp://x"]) == 2
    assert "--url must be an http(s) URL" in capsys.readouterr().err
