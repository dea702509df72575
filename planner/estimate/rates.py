"""The rates a device computes and reads at: datasheet peaks for rooflines, and the shares of them the device
sustains in published GEMM and stream benchmarks (planner.catalog.loading.Catalog.sustained_share,
bandwidth_share) for estimates. Devices with no published peak use the effective TFLOPS fitted to their
measured prefill (data/efficiency.csv), else their family's FLOPs per byte of bandwidth."""

from __future__ import annotations

from planner.catalog.loading import Catalog
from planner.catalog.records import Gpu


def peak_flops(gpu: Gpu, compute_dtype: str, catalog: Catalog | None = None) -> float:
    """Dense FLOP/s the prefill runs at: FP8/INT8 tensor cores when both the format and the device have them.

    Devices with no published peak (Apple, CPUs) use the effective TFLOPS fitted to their measured
    prefill in data/efficiency.csv, else a conservative placeholder.
    """
    if compute_dtype == "fp8" and gpu.fp8_tflops_dense:
        return gpu.fp8_tflops_dense * 1e12
    if compute_dtype == "int8" and gpu.int8_tops_dense:
        return gpu.int8_tops_dense * 1e12
    if gpu.fp16_tflops_dense:
        return gpu.fp16_tflops_dense * 1e12
    fitted = _fitted_tflops(gpu, catalog)
    if fitted is None:
        fitted = _family_ratio_tflops(gpu, catalog)
    return (fitted if fitted is not None else CPU_FALLBACK_TFLOPS) * 1e12


def _family_ratio_tflops(gpu: Gpu, catalog: Catalog | None) -> float | None:
    """A GPU of a family whose other members publish their peaks, but with none of its own and no measured prefill
    (NVIDIA publishes no datasheet for AWS's A10G): its bandwidth times the family's median FP16 FLOPs per byte of
    bandwidth. An estimate from its siblings, for accelerators only (a CPU keeps its own fallback)."""
    if catalog is None or gpu.kind in {"cpu", "apple"}:
        return None
    ratios = sorted(other.fp16_tflops_dense / other.memory_bandwidth_gb_s for other in catalog.gpus.values()
                    if other.family == gpu.family and other.vendor == gpu.vendor and other.fp16_tflops_dense and other.memory_bandwidth_gb_s)
    if len(ratios) < 3:
        return None
    return ratios[len(ratios) // 2] * gpu.memory_bandwidth_gb_s


def _fitted_tflops(gpu: Gpu, catalog: Catalog | None) -> float | None:
    if catalog is not None:
        for key in (gpu.id, gpu.family):  # the device's own measurements first, then its family's
            row = catalog.efficiency_index.get(("effective_tflops", "*", key))
            if row is not None:
                return row.value
    return None


def compute_is_placeholder(gpu: Gpu, catalog: Catalog) -> bool:
    """No published dense peak and no effective figure fitted to the device's (or its family's) measured
    prefill: its prefill runs at the conservative CPU_FALLBACK_TFLOPS."""
    return not gpu.fp16_tflops_dense and _fitted_tflops(gpu, catalog) is None


def sustained_flops(gpu: Gpu, compute_dtype: str, catalog: Catalog) -> float:
    """The dense FLOP/s estimates compute at: the peak (peak_flops) times the share of it the device
    sustains in a published GEMM benchmark (Catalog.sustained_share). Rooflines keep the peak."""
    if not gpu.fp16_tflops_dense:  # an effective figure fitted to measured prefill already
        return peak_flops(gpu, compute_dtype, catalog)
    return peak_flops(gpu, compute_dtype, catalog) * catalog.sustained_share(gpu, compute_dtype)


def sustained_bandwidth(gpu: Gpu, catalog: Catalog) -> float:
    """Bytes/s decode reads at: the datasheet bandwidth times the share of it the device sustains in a
    published stream benchmark (Catalog.bandwidth_share). Rooflines keep the datasheet figure."""
    return gpu.memory_bandwidth_gb_s * 1e9 * catalog.bandwidth_share(gpu)


# A device with no published FP16 tensor figure (a CPU server) is given a conservative 2 TFLOPS,
# about what a 96-core Zen 4 sustains in FP32 AVX-512 FMA (96 cores x 2.4 GHz x 32 FLOPs/cycle x 0.3).
CPU_FALLBACK_TFLOPS = 2.0
