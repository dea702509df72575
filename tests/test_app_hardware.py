"""GPU detection through a fake pynvml (the narrowest boundary), name matching, and the Hardware page."""

import sys
import types
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.catalog.loading import load_catalog
from planner.catalog.local_gpus import detect_gpus, match_catalog_gpu, owned_constraint
from planner.units import GIB

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


class NVMLError(Exception):
    pass


def fake_nvml(devices: list[tuple[str, float]] | None, fail_init: bool = False) -> types.ModuleType:
    """A stand-in for the pynvml module with only the calls detect_gpus makes."""
    nvml = types.ModuleType("pynvml")
    nvml.NVMLError = NVMLError
    nvml.shutdowns = 0

    def init():
        if fail_init:
            raise NVMLError("NVML Shared Library Not Found")

    def shutdown():
        nvml.shutdowns += 1

    nvml.nvmlInit = init
    nvml.nvmlShutdown = shutdown
    nvml.nvmlSystemGetDriverVersion = lambda: b"565.57.01"  # old bindings return bytes
    nvml.nvmlDeviceGetCount = lambda: len(devices or [])
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i
    nvml.nvmlDeviceGetName = lambda h: devices[h][0]
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=int(devices[h][1] * GIB))
    return nvml


# Names and sizes as NVML reports them (memory slightly under the marketed figure).
NVML_NAMES = [
    ("NVIDIA H100 80GB HBM3", 79.6, "h100-sxm"),
    ("NVIDIA H100 PCIe", 79.6, "h100-pcie"),
    ("NVIDIA H100 NVL", 93.1, "h100-nvl"),
    ("NVIDIA H200", 139.8, "h200"),
    ("NVIDIA A100-SXM4-80GB", 79.2, "a100-80gb"),
    ("NVIDIA A100-SXM4-40GB", 39.4, "a100-40gb"),
    ("NVIDIA GeForce RTX 4090", 23.99, "rtx-4090"),
    ("NVIDIA GeForce RTX 3090", 24.0, "rtx-3090"),
    ("Tesla T4", 15.1, "t4"),
    ("NVIDIA A10G", 22.0, "a10g"),
    ("NVIDIA A10", 22.0, "a10"),
    ("NVIDIA L40S", 44.5, "l40s"),
    ("NVIDIA L40", 44.5, "l40"),
    ("NVIDIA RTX 6000 Ada Generation", 47.5, "rtx-6000-ada"),
    ("NVIDIA RTX A6000", 47.5, "rtx-a6000"),
    ("NVIDIA GeForce RTX 4060 Ti", 15.7, "rtx-4060-ti-16gb"),
    ("NVIDIA B200", 178.4, "b200"),
]


@pytest.mark.parametrize("name,memory_gib,expected", NVML_NAMES)
def test_nvml_names_match_catalogue_ids(name, memory_gib, expected):
    gpu = match_catalog_gpu(name, memory_gib, load_catalog())
    assert gpu is not None and gpu.id == expected


def test_other_memory_variants_and_unknown_devices_match_nothing():
    catalog = load_catalog()
    assert match_catalog_gpu("NVIDIA GeForce RTX 4060 Ti", 7.6, catalog) is None  # the 8 GB card
    assert match_catalog_gpu("NVIDIA GeForce GTX 1080", 8.0, catalog) is None


@pytest.mark.parametrize("name, memory, expected", [
    ("NVIDIA GeForce RTX 4060 Laptop GPU", 7.6, "rtx-4060-laptop-8gb"),
    ("NVIDIA GeForce RTX 4090 Laptop GPU", 15.6, "rtx-4090-laptop-16gb"),
    ("NVIDIA GeForce RTX 4060 Ti", 15.6, "rtx-4060-ti-16gb"),  # a Ti is never the laptop part of the same number
    ("NVIDIA GB200", 184.0, "gb200-nvl72"),
    ("NVIDIA H20", 95.5, "h20"),
    ("NVIDIA GeForce RTX 5070 Ti", 15.5, "rtx-5070-ti"),
])
def test_late_2026_parts_match_their_nvml_names(name, memory, expected):
    assert match_catalog_gpu(name, memory, load_catalog()).id == expected


def test_detect_gpus_reads_nvml():
    nvml = fake_nvml([("NVIDIA H100 80GB HBM3", 79.6), ("NVIDIA H100 80GB HBM3", 79.6)])
    found = detect_gpus(nvml)
    assert [g.name for g in found.gpus] == ["NVIDIA H100 80GB HBM3"] * 2
    assert found.gpus[0].memory_gib == pytest.approx(79.6, abs=0.01)
    assert found.driver_version == "565.57.01"
    assert found.reason is None
    assert nvml.shutdowns == 1
    owned, unmatched = owned_constraint(found.gpus, load_catalog())
    assert owned == [{"gpu": "h100-sxm", "count": 2}] and unmatched == []


def test_detect_gpus_without_a_driver_says_why():
    found = detect_gpus(fake_nvml(None, fail_init=True))
    assert found.gpus == []
    assert "NVML Shared Library Not Found" in found.reason


def test_detect_gpus_with_no_device():
    found = detect_gpus(fake_nvml([]))
    assert found.gpus == [] and "no GPU" in found.reason


def test_hardware_page_offers_detected_gpus_as_owned(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([("NVIDIA GeForce RTX 4090", 23.99)] * 2))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/hardware.py").run()
    assert not at.exception
    assert "NVIDIA GeForce RTX 4090" in list(at.dataframe[0].value["name"])
    at.button(key="use_detected_gpus").click().run()
    assert any("2 × NVIDIA GeForce RTX 4090" in s.value for s in at.success)
    at.switch_page("pages/plan.py").run()
    assert not at.exception
    assert at.radio(key="hardware_mode").value == "own"
    assert at.multiselect(key="gpus_owned").value == ["rtx-4090"]
    assert at.number_input(key="gpu_count__rtx-4090").value == 2


def test_hardware_page_without_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(None, fail_init=True))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/hardware.py").run()
    assert not at.exception
    assert any("No NVIDIA GPU was found" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "use_detected_gpus"]
