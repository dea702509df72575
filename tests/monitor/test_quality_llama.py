"""Quality against a real llama.cpp server (llama-cpp-python, a tiny random-weight model) and a second endpoint."""

from __future__ import annotations

import json

import pytest
from llama_support import HAVE_LLAMA_CPP, LLAMA_MODEL_ALIAS, LlamaServer
from oracle_server import OracleServer
from test_quality import SHIPPED, right_answer

from planner.cli.main import main
from planner.quality import load_samples

pytestmark = pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="llama_cpp is not importable (make test installs it)")


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    from tiny_gguf import write_tiny_llama

    model = write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    server = LlamaServer(model, tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


def test_the_shipped_samples_on_llama_cpp_against_a_second_endpoint(llama, capsys):
    samples = load_samples(SHIPPED)
    oracle = OracleServer({s.prompt: right_answer(s) for s in samples})
    try:
        code = main(["quality", "--url", llama.url, "--against", oracle.url, "--concurrency", "1", "--json"])
    finally:
        oracle.stop()
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    tiny, right = doc["a"], doc["b"]
    assert tiny["model"] == LLAMA_MODEL_ALIAS and tiny["samples"] == 20 and tiny["request_errors"] == 0
    assert all(r["reply"] and r["latency_s"] > 0 for r in tiny["results"])  # the model answered every prompt
    assert tiny["passed"] <= 3  # random weights: the exact, numeric and JSON checks cannot pass by chance
    low, high = tiny["pass_rate_interval_95"]
    assert low <= tiny["pass_rate"] <= high
    assert right["passed"] == 20
    assert doc["only_b_passed"] == 20 - tiny["passed"] and doc["significant"] and doc["p_value"] < 0.001


def test_the_text_report_names_the_failures(llama, capsys):
    assert main(["quality", "--url", llama.url, "--concurrency", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{llama.url} ({LLAMA_MODEL_ALIAS}): ") and "95% Wilson interval" in out
    assert "FAIL capital-france: expected 'Paris'" in out
