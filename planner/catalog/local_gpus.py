"""The GPUs on this machine (NVML) and the catalogue devices they are.

`detect_gpus` asks NVML through the `pynvml` module of nvidia-ml-py; a machine without an NVIDIA
driver gives an empty list and the reason. `match_catalog_gpu` maps an NVML name and memory size
to a catalogue id, so the GPUs found can become the "GPUs I own" constraint.
"""

from __future__ import annotations

import re
from collections import Counter
from types import ModuleType

from pydantic import BaseModel, ConfigDict

from planner.catalog.loading import Catalog
from planner.catalog.records import Gpu
from planner.units import GIB

# Words that name a vendor or brand, not a device.
_NOISE = {"nvidia", "geforce", "tesla", "amd", "instinct", "intel", "apple", "generation", "edition", "workstation",
          "oam", "gpu", "graphics", "card", "superchip", "hgx", "dgx", "aws", "g5", "the"}
_FORM_FACTORS = {"pcie", "sxm", "nvl"}
# NVML reports a little less than the marketed size (ECC and reserved memory): an 80 GB H100
# shows 79.6 GiB. Beyond this relative gap it is another memory variant.
MEMORY_TOLERANCE = 0.12
# Words that make another part of the same number: both names say them, or neither ("RTX 4060 Ti" is not
# the "RTX 4060 Laptop GPU"; NVML names laptop parts "... Laptop GPU").
_VARIANTS = {"laptop", "ti", "super"}


class DetectedGpu(BaseModel):
    """One device as NVML reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    name: str
    memory_gib: float


class Detection(BaseModel):
    """What NVML found; `reason` says why the list is empty when it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpus: list[DetectedGpu]
    driver_version: str | None = None
    reason: str | None = None


def detect_gpus(nvml: ModuleType | None = None) -> Detection:
    """The NVIDIA GPUs on this machine; never raises for a missing driver or library."""
    if nvml is None:
        try:
            import pynvml as nvml  # nvidia-ml-py; imported here so the planner loads without it
        except ImportError:
            return Detection(gpus=[], reason="The nvidia-ml-py package (module pynvml) is not installed.")
    try:
        nvml.nvmlInit()
    except Exception as exc:  # pynvml raises NVMLError subclasses; a broken library raises others
        return Detection(gpus=[], reason=f"NVML could not start ({_text(exc) or type(exc).__name__}): no NVIDIA driver on this machine.")
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion()) if hasattr(nvml, "nvmlSystemGetDriverVersion") else None
        gpus = []
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(DetectedGpu(index=i, name=_text(nvml.nvmlDeviceGetName(handle)), memory_gib=memory.total / GIB))
        reason = None if gpus else "NVML started but reports no GPU."
        return Detection(gpus=gpus, driver_version=driver, reason=reason)
    except Exception as exc:
        return Detection(gpus=[], reason=f"NVML failed while listing devices: {_text(exc) or type(exc).__name__}.")
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # shutting down a half-started NVML is best effort
            pass


def match_catalog_gpu(name: str, memory_gib: float, catalog: Catalog) -> Gpu | None:
    """The catalogue device an NVML name and memory size describe, or None.

    The device's model token (the first word with a digit: h100, a10g, 4090, mi300x) must appear
    as a whole word, so an A10G is never an A10; the memory must be within MEMORY_TOLERANCE; ties
    go to the most shared words (form factor, 'ada', 'pro'), then the closest memory.
    """
    seen = _tokens(name)
    best: tuple[float, Gpu] | None = None
    for gpu in catalog.gpus.values():
        theirs = _tokens(gpu.name)
        model_token = _model_token(gpu.name)
        if model_token is None or model_token not in seen or (seen & _VARIANTS) != (theirs & _VARIANTS):
            continue
        gap = abs(memory_gib - gpu.memory_gib) / gpu.memory_gib
        if gap > MEMORY_TOLERANCE:
            continue
        score = len(seen & theirs) - 0.5 * len(theirs - seen) - gap
        if best is None or score > best[0]:
            best = (score, gpu)
    return best[1] if best else None


def owned_constraint(detected: list[DetectedGpu], catalog: Catalog) -> tuple[list[dict], list[DetectedGpu]]:
    """(`gpus_available` entries for the matched devices, the devices that matched nothing)."""
    counts: Counter[str] = Counter()
    unmatched = []
    for device in detected:
        gpu = match_catalog_gpu(device.name, device.memory_gib, catalog)
        if gpu is None:
            unmatched.append(device)
        else:
            counts[gpu.id] += 1
    return [{"gpu": gpu_id, "count": n} for gpu_id, n in counts.items()], unmatched


def _model_token(name: str) -> str | None:
    """The first word of a catalogue name that carries a digit (h100, 4090, gb200), in the name's order."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in _NOISE and not re.fullmatch(r"\d+gb", w)]
    return next((w for w in words if any(ch.isdigit() for ch in w)), None)


def _tokens(name: str) -> set[str]:
    words = set(re.split(r"[^a-z0-9]+", name.lower())) - _NOISE - {""}
    words = {w for w in words if not re.fullmatch(r"\d+gb", w)}  # memory is compared as a number
    words = {"sxm" if w.startswith("sxm") else w for w in words}
    # NVML names SXM parts without a form factor ("NVIDIA H100 80GB HBM3") but always says PCIe/NVL.
    if not words & _FORM_FACTORS and words & {"hbm3", "hbm3e", "hbm2e"}:
        words.add("sxm")
    return words


def _text(value: object) -> str:
    """Old pynvml versions return bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)
