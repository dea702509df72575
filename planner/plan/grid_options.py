"""What the candidate grid enumerates: the hardware a replica may use, the (format, engine) pairs that
work together, and what is left out before any estimate because something else beats it outright."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from planner.catalog.checkpoints import (
    GGUF_ENGINES,
    GGUF_FROM_16_BIT,
    QUANTIZED_ON_LOAD,
    SIXTEEN_BIT,
    default_checkpoints,
    deployable_formats,
)
from planner.catalog.loading import Catalog
from planner.catalog.records import Engine, Gpu, ModelSpec, Quant
from planner.estimate.cost import CostAssumptions, owned_cost, rented_cost
from planner.estimate.load import Workload
from planner.estimate.memory import resolve_kv_dtype
from planner.estimate.speed import efficiencies, max_running_sequences
from planner.plan.workload import Filters

# (engine, weight format) pairs whose kernels need a minimum CUDA compute capability. TensorRT-LLM runs
# gpt-oss's MXFP4 on Hopper and Blackwell only: OpenAI's cookbook "Using NVIDIA TensorRT-LLM to run
# gpt-oss-20b" (2025-08-05) recommends Hopper, Blackwell, RTX PRO and RTX 50 GPUs, and gpustack's run of
# TensorRT-LLM v1.2.0rc0 on A100 stopped with "NotImplementedError: WFP4A16 MoE is unsupported on
# SM80" (github.com/gpustack/gpustack docs/performance-lab/gpt-oss-120b/a100.md). Device capabilities
# come from data/gpus.csv (developer.nvidia.com/cuda-gpus).
MIN_COMPUTE_CAPABILITY = {("tensorrt-llm", "mxfp4"): 9.0}


MAX_GPUS_PER_REPLICA = 16  # two nodes of 8: tensor parallel inside a node, pipeline stages across


@dataclass(frozen=True)
class Hardware:
    """A way to run one replica: a device and how many of them."""

    gpu: Gpu
    count: int
    usd_per_gpu_month: float
    price_basis: str
    owned_limit: int | None  # GPUs of this kind the user owns, None when renting
    usd_per_gpu_month_high: float | None = None  # at the top of the price's published range (a budget must hold there)


@dataclass
class Grid:
    """Candidates as parallel arrays (index arrays point into the lists below)."""

    models: list[ModelSpec]
    pairs: list[tuple[Quant, Engine]]
    hardware: list[Hardware]
    m: np.ndarray
    p: np.ndarray
    h: np.ndarray
    values: dict[str, np.ndarray]
    enumerated: int = 0
    twins: dict[str, list[str]] | None = None  # engine id -> engines with identical estimates
    dominated: dict[str, str] | None = None  # device id -> a device as cheap and at least as capable
    dominated_quants: dict[str, str] | None = None  # quant id -> a format no bigger that loses no more quality
    severe_quants: dict[str, float] | None = None  # quant id -> its measured quality loss, too large to plan

    def __len__(self) -> int:
        return len(self.m)


def hardware_options(catalog: Catalog, f: Filters, a: CostAssumptions) -> list[Hardware]:
    """The devices a replica may use: the user's own, or every device with a price to rent or buy."""
    options: list[Hardware] = []
    if f.owned is not None:
        for owned in f.owned:
            gpu = catalog.gpu(owned.gpu)
            if is_desk_part(gpu) and not f.geforce_allowed:
                continue
            one = owned_cost(catalog, gpu, 1, a, sunk=True, desk=f.deployment != "datacenter")
            for count in _counts(gpu, owned.count):
                options.append(Hardware(gpu, count, one.usd_per_month, one.price_source, owned.count))
        return options
    for gpu in catalog.gpus.values():
        if is_desk_part(gpu) and not f.geforce_allowed:
            continue
        if f.buy:  # no cloud rental: price a purchase instead
            one = owned_cost(catalog, gpu, 1, a, desk=f.deployment != "datacenter") if catalog.purchase_price(gpu.id) else None
        else:
            one = rented_cost(catalog, gpu, 1, a)
        if one is None:
            continue
        for count in _counts(gpu, max(MAX_GPUS_PER_REPLICA, gpu.scale_up_gpus)):
            options.append(Hardware(gpu, count, one.usd_per_month, one.price_source, None, one.usd_per_month_high))
    return options


def is_geforce(gpu: Gpu) -> bool:
    """An NVIDIA consumer card, whose driver licence forbids datacenter deployment."""
    return gpu.kind == "consumer" and gpu.vendor.lower().startswith("nvidia")


