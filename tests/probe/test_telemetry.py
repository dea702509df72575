"""NVML telemetry. No NVIDIA GPU exists here, so a fake `pynvml` module is
injected at the import boundary (sys.modules), and the real absence is tested too."""

from __future__ import annotations

import sys
import types
from collections import namedtuple

import pytest

from planner.probe import ProbeConfig, run_probe
from planner.probe.telemetry import GpuSampler

_Util = namedtuple("_Util", "gpu memory")
_Mem = namedtuple("_Mem", "total used free")
MIB = 1024 * 1024


def fake_pynvml(utilisations: list[list[int]], *, init_error: Exception | None = None) -> types.ModuleType:
    """A pynvml stand-in with len(utilisations) GPUs; each call returns the next value per GPU."""
    mod = types.ModuleType("pynvml")
    calls = {"init": 0, "shutdown": 0}
    counters = [0] * len(utilisations)

    def nvmlInit():  # noqa: N802 - pynvml's names
        calls["init"] += 1
        if init_error is not None:
            raise init_error

    def nvmlShutdown():  # noqa: N802
        calls["shutdown"] += 1

    def handle_index(i):
        return i

    def util(h):
        values = utilisations[h]
        value = values[min(counters[h], len(values) - 1)]
        counters[h] += 1
        return _Util(gpu=value, memory=0)

    def mem(h):
        return _Mem(total=80_000 * MIB, used=(1_000 + 10 * counters[h]) * MIB, free=0)

    mod.nvmlInit = nvmlInit
    mod.nvmlShutdown = nvmlShutdown
    mod.nvmlDeviceGetCount = lambda: len(utilisations)
    mod.nvmlDeviceGetHandleByIndex = handle_index
    mod.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    mod.nvmlDeviceGetUtilizationRates = util
    mod.nvmlDeviceGetMemoryInfo = mem
    mod.calls = calls
    return mod


def test_sampler_summarises_min_mean_max_per_gpu(monkeypatch):
    fake = fake_pynvml([[10, 50, 90], [0, 0, 0]])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = GpuSampler(endpoint_is_local=True, interval_s=10.0)  # only the start and end samples
    sampler.start()
    sampler.stop()
    result = sampler.result()
    assert result.available and result.samples == 2
    gpu0, gpu1 = result.gpus
    assert gpu0.name == "NVIDIA H100 80GB HBM3"
    assert (gpu0.utilisation_pct.min, gpu0.utilisation_pct.mean, gpu0.utilisation_pct.max) == (10, 30, 50)
    assert gpu0.memory_total_mib == 80_000
    assert gpu1.utilisation_pct.max == 0
    assert fake.calls == {"init": 1, "shutdown": 1}


def test_probe_attaches_gpu_telemetry_for_local_endpoint(monkeypatch, fake_server):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([[20, 40, 60, 80]]))
    result = run_probe(ProbeConfig(url=fake_server.url("slow"), model="m", concurrency=(1,), requests_per_level=1,
                                   max_tokens=8, prompt_tokens=8, telemetry_interval_s=0.1))
    telemetry = result.gpu_telemetry
    assert telemetry.available, telemetry.reason
    assert telemetry.samples >= 3  # the run takes ~0.8 s at 0.1 s intervals
    assert telemetry.gpus[0].utilisation_pct.min == 20
    assert result.to_dict()["gpu_telemetry"]["gpus"][0]["memory_used_mib"]["max"] >= 1_000


def test_remote_endpoint_gets_no_gpu_telemetry(monkeypatch):
    fake = fake_pynvml([[50]])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = GpuSampler(endpoint_is_local=False)
    sampler.start()
    sampler.stop()
    result = sampler.result()
    assert not result.available
    assert "not on this machine" in result.reason
    assert fake.calls["init"] == 0  # NVML not even touched


def test_nvml_init_failure_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([[1]], init_error=RuntimeError("Driver Not Loaded")))
    sampler = GpuSampler(endpoint_is_local=True)
    sampler.start()
    sampler.stop()
    result = sampler.result()
    assert not result.available
    assert "Driver Not Loaded" in result.reason


def test_pynvml_missing_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    sampler = GpuSampler(endpoint_is_local=True)
    sampler.start()
    sampler.stop()
    assert sampler.result().reason == "pynvml is not installed (pip install nvidia-ml-py)"


def test_this_machine_without_gpu_says_so(fake_server):
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("this machine has a working NVML")
    except Exception:  # noqa: BLE001 - expected: no driver here
        pass
    result = run_probe(ProbeConfig(url=fake_server.url("ok"), model="m", concurrency=(1,), requests_per_level=1,
                                   max_tokens=2, prompt_tokens=8))
    assert result.to_dict()["gpu_telemetry"]["available"] is False
    assert result.gpu_telemetry.reason
