"""`python -m planner estimate --request-rate R`: latency under load from the command line, or the word
UNSTABLE past capacity; a bad rate is refused with a one-line message."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = ["estimate", "--model", "meta-llama/Llama-3.3-70B-Instruct", "--quant", "fp8", "--gpu", "h100-sxm", "--gpus", "2",
        "--input-tokens", "2000", "--output-tokens", "200"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planner", *BASE, *args], cwd=ROOT, capture_output=True, text=True)


def test_a_rate_the_replica_sustains_prints_percentiles():
    out = _run("--request-rate", "1")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("under load at 1 requests/s"))
    assert "TTFT p50" in line and "p90" in line and "inter-token" in line and "end to end" in line
    assert "KV cache as vllm sizes it" in out.stdout and "maximum concurrency at 2,200 tokens per request" in out.stdout


def test_a_rate_past_capacity_is_called_unstable_not_given_a_number():
    out = _run("--request-rate", "400")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("under load"))
    assert "UNSTABLE" in line and "ms" not in line


def test_json_carries_the_load_and_the_kv_capacity():
    data = json.loads(_run("--request-rate", "1", "--json").stdout)
    assert data["load"]["load"] == "rate" and data["load"]["stable"] is True
    assert data["load"]["ttft_p90_s"] >= data["load"]["ttft_p50_s"] > 0
    assert data["kv_capacity"]["tokens"] > 0
    closed = json.loads(_run("--concurrency", "8", "--json").stdout)["load"]
    assert closed["load"] == "concurrency" and closed["concurrency"] == 8


def test_a_bad_rate_is_refused_in_one_line():
    for bad in ("0", "-1", "nan", "inf", "fast"):
        out = _run("--request-rate", bad)
        assert out.returncode == 2, bad
        assert "--request-rate" in out.stderr and "Traceback" not in out.stderr


def test_a_configuration_no_plan_would_recommend_says_why():
    """`estimate` answers for any configuration, but where the engine support matrix does not call it supported
    (an engine in maintenance, bitsandbytes served by SGLang) it says that no plan recommends it, and why."""
    def estimate(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "planner", "estimate", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                               "--gpu", "l40s", *args], cwd=ROOT, capture_output=True, text=True)

    bnb = estimate("--quant", "bnb-nf4", "--engine", "sglang", "--concurrency", "8")
    assert bnb.returncode == 0, bnb.stderr
    line = next(x for x in bnb.stdout.splitlines() if x.startswith("not planned"))
    assert "dequantizing them to 16 bits" in line and "bitsandbytes-foundation/bitsandbytes" in line
    tgi = estimate("--quant", "bf16", "--engine", "tgi")
    assert "not planned (unsupported" in tgi.stdout and "maintenance" in tgi.stdout
    served = estimate("--quant", "fp8", "--engine", "vllm", "--json")
    answer = json.loads(served.stdout)["support"]
    assert answer["status"] == "supported" and "not planned" not in estimate("--quant", "fp8").stdout