def is_desk_part(gpu: Gpu) -> bool:
    """A desktop, laptop or embedded part (GeForce, Radeon, Arc, a consumer APU, a Mac, a Jetson module): planned
    for office and edge deployments, not for a datacenter service, which runs on datacenter or workstation GPUs
    in a server (a Mac has no datacenter form: no rack mounting, remote management or redundant power)."""
    return gpu.kind in {"consumer", "edge", "apple"}


def _counts(gpu: Gpu, limit: int) -> list[int]:
    """GPU counts a replica may take: powers of two to two nodes of 8, and inside a rack-scale NVLink
    domain (NVL72) the sizes that domain serves as one tensor/expert-parallel group."""
    if gpu.kind in {"apple", "cpu", "edge"}:
        return [1]
    sizes = (1, 2, 4, 8, 16) if gpu.kind == "datacenter" else (1, 2, 4, 8)
    largest = max(MAX_GPUS_PER_REPLICA, gpu.scale_up_gpus)
    if gpu.scale_up_gpus > MAX_GPUS_PER_REPLICA:
        sizes = sizes + tuple(n for n in (32, 64) if n < gpu.scale_up_gpus) + (gpu.scale_up_gpus,)
    counts = [n for n in sizes if n <= min(limit, largest)]
    return counts or [1]


def quant_engine_pairs(catalog: Catalog) -> list[tuple[Quant, Engine]]:
    """Every (quantization, engine) the catalogue says works together."""
    pairs = []
    for engine in catalog.engines.values():
        for quant_id in engine.quants:
            quant = catalog.quants.get(quant_id)
            if quant is not None:
                pairs.append((quant, engine))
    return pairs


SEVERE_LOSS_POINTS = 10.0  # a format raising perplexity 10% or more (planner.plan.rules.quant_penalty) is not planned


def severe_loss_quants(catalog: Catalog) -> dict[str, float]:
    """Formats whose measured quality loss is too large to ship (Q3_K_M, Q2_K in data/quants.csv), with their loss."""
    from planner.plan.rules import quant_penalty

    return {q.id: p for q in catalog.quants.values() if (p := quant_penalty(q, catalog.quants)) >= SEVERE_LOSS_POINTS}


def dominated_quants(catalog: Catalog) -> dict[str, str]:
    """Formats another of the same kind beats outright: no more bits per weight, no greater measured
    quality loss, on every engine that runs them (e.g. IQ4_XS against Q4_0; BF16 against FP16)."""
    from planner.plan.rules import (
        quant_penalty,  # rules imports the plan model; keep this module's imports light
    )

    quants = list(catalog.quants.values())
    out: dict[str, str] = {}
    for b in quants:
        for a in quants:
            if a is b or a.id in out or a.format != b.format or a.compute_dtype != b.compute_dtype:
                continue
            pa, pb = quant_penalty(a, catalog.quants), quant_penalty(b, catalog.quants)
            if set(a.engines) >= set(b.engines) and a.bits_per_weight <= b.bits_per_weight and pa <= pb and (
                    a.bits_per_weight < b.bits_per_weight or pa < pb or a.id < b.id):
                out[b.id] = a.id
                break
    return out


def dominated_devices(options: list[Hardware]) -> dict[str, str]:
    """Devices some other option beats or matches on every count that matters, at no higher price.

    When renting or buying, a device that costs at least as much per GPU as another of the same
    kind (consumer, workstation, datacenter), with no more memory, bandwidth or compute (FP16, FP8, INT8), can never make a better plan,
    so it is left out (and the plan says which device stands in for it).
    """
    singles = {hw.gpu.id: hw for hw in options if hw.count == 1}
    out: dict[str, str] = {}
    for j, worse in singles.items():
        for i, better in singles.items():
            if i != j and _at_least_as_good(better, worse):
                out[j] = i
                break
    return out


def _at_least_as_good(a: Hardware, b: Hardware) -> bool:
    ga, gb = a.gpu, b.gpu
    # only like for like: a GeForce card is no stand-in for a datacenter part (ECC, drivers, support)
    if ga.kind != gb.kind or hardware_class(ga) != hardware_class(gb) or bool(ga.fp16_tflops_dense) != bool(gb.fp16_tflops_dense):
        return False
    specs = [(ga.memory_gib, gb.memory_gib), (ga.memory_bandwidth_gb_s, gb.memory_bandwidth_gb_s),
             (ga.fp16_tflops_dense or 0, gb.fp16_tflops_dense or 0), (ga.fp8_tflops_dense or 0, gb.fp8_tflops_dense or 0),
             (ga.int8_tops_dense or 0, gb.int8_tops_dense or 0), (-a.usd_per_gpu_month, -b.usd_per_gpu_month)]
    no_worse = all(x >= y for x, y in specs)
    strictly_better = any(x > y for x, y in specs)
    # ties on everything: keep the first listed, drop the other
    return no_worse and (strictly_better or ga.id < gb.id)


