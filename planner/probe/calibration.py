"""Calibration: remember how close real decode speed came to the plan's roofline.

`decode_efficiency` = measured single-stream decode tokens/s ÷ the plan's
`decode_roofline_tokens_per_s`. The core's speed model reads these entries
(`load_calibrations()`) to correct later predictions for the same engine and
GPU. Stored as a JSON list at $PLANNER_CALIBRATION_FILE, default
~/.config/ow-planner/calibration.json.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.probe.compare import plan_parts, single_stream_level
from planner.probe.faults import ProbeConfigError
from planner.probe.results import ProbeResult

log = logging.getLogger("planner.probe")

CALIBRATION_FILE_ENV = "PLANNER_CALIBRATION_FILE"
_KEY_FIELDS = ("engine", "gpu", "quant", "model")


class CalibrationEntry(BaseModel):
    """One measured efficiency. Rates in tokens/s; `endpoint_host` is a hostname only."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    engine: str
    gpu: str
    quant: str | None = None
    model: str | None = None
    decode_efficiency: float = Field(gt=0, description="measured ÷ roofline single-stream decode")
    measured_decode_tokens_per_s: float = Field(gt=0)
    predicted_decode_tokens_per_s: float | None = None
    endpoint_host: str | None = None
    measured_at: str = Field(description="ISO 8601, UTC")

    def key(self) -> tuple[str | None, ...]:
        return tuple(getattr(self, name) for name in _KEY_FIELDS)


def calibration_path() -> Path:
    """$PLANNER_CALIBRATION_FILE, else ~/.config/ow-planner/calibration.json."""
    override = os.environ.get(CALIBRATION_FILE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".config" / "ow-planner" / "calibration.json"


def load_calibrations() -> list[dict[str, Any]]:
    """All stored entries as dicts; [] when the file is missing or unreadable.

    A damaged file must not break planning, so it is logged and ignored.
    """
    path = calibration_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable calibration file %s: %s", path, exc)
        return []
    if not isinstance(raw, list):
        log.warning("ignoring calibration file %s: expected a JSON list", path)
        return []
    entries = []
    for item in raw:
        try:
            entries.append(CalibrationEntry.model_validate(item).model_dump())
        except ValidationError:
            log.warning("ignoring an invalid entry in %s", path)
    return entries


def _write(entries: list[dict[str, Any]]) -> Path:
    path = calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename, so a crash never leaves half a file for the planner to read.
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_calibration(entry: Mapping[str, Any] | CalibrationEntry) -> Path:
    """Store `entry`, replacing any entry with the same engine+gpu+quant+model. Returns the file path."""
    new = entry if isinstance(entry, CalibrationEntry) else CalibrationEntry.model_validate(dict(entry))
    kept = [e for e in load_calibrations() if CalibrationEntry.model_validate(e).key() != new.key()]
    kept.append(new.model_dump())
    return _write(kept)


def delete_calibrations() -> bool:
    """Remove the calibration file. True if there was one."""
    try:
        calibration_path().unlink()
        return True
    except FileNotFoundError:
        return False


def _ident(value: Any) -> str | None:
    """An id from a plan field that may be a plain string or an object with an id/name."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.get("id") or value.get("name")
        return None if value is None else str(value)
    return str(value)


def calibration_entry(plan: Mapping[str, Any], result: ProbeResult, *, endpoint_url: str | None = None,
                      now: datetime | None = None) -> CalibrationEntry:
    """Build an entry from a plan and a probe result; raises ProbeConfigError when it cannot.

    `endpoint_url` defaults to the result's (already credential-free) URL; only
    its hostname is stored.
    """
    _constraints, recommendation, speed = plan_parts(plan)
    roofline = speed.get("decode_roofline_tokens_per_s")
    if not isinstance(roofline, (int, float)) or roofline <= 0:
        raise ProbeConfigError("the plan has no positive decode_roofline_tokens_per_s to calibrate against")
    level = single_stream_level(list(result.levels))
    measured = level.output_tokens_per_s_per_stream.p50 if level is not None else None
    if measured is None or measured <= 0:
        raise ProbeConfigError("no single-stream decode speed was measured, so there is nothing to calibrate")
    engine, gpu = _ident(recommendation.get("engine")), _ident(recommendation.get("gpu"))
    if not engine or not gpu:
        raise ProbeConfigError("the plan's recommendation names no engine or GPU")
    predicted = speed.get("decode_tokens_per_s")
    host = urlsplit(endpoint_url or result.url).hostname
    return CalibrationEntry(
        engine=engine,
        gpu=gpu,
        quant=_ident(recommendation.get("quant")),
        model=_ident(recommendation.get("model")),
        decode_efficiency=measured / float(roofline),
        measured_decode_tokens_per_s=measured,
        predicted_decode_tokens_per_s=float(predicted) if isinstance(predicted, (int, float)) else None,
        endpoint_host=host,
        measured_at=(now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
    )
