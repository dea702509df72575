"""GPU telemetry through NVML, sampled in a background thread during a run.

Only meaningful when the endpoint runs on this machine (a loopback host):
NVML sees local GPUs, and attributing them to a remote endpoint would be
wrong. Without `pynvml` (package nvidia-ml-py) or a driver, the result says
why instead of failing.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from planner.probe.results import GpuStat, GpuSummary, GpuTelemetry

log = logging.getLogger(__name__)

_MIB = 1024 * 1024


def load_nvml() -> ModuleType:
    """Import pynvml. The single import boundary, so tests can inject a fake module."""
    return importlib.import_module("pynvml")


@dataclass
class _GpuSeries:
    name: str | None
    memory_total_mib: float | None
    utilisation_pct: list[float] = field(default_factory=list)
    memory_used_mib: list[float] = field(default_factory=list)


def _stat(values: list[float]) -> GpuStat:
    return GpuStat(min=min(values), mean=sum(values) / len(values), max=max(values))


def _decode(name: Any) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


class GpuSampler:
    """Samples utilisation (%) and memory used (MiB) of every GPU every `interval_s` seconds.

    Use as a context manager, or start()/stop(); `result()` summarises.
    """

    def __init__(self, *, endpoint_is_local: bool, enabled: bool = True, interval_s: float = 0.5):
        self.interval_s = interval_s
        self._enabled = enabled
        self._endpoint_is_local = endpoint_is_local
        self._nvml: ModuleType | None = None
        self._handles: list[Any] = []
        self._series: list[_GpuSeries] = []
        self._samples = 0
        self._reason: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> GpuSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not self._enabled:
            self._reason = "GPU telemetry was turned off"
            return
        if not self._endpoint_is_local:
            self._reason = ("the endpoint is not on this machine; NVML can only see local GPUs, "
                            "so run the probe on the serving host for GPU telemetry")
            return
        try:
            nvml = load_nvml()
        except ImportError:
            self._reason = "pynvml is not installed (pip install nvidia-ml-py)"
            return
        try:
            nvml.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound etc.: no driver here
            self._reason = f"NVML did not initialise ({type(exc).__name__}: {exc}); no NVIDIA driver/GPU here?"
            return
        try:
            count = int(nvml.nvmlDeviceGetCount())
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            for handle in self._handles:
                try:
                    name = _decode(nvml.nvmlDeviceGetName(handle))
                except Exception:  # noqa: BLE001 - the name is a nicety
                    name = None
                total = nvml.nvmlDeviceGetMemoryInfo(handle).total / _MIB
                self._series.append(_GpuSeries(name=name, memory_total_mib=total))
        except Exception as exc:  # noqa: BLE001
            self._reason = f"NVML could not list GPUs ({type(exc).__name__}: {exc})"
            self._shutdown(nvml)
            return
        if not self._handles:
            self._reason = "NVML found no GPUs"
            self._shutdown(nvml)
            return
        self._nvml = nvml
        self._sample_once()  # at least one sample even for a very short run
        self._thread = threading.Thread(target=self._loop, name="probe-nvml", daemon=True)
        self._thread.start()

    def _shutdown(self, nvml: ModuleType) -> None:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down best-effort
            pass

    def _sample_once(self) -> bool:
        nvml = self._nvml
        if nvml is None:
            return False
        try:
            rows = []
            for handle in self._handles:
                util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                used = nvml.nvmlDeviceGetMemoryInfo(handle).used / _MIB
                rows.append((util, used))
        except Exception as exc:  # noqa: BLE001 - keep what was sampled so far
            self._reason = f"sampling stopped ({type(exc).__name__}: {exc})"
            return False
        with self._lock:
            for series, (util, used) in zip(self._series, rows, strict=True):
                series.utilisation_pct.append(util)
                series.memory_used_mib.append(used)
            self._samples += 1
        return True

    def _loop(self) -> None:
        next_s = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_s - time.monotonic())):
            if not self._sample_once():
                return
            next_s += self.interval_s

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._nvml is not None:
            self._sample_once()  # the end state too
            self._shutdown(self._nvml)
            self._nvml = None

    def result(self) -> GpuTelemetry:
        with self._lock:
            if not self._samples:
                return GpuTelemetry(available=False, reason=self._reason or "no samples were taken")
            gpus = [
                GpuSummary(index=i, name=s.name, utilisation_pct=_stat(s.utilisation_pct),
                           memory_used_mib=_stat(s.memory_used_mib), memory_total_mib=s.memory_total_mib)
                for i, s in enumerate(self._series)
            ]
            return GpuTelemetry(available=True, reason=self._reason, interval_s=self.interval_s,
                                samples=self._samples, gpus=gpus)
