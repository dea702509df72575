"""Live probe: load-test a running LLM endpoint and compare measured vs predicted speed.

    from planner.probe import ProbeConfig, run_probe
    result = run_probe(ProbeConfig(url="http://127.0.0.1:8000/v1", model="m"))
    result.to_dict()  # the CLI's --json shape
"""

from planner.probe.calibration import (
    CalibrationEntry,
    calibration_entry,
    calibration_path,
    delete_calibrations,
    load_calibrations,
    save_calibration,
)
from planner.probe.cli import register, run_cli
from planner.probe.compare import compare, with_comparison
from planner.probe.config import ProbeConfig
from planner.probe.endpoint import Endpoint, detect_api
from planner.probe.factory import make_client
from planner.probe.faults import (
    FaultKind,
    HostNotAllowedError,
    ProbeConfigError,
    ProbeError,
)
from planner.probe.results import (
    ComparisonRow,
    GpuTelemetry,
    LevelResult,
    Percentiles,
    ProbeResult,
    ProgressEvent,
)
from planner.probe.runner import run_probe

__all__ = [
    "CalibrationEntry",
    "ComparisonRow",
    "Endpoint",
    "FaultKind",
    "GpuTelemetry",
    "HostNotAllowedError",
    "LevelResult",
    "Percentiles",
    "ProbeConfig",
    "ProbeConfigError",
    "ProbeError",
    "ProbeResult",
    "ProgressEvent",
    "calibration_entry",
    "calibration_path",
    "compare",
    "delete_calibrations",
    "detect_api",
    "load_calibrations",
    "make_client",
    "register",
    "run_cli",
    "run_probe",
    "save_calibration",
    "with_comparison",
]
