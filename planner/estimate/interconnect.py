"""Interconnect: what tensor and pipeline parallelism cost in time on the links between GPUs.

Tensor parallelism (Megatron-style, as vLLM, SGLang and TensorRT-LLM split a layer) sums partial results
with two all-reduces per layer, after attention and after the MLP, of the activations of every token
in the step (hidden_size x 2 bytes, BF16). A ring all-reduce over n GPUs moves 2(n-1)/n of the message
over each GPU's link and takes 2(n-1) hops; NCCL's own cost model (github.com/NVIDIA/nccl,
src/graph/tuning.cc: Ring/LL base latency 3.6 us, per-hop latency 0.4 us on NVLink, 1.0 us on PCIe,
0.9 us on the network) gives the latency part. Bandwidths are each device's scale-up link, each way per
GPU (data/gpus.csv scale_up_bandwidth_gb_s: NVLink generation, PCIe generation, Infinity Fabric).

Pipeline stages on other nodes (beyond the NVLink domain) pass each step's activations over the
scale-out fabric, one hop per stage boundary; a token still crosses every stage in turn (the pipeline's
bubble at decode: the stages do not overlap for one sequence), which planner.estimate.speed already
counts by giving a token one stage's bandwidth at a time.

The functions take numbers or numpy arrays alike (the candidate grid and the single estimate call them).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from planner.catalog.records import Gpu, ModelSpec

ACTIVATION_BYTES = 2.0  # BF16 activations, whatever the weights' format
ALLREDUCES_PER_LAYER = 2  # after attention's output projection and after the MLP's down projection
RING_BASE_LATENCY_S = 3.6e-6  # NCCL tuning.cc baseLat, Ring / LL
HOP_LATENCY_S = {"nvlink": 0.4e-6, "pcie": 1.0e-6, "net": 0.9e-6,  # NCCL tuning.cc hwLat, Ring / LL
                 # GPUs that cannot reach each other's memory (no peer-to-peer) stage every transfer through host
                 # memory: 12.5 us GPU to GPU on a g5.12xlarge (4x A10G), the median of the off-diagonal of CUDA's
                 # p2pBandwidthLatencyTest 'P2P=Disabled Latency Matrix' (github.com/ray-project/ray/issues/39471,
                 # 2024-08-02; its 'P2P=Enabled' writes take 49,207 us: peer-to-peer does not work there)
                 "pcie-host": 12.5e-6}
# The fitted share of the link each PCIe class's all-reduces reach (planner.estimate.fit_comm), by link class.
SHARE_FACTORS = {"pcie": "pcie_allreduce_share", "pcie-host": "host_allreduce_share"}
# A device with no scale-out figure (desktop cards) is joined to another node by 100 GbE (an assumption).
FALLBACK_SCALE_OUT_GB_S = 12.5


def link_class(gpu: Gpu) -> str:
    """NCCL's hardware class for the device's scale-up link: NVLink-class (NVLink, Infinity Fabric, Gaudi's
    on-chip RoCE mesh), PCIe, or PCIe without peer-to-peer ("pcie-host": a link recorded as e.g. "pcie4-host",
    every transfer staged through host memory, as on AWS's A10G instances)."""
    link = (gpu.scale_up_link or "").lower()
    if not link or link.startswith("pcie"):
        return "pcie-host" if link.endswith("-host") else "pcie"
    return "nvlink"


def scale_up_bytes_s(gpu: Gpu, pcie_share: float | Mapping[str, float] = 1.0) -> float:
    """Bytes/s each way per GPU that a tensor-parallel all-reduce gets on the device's scale-up link (PCIe 4.0
    x16 where none is recorded): the link's figure, times the share of it the all-reduces of published
    tensor-parallel runs over that class of link reached (`pcie_share`: one figure for every PCIe class, or one
    per class as pcie_allreduce_share returns; fitted by planner.estimate.fit_comm: without NVLink NCCL's rings go
    through the host's PCIe switches, or through its memory where the GPUs have no peer-to-peer)."""
    kind = link_class(gpu)
    share = 1.0 if kind == "nvlink" else pcie_share.get(kind, 1.0) if isinstance(pcie_share, Mapping) else pcie_share
    return (gpu.scale_up_bandwidth_gb_s or 31.5) * 1e9 * share


def allreduce_s(message_bytes, gpus, bandwidth_bytes_s, hop_latency_s):
    """Ring all-reduce of `message_bytes` over `gpus` GPUs: base + 2(n-1) hops of latency, and 2(n-1)/n of
    the message over each GPU's link. Zero on one GPU."""
    n = np.asarray(gpus, dtype=float)
    seconds = RING_BASE_LATENCY_S + 2 * (n - 1) * hop_latency_s + 2 * (n - 1) / np.maximum(n, 1) * np.asarray(message_bytes) / bandwidth_bytes_s
    return np.where(n > 1, seconds, 0.0)


def tensor_parallel_comm(layers, hidden_size, tp_size, bandwidth_bytes_s, hop_latency_s):
    """(seconds per step whatever its size, seconds per token in the step) of a tensor-parallel replica's
    all-reduces: ALLREDUCES_PER_LAYER per layer, the message hidden_size x 2 bytes per token."""
    per_token_bytes = np.asarray(hidden_size, dtype=float) * ACTIVATION_BYTES
    count = ALLREDUCES_PER_LAYER * np.asarray(layers, dtype=float)
    fixed = count * allreduce_s(0.0, tp_size, bandwidth_bytes_s, hop_latency_s)
    per_token = count * (allreduce_s(per_token_bytes, tp_size, bandwidth_bytes_s, hop_latency_s) - allreduce_s(0.0, tp_size, bandwidth_bytes_s, hop_latency_s))
    return fixed, per_token


def pipeline_comm(hidden_size, stages, scale_out_bytes_s):
    """(seconds per step, seconds per token) of passing activations between pipeline stages on other nodes:
    one network hop per stage boundary."""
    boundaries = np.maximum(np.asarray(stages, dtype=float) - 1, 0)
    fixed = boundaries * (RING_BASE_LATENCY_S + HOP_LATENCY_S["net"])
    per_token = boundaries * np.asarray(hidden_size, dtype=float) * ACTIVATION_BYTES / scale_out_bytes_s
    return fixed, per_token


def pcie_allreduce_share(catalog) -> dict[str, float]:
    """The share of a PCIe link's bandwidth tensor-parallel all-reduces reach, per PCIe link class (SHARE_FACTORS:
    pcie_allreduce_share, host_allreduce_share in data/efficiency.csv, planner.estimate.fit_comm), 1 where none is
    fitted."""
    return {kind: row.value if (row := catalog.efficiency_index.get((factor, "*", "*"))) is not None else 1.0
            for kind, factor in SHARE_FACTORS.items()}


def share_fitted(catalog, gpu: Gpu) -> bool:
    """Whether the data fit the all-reduce share of this device's PCIe link class."""
    factor = SHARE_FACTORS.get(link_class(gpu))
    return factor is not None and catalog.efficiency_index.get((factor, "*", "*")) is not None


def replica_comm(model: ModelSpec, gpu: Gpu, gpus: int, tensor_parallel: bool,
                 pcie_share: float | Mapping[str, float] = 1.0) -> tuple[float, float]:
    """(seconds per step, seconds per token in the step) of one replica's communication: tensor-parallel
    all-reduces inside its NVLink domain (on PCIe at `pcie_share` of the link), pipeline hops between domains."""
    if gpus <= 1 or not tensor_parallel:
        return 0.0, 0.0
    tp = min(gpus, gpu.scale_up_gpus)
    fixed, per_token = tensor_parallel_comm(model.layers, model.hidden_size, tp, scale_up_bytes_s(gpu, pcie_share),
                                            HOP_LATENCY_S[link_class(gpu)])
    stages = -(-gpus // tp)
    pf, pt = pipeline_comm(model.hidden_size, stages, (gpu.scale_out_bandwidth_gb_s or FALLBACK_SCALE_OUT_GB_S) * 1e9)
    return float(fixed + pf), float(per_token + pt)