def engine_twins(catalog: Catalog, w: Workload, hardware: list[Hardware], calibrations: list[dict] | None) -> dict[str, list[str]]:
    """Engines whose estimates are identical here (Ollama runs llama.cpp's kernels with the same
    fitted factors): each group is evaluated once, under its first engine, and the others are
    reported beside it."""
    families = {hw.gpu.family: hw.gpu for hw in hardware}
    groups: dict[tuple, list[str]] = {}
    for engine in catalog.engines.values():
        effs = tuple(_numbers(efficiencies(catalog, engine.id, gpu, calibrations)) for gpu in families.values())
        key = (effs, engine.overhead_gib, engine.default_gpu_memory_utilization, engine.tensor_parallel, engine.pipeline_parallel,
               engine.cpu_offload, tuple(max_running_sequences(engine.id, hw.gpu) for hw in hardware),
               resolve_kv_dtype(w.kv_cache_dtype, engine),
               tuple(sorted(engine.quants)), tuple(sorted({hardware_class(hw.gpu) for hw in hardware} & set(engine.hardware))))
        groups.setdefault(key, []).append(engine.id)
    return {ids[0]: ids[1:] for ids in groups.values() if len(ids) > 1}


def _numbers(e) -> tuple[float, ...]:
    """Every fitted factor of an Efficiencies, without the words saying where each came from."""
    return tuple(getattr(e, f.name) for f in dataclasses.fields(e) if f.name != "basis")


def model_pair_ok(models: list[ModelSpec], pairs: list[tuple[Quant, Engine]], self_quantize: bool = False) -> np.ndarray:
    """Formats that exist for a model in practice, over every (model, pair).

    A format is planned only where a checkpoint of it is published (data/checkpoints.csv), or the engine
    makes it on load from the 16-bit release (planner.catalog.checkpoints.deployable_formats), unless the
    user quantizes themselves (`allow_self_quantization`). gpt-oss is published in MXFP4 only (its model
    card), and MXFP4 checkpoints exist for nothing else in the catalogue. vLLM's GGUF support is documented
    as highly experimental, so GGUF is planned on llama.cpp and Ollama only.
    """
    native_mxfp4 = np.array([m.family.startswith("gpt-oss") for m in models], dtype=bool)
    is_mxfp4 = np.array([q.format == "mxfp4" for q, _ in pairs], dtype=bool)
    gguf_on_vllm = np.array([q.format == "gguf" and e.id == "vllm" for q, e in pairs], dtype=bool)
    ok = (native_mxfp4[:, None] == is_mxfp4[None, :]) & ~gguf_on_vllm[None, :]
    if self_quantize:
        return ok
    return ok & _published(tuple(m.id for m in models), tuple((q.id, e.id) for q, e in pairs))


def _user_model_formats(engine: str) -> set[str]:
    """A model the user added from its config: the 16-bit checkpoint they hold, and what an engine makes from it."""
    return (GGUF_FROM_16_BIT if engine in GGUF_ENGINES else SIXTEEN_BIT | set(QUANTIZED_ON_LOAD.get(engine, {})))


@functools.lru_cache(maxsize=32)
def _published(model_ids: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> np.ndarray:
    """(model, pair) -> a checkpoint of that format exists or the engine makes it on load (read-only, cached)."""
    published = default_checkpoints()
    exists = np.ones((len(model_ids), len(pairs)), dtype=bool)
    engines = {e for _, e in pairs}
    for i, model_id in enumerate(model_ids):
        by_engine = {e: deployable_formats(published, model_id, e) for e in engines}
        for j, (quant, engine) in enumerate(pairs):
            formats = by_engine[engine]
            exists[i, j] = quant in (formats if formats is not None else _user_model_formats(engine))
    exists.setflags(write=False)
    return exists


def hardware_class(gpu: Gpu) -> str:
    """The engines' hardware class of a device: apple, cpu, amd, intel or nvidia."""
    return _hardware_class(gpu.kind, gpu.vendor)


@functools.lru_cache(maxsize=64)
def _hardware_class(kind: str, vendor: str) -> str:
    """Intel's datacenter accelerators (Gaudi) are their own class: they run vLLM and TGI through Habana's
    stack, not the SYCL backend that runs llama.cpp on Intel GPUs (Arc)."""
    if kind in {"apple", "cpu"}:
        return kind
    if vendor.lower().startswith("intel"):
        return "gaudi" if kind == "datacenter" else "intel"
    return "amd" if vendor.lower().startswith("amd") else "nvidia"
