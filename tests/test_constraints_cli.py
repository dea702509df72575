"""Constraints validation and the command-line contract."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner.errors import ConstraintError
from planner.plan.constraints import Constraints, parse_constraints

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "planner", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("data, field", [
    ({"privacy": "cloud"}, "privacy"),
    ({"requests_per_day": -1}, "requests_per_day"),
    ({"gpus_available": [{"gpu": "h100-sxm", "count": 0}]}, "gpus_available"),
    ({"gpus_available": []}, "gpus_available"),
    ({"gpus_available": [{"gpu": "h100-sxm", "count": 2}, {"gpu": "H100-SXM", "count": 1}]}, "gpus_available"),
    ({"context_tokens": 100, "input_tokens": 1000}, "context_tokens"),
    ({"colour": "blue"}, "colour"),
    ({"task": "poetry"}, "task"),
])
def test_invalid_fields_are_named(data, field):
    with pytest.raises(ConstraintError) as err:
        parse_constraints(data)
    assert field in str(err.value)
    assert err.value.field == field


def test_fine_tuning_accepts_booleans():
    assert parse_constraints({"fine_tuning": True}).fine_tuning == "lora"
    assert parse_constraints({"fine_tuning": False}).fine_tuning == "none"


def test_context_needed_defaults_to_one_request():
    assert Constraints(input_tokens=2000, output_tokens=500).context_needed == 2500


def test_cli_catalog_lists_records_with_ids():
    for kind in ("models", "gpus", "quants", "engines", "apis"):
        out = run_cli("catalog", kind, "--json")
        assert out.returncode == 0, out.stderr
        records = json.loads(out.stdout)
        assert records and all("id" in r for r in records)


def test_cli_estimate_contract():
    out = run_cli("estimate", "--model", "LLAMA3.1:8B", "--quant", "fp16", "--gpu", "h100-sxm", "--context", "131072", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result["memory"]) >= {"weights_gib", "kv_cache_gib", "overhead_gib", "total_gib", "per_gpu_gib", "fits"}
    assert set(result["speed"]) >= {"prefill_tokens_per_s", "ttft_s", "decode_tokens_per_s", "throughput_tokens_per_s"}
    assert result["memory"]["kv_cache_gib"] == pytest.approx(16.0)
    assert result["memory"]["fits"] is True


def test_cli_plan_contract(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"privacy": "on-prem", "requests_per_day": 50000, "gpus_available": [{"gpu": "rtx-4090", "count": 4}],
                                "task": "code", "commercial_use": True}))
    out = run_cli("plan", "--constraints", str(path), "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["verdict"] == "self-host"
    rec = plan["recommendation"]
    assert set(rec) >= {"model", "quant", "engine", "gpu", "gpus", "replicas", "memory", "speed", "cost"}
    assert rec["gpu"] == "rtx-4090" and rec["gpus"] * rec["replicas"] <= 4
    assert isinstance(plan["alternatives"], list) and isinstance(plan["ruled_out"], list)
    assert all({"rule", "effect", "message"} <= set(f) for f in plan["findings"])


@pytest.mark.parametrize("content, needle", [
    ('{"privacy": "cloud"}', "privacy"),
    ('{"requests_per_day": "many"}', "requests_per_day"),
    ('{"unknown_field": 1}', "unknown_field"),
    ("{oops", "not valid JSON"),
])
def test_cli_plan_rejects_bad_constraints_with_exit_2(tmp_path, content, needle):
    path = tmp_path / "c.json"
    path.write_text(content)
    out = run_cli("plan", "--constraints", str(path), "--json")
    assert out.returncode == 2
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_cli_unknown_model_exits_2():
    out = run_cli("estimate", "--model", "nope", "--quant", "fp16", "--gpu", "h100-sxm", "--json")
    assert out.returncode == 2 and "model" in out.stderr and "Traceback" not in out.stderr


def test_cli_unwritable_output_is_one_line_not_a_traceback(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{}")
    out = run_cli("plan", "--constraints", str(path), "--pdf", "/proc/no-such-dir/plan.pdf")
    assert out.returncode == 1
    assert out.stderr.startswith("error: cannot write") and "Traceback" not in out.stderr
