"""Calibration storage: path, save/replace, load, delete, and building an entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_compare import PLAN, level, result

from planner.probe import (
    ProbeConfigError,
    calibration_entry,
    calibration_path,
    delete_calibrations,
    load_calibrations,
    save_calibration,
)


def test_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_CALIBRATION_FILE", str(tmp_path / "x" / "cal.json"))
    assert calibration_path() == tmp_path / "x" / "cal.json"
    monkeypatch.delenv("PLANNER_CALIBRATION_FILE")
    assert calibration_path() == Path.home() / ".config" / "ow-planner" / "calibration.json"


def _entry(**overrides):
    entry = {"engine": "vllm", "gpu": "h100-80gb", "quant": "fp8", "model": "llama-3.1-8b",
             "decode_efficiency": 0.5, "measured_decode_tokens_per_s": 40.0, "predicted_decode_tokens_per_s": 50.0,
             "endpoint_host": "127.0.0.1", "measured_at": "2026-11-25T00:00:00+00:00"}
    entry.update(overrides)
    return entry


def test_save_load_replace_delete():
    assert load_calibrations() == []
    path = save_calibration(_entry())
    assert path == calibration_path() and path.exists()
    save_calibration(_entry(gpu="l40s", decode_efficiency=0.7))
    save_calibration(_entry(decode_efficiency=0.6))  # same engine+gpu+quant+model: replaces
    entries = load_calibrations()
    assert len(entries) == 2
    assert {(e["gpu"], e["decode_efficiency"]) for e in entries} == {("h100-80gb", 0.6), ("l40s", 0.7)}
    assert delete_calibrations() is True
    assert load_calibrations() == []
    assert delete_calibrations() is False


def test_damaged_file_is_ignored(caplog):
    calibration_path().write_text("{not json")
    assert load_calibrations() == []
    assert "unreadable calibration file" in caplog.text
    calibration_path().write_text(json.dumps([_entry(), {"engine": "x"}]))
    assert len(load_calibrations()) == 1


def test_entry_from_plan_and_result():
    probe = result([level(1, ttft_p90=0.3, decode_p50=40.0, aggregate=40.0),
                    level(4, ttft_p90=0.5, decode_p50=30.0, aggregate=120.0)])
    probe = probe.model_copy(update={"url": "https://gpu-box.example:8443/v1?api-version=1"})
    entry = calibration_entry(PLAN, probe)
    assert entry.decode_efficiency == pytest.approx(40.0 / 80.0)
    assert entry.measured_decode_tokens_per_s == 40.0
    assert entry.predicted_decode_tokens_per_s == 50.0
    assert entry.endpoint_host == "gpu-box.example"
    assert (entry.engine, entry.gpu, entry.quant, entry.model) == ("vllm", "h100-80gb", "fp8", "llama-3.1-8b")
    save_calibration(entry)
    assert load_calibrations()[0]["endpoint_host"] == "gpu-box.example"


def test_entry_needs_roofline_and_measurement():
    plan = json.loads(json.dumps(PLAN))
    plan["recommendation"]["speed"]["decode_roofline_tokens_per_s"] = None
    with pytest.raises(ProbeConfigError, match="roofline"):
        calibration_entry(plan, result([level(1, ttft_p90=0.3, decode_p50=40.0, aggregate=40.0)]))
    with pytest.raises(ProbeConfigError, match="nothing to calibrate"):
        calibration_entry(PLAN, result([]))
