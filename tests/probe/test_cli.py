"""The `probe` subcommand: registered on our own parser (as the lead's planner/cli.py will) and
through `python -m planner.probe`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
from probe_fakes import closed_port
from test_compare import PLAN

from planner.probe import load_calibrations, register

LEVEL_KEYS = {"concurrency", "requests", "errors", "errors_by_kind", "ttft_s", "inter_token_s",
              "output_tokens_per_s_per_stream", "aggregate_output_tokens_per_s", "requests_per_s", "wall_s",
              "prompt_tokens", "output_tokens"}
TOP_KEYS = {"url", "api", "model", "levels", "comparison", "gpu_telemetry", "client_cpu_s_per_token",
            "stopped_reason"}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planner")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


def run(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    return args.func(args)


def check_shape(doc: dict) -> None:
    assert set(doc) >= TOP_KEYS
    for level in doc["levels"]:
        assert set(level) >= LEVEL_KEYS, LEVEL_KEYS - set(level)
        assert set(level["ttft_s"]) >= {"p50", "p90", "p99"}
        assert set(level["inter_token_s"]) >= {"p50", "p90"}
        assert "p50" in level["output_tokens_per_s_per_stream"]
    assert "available" in doc["gpu_telemetry"]


def test_json_output_shape(fake_server, capsys):
    code = run(["probe", "--url", fake_server.url("ok"), "--model", "fake-model", "--concurrency", "1,2",
                "--requests", "3", "--max-tokens", "5", "--prompt-tokens", "32", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    check_shape(doc)
    assert doc["url"] == fake_server.url("ok")
    assert [lvl["concurrency"] for lvl in doc["levels"]] == [1, 2]
    assert doc["levels"][0]["output_tokens"] == 15 and doc["levels"][0]["prompt_tokens"] == 42
    assert doc["comparison"] == [] and doc["stopped_reason"] is None
    assert doc["client_cpu_s_per_token"] > 0


def test_plan_comparison_and_calibration(fake_server, tmp_path, capsys):
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(PLAN))
    # tokens spaced in time ("slow"): a stream written all at once can arrive in one read on a loaded machine,
    # leaving no decode rate to calibrate from
    code = run(["probe", "--url", fake_server.url("slow"), "--model", "fake-model", "--concurrency", "1,4",
                "--requests", "4", "--max-tokens", "6", "--prompt-tokens", "16", "--plan", str(plan_file),
                "--calibrate", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    targets = {row["target"]: row for row in doc["comparison"]}
    assert {"ttft_s", "decode_tokens_per_s", "throughput_tokens_per_s"} <= set(targets)
    assert targets["throughput_tokens_per_s"]["at_concurrency"] == 4
    for row in doc["comparison"]:
        assert set(row) == {"target", "predicted", "measured", "error_pct", "at_concurrency", "requirement",
                            "verdict", "sentence"}
        assert row["verdict"] in ("meets", "misses", "no-target")
    (entry,) = load_calibrations()
    assert entry["engine"] == "vllm" and entry["endpoint_host"] == "127.0.0.1"
    assert "calibration saved to" in err


def test_table_output_and_progress(fake_server, capsys):
    code = run(["probe", "--url", fake_server.url("ok"), "--model", "fake-model", "--concurrency", "1,2",
                "--requests", "2", "--max-tokens", "4", "--prompt-tokens", "16"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "TTFT p90" in out and "agg tok/s" in out and "GPU telemetry" in out
    # stderr is not a terminal here: one progress line per level.
    assert err.count("level ") == 2


def test_calibrate_needs_plan(fake_server, capsys):
    assert run(["probe", "--url", fake_server.url("ok"), "--calibrate"]) == 2
    assert "--calibrate needs --plan" in capsys.readouterr().err


def test_unreadable_plan_is_usage_error(fake_server, tmp_path, capsys):
    bad = tmp_path / "plan.json"
    bad.write_text("{")
    assert run(["probe", "--url", fake_server.url("ok"), "--plan", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid JSON" in err


@pytest.mark.parametrize("argv", [
    ["probe", "--url", "http://h", "--concurrency", "0"],
    ["probe", "--url", "http://h", "--concurrency", "a,b"],
    ["probe", "--url", "http://h", "--requests", "-1"],
    ["probe", "--url", "http://h", "--timeout-s", "0"],
    ["probe", "--url", "http://h", "--api", "grpc"],
    ["probe"],
])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        run(argv)
    assert info.value.code == 2


def test_bad_url_exit_2(capsys):
    assert run(["probe", "--url", "ftp://h/v1"]) == 2
    assert "unsupported URL scheme" in capsys.readouterr().err


def test_list_models(fake_server, capsys):
    assert run(["probe", "--url", fake_server.url("ok"), "--list-models"]) == 0
    assert capsys.readouterr().out.split() == ["fake-model"]


def _module(args, env):
    return subprocess.run([sys.executable, "-m", "planner.probe", *args], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.parametrize("url", [lambda: f"http://127.0.0.1:{closed_port()}/v1",
                                 lambda: "http://probe-test.invalid:8000/v1"])
def test_unreachable_exits_1_with_one_line(url, subprocess_env):
    proc = _module(["--url", url(), "--model", "m"], subprocess_env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("probe: cannot use ")
    assert ("refused" in proc.stderr) or ("dns" in proc.stderr)
    assert "Traceback" not in proc.stderr


def test_unreachable_with_json_still_prints_the_result(subprocess_env):
    proc = _module(["probe", "--url", f"http://127.0.0.1:{closed_port()}/v1", "--model", "m", "--json"],
                   subprocess_env)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    check_shape(doc)
    assert doc["fatal_error"]["kind"] == "refused"
    assert proc.stderr.count("\n") == 1


def test_disallowed_host_exits_2(fake_server, subprocess_env):
    env = dict(subprocess_env, PLANNER_PROBE_ALLOWED_HOSTS="gpu-box.internal")
    proc = _module(["--url", fake_server.url("ok"), "--model", "m"], env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is not allowed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_module_json_run(fake_server, subprocess_env):
    proc = _module(["--url", fake_server.url("ok"), "--model", "fake-model", "--concurrency", "2",
                    "--requests", "2", "--max-tokens", "3", "--prompt-tokens", "8", "--json"], subprocess_env)
    assert proc.returncode == 0, proc.stderr
    check_shape(json.loads(proc.stdout))
