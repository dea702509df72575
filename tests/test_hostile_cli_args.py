"""Hostile command-line arguments to `estimate` and `finetune`: an answer (exit 0, strict JSON) or one clean
line naming the argument and what is allowed (exit 2), never argparse's usage block or a traceback."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_support import DATA, assert_one_clean_line, run_main, snapshot, strict_json

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ESTIMATE = {"--model": "llama3.1:8b", "--quant": "fp16", "--gpu": "h100-sxm"}
ESTIMATE_ARGS = ["--model", "--quant", "--gpu", "--gpus", "--engine", "--context", "--concurrency", "--input-tokens",
                 "--output-tokens", "--kv-cache-dtype"]
FINETUNE = {"--model": "llama3.1:8b", "--method": "lora"}
FINETUNE_ARGS = ["--model", "--method", "--rank", "--alpha", "--targets", "--gpu", "--gpus", "--zero-stage", "--seq-len",
                 "--micro-batch", "--tokens", "--epochs"]
# What a refusal of each argument may name besides the argument itself: the catalogue's lookups name the record kind,
# finetune's validation the field.
ALSO = {"--model": ["model"], "--quant": ["quant"], "--gpu": ["gpu"], "--engine": ["engine"], "--method": ["method"],
        "--targets": ["target_modules", "module"], "--zero-stage": ["zero_stage"], "--seq-len": ["seq_len"],
        "--micro-batch": ["micro_batch"]}

texts = st.one_of(
    st.sampled_from(["0", "-1", "1", "8", "1e3", "1e400", "inf", "-inf", "nan", "NaN", "1.5", "0x10", "1_000", "", " ",
                     "9" * 5_000, "1" * 25, "\x1b[31m8\x1b[0m", "\ud800", "a\nb", "m" * 10_000, "fp16", "h100-sxm", "vllm",
                     "llama3.1:8b", "qlora", "full", "qv", "q_proj,v_proj", "2026-01-01"]),
    st.text(max_size=12),
)


@pytest.fixture(scope="module", autouse=True)
def data_untouched():
    before = snapshot(DATA)
    yield
    assert snapshot(DATA) == before, "a file under data/ changed"


def _argv(command: str, base: dict, arg: str, value: str) -> list[str]:
    return [command, *[x for k, v in {**base, arg: value}.items() for x in (k, v)], "--json"]


def _check(code: int, out: str, err: str, arg: str) -> None:
    assert code in (0, 2), err
    if code == 0:
        strict_json(out)
    else:
        assert not out
        assert_one_clean_line(err, arg, arg.lstrip("-").replace("-", "_"), *ALSO.get(arg, []))


@SETTINGS
@given(arg=st.sampled_from(ESTIMATE_ARGS), value=texts)
def test_estimate_answers_or_names_the_argument(arg, value):
    code, out, err = run_main(_argv("estimate", ESTIMATE, arg, value))
    _check(code, out, err, arg)


@SETTINGS
@given(arg=st.sampled_from(FINETUNE_ARGS), value=texts)
def test_finetune_answers_or_names_the_argument(arg, value):
    code, out, err = run_main(_argv("finetune", FINETUNE, arg, value))
    _check(code, out, err, arg)


@pytest.mark.parametrize("argv, needle", [
    (["estimate", "--model", "llama3.1:8b"], "--quant"),  # a missing argument
    (["estimate", "--model", "llama3.1:8b", "--quant", "fp16", "--gpu", "h100-sxm", "--gpus", "0"], "--gpus"),
    (["estimate", "--model", "llama3.1:8b", "--quant", "fp16", "--gpu", "h100-sxm", "--gpus", "99999999999999999999"], "--gpus"),
    (["estimate", "--model", "llama3.1:8b", "--quant", "fp16", "--gpu", "h100-sxm", "--context", "1e30"], "--context"),
    (["estimate", "--model", "llama3.1:8b", "--quant", "fp16", "--gpu", "h100-sxm", "--kv-cache-dtype", "int3"], "--kv-cache-dtype"),
    (["estimate", "--model", "llama3.1:8b", "--quant", "fp16", "--gpu", "h100-sxm", "--no-such-flag"], "--no-such-flag"),
    (["plan"], "--constraints"),
    (["refresh", "prices"], "--litellm"),
    (["refresh", "prices", "--litellm", "x.json", "--as-of", "\x1b[2Jyesterday"], "--as-of"),
    (["add-model"], "--config"),
])
def test_argument_errors_are_one_line_not_a_usage_block(argv, needle):
    code, out, err = run_main(argv)
    assert code == 2
    assert_one_clean_line(err, needle)
    assert "usage:" not in err


def test_a_missing_or_odd_constraints_path_is_named_cleanly(tmp_path):
    for path in (tmp_path / "none.json", tmp_path / ("\x1b[31m" + "p" * 300 + ".json"), tmp_path):
        code, out, err = run_main(["plan", "--constraints", str(path)])
        assert code == 2
        assert_one_clean_line(err, "constraints file")
