"""Tensor-parallel communication (planner.estimate.interconnect): ring all-reduce times by hand, PCIe
against NVLink, and the per-device link columns of data/gpus.csv."""

import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.interconnect import allreduce_s, link_class, replica_comm, scale_up_bytes_s, tensor_parallel_comm
from planner.estimate.speed import estimate_speed

CATALOG = load_catalog()


def test_one_layer_of_a_70b_model_at_256_tokens_nvlink_against_pcie():
    """Llama 3.1 70B (hidden 8192), TP 8, a step of 256 tokens: each all-reduce carries 256 x 8192 x 2 bytes =
    4,194,304 bytes; a ring moves 2 x 7/8 of it over each GPU's link and takes 14 hops after NCCL's 3.6 us base.
    NVLink 4 (450 GB/s each way, 0.4 us a hop): 3.6 + 5.6 + 16.31 = 25.51 us; PCIe 4.0 x16 (31.5 GB/s, 1.0 us a
    hop): 3.6 + 14 + 233.02 = 250.62 us. Two all-reduces a layer."""
    message = 256 * 8192 * 2
    nvlink = allreduce_s(message, 8, 450e9, 0.4e-6)
    pcie = allreduce_s(message, 8, 31.5e9, 1.0e-6)
    assert nvlink == pytest.approx(3.6e-6 + 14 * 0.4e-6 + 1.75 * message / 450e9) == pytest.approx(25.51e-6, rel=1e-3)
    assert pcie == pytest.approx(3.6e-6 + 14 * 1.0e-6 + 1.75 * message / 31.5e9) == pytest.approx(250.62e-6, rel=1e-3)
    fixed, per_token = tensor_parallel_comm(1, 8192, 8, 450e9, 0.4e-6)
    assert fixed + 256 * per_token == pytest.approx(2 * nvlink)
    assert allreduce_s(message, 1, 450e9, 0.4e-6) == 0.0  # one GPU reduces nothing


def test_devices_name_their_links():
    gpus = CATALOG.gpus
    assert (gpus["h100-sxm"].scale_up_link, scale_up_bytes_s(gpus["h100-sxm"])) == ("nvlink4", 450e9)
    assert (gpus["a40"].scale_up_link, link_class(gpus["a40"])) == ("pcie4", "pcie")
    assert link_class(gpus["mi300x"]) == "nvlink" and gpus["mi300x"].scale_up_bandwidth_gb_s == 448
    for gpu in gpus.values():
        if gpu.scale_up_bandwidth_gb_s or gpu.scale_out_bandwidth_gb_s:
            assert gpu.interconnect_source and "http" in gpu.interconnect_source, gpu.id


def test_a_pcie_board_loses_to_nvlink_as_the_batch_grows():
    """The same H100 behind PCIe 5.0 instead of NVLink 4: one stream loses a little (its all-reduces are
    latency-bound: 1.0 against 0.4 us a hop), a batch of 256 more, and a 4,000-token prompt most."""
    model, quant, engine = CATALOG.model("meta-llama/Llama-3.1-70B-Instruct"), CATALOG.quants["fp8"], CATALOG.engines["vllm"]
    nvlink = CATALOG.gpus["h100-sxm"]
    pcie = nvlink.model_copy(update={"scale_up_link": "pcie5", "scale_up_bandwidth_gb_s": 63.0})
    fast, slow = (estimate_speed(CATALOG, model, quant, g, engine, 8, 4000, 300, 256) for g in (nvlink, pcie))
    one_stream = slow.decode_tokens_per_s / fast.decode_tokens_per_s
    batched = slow.decode_throughput_tokens_per_s / fast.decode_throughput_tokens_per_s
    assert 0.8 < one_stream < 1
    assert batched < one_stream - 0.05
    assert slow.ttft_s > 1.5 * fast.ttft_s
    assert replica_comm(model, nvlink, 1, True) == (0.0, 0.0)


def test_the_fitted_pcie_share_slows_only_the_bandwidth_of_pcie_links():
    """pcie_allreduce_share (fitted on published PCIe tensor-parallel runs, planner.estimate.fit_comm) divides a
    PCIe link's bandwidth: at 0.5 an L40S ring moves its activations at 15.75 GB/s, so the per-token part of a
    step's all-reduces doubles while their latency part stays; an NVLink board is untouched."""
    l40s, h100 = CATALOG.gpus["l40s"], CATALOG.gpus["h100-sxm"]
    assert scale_up_bytes_s(l40s, 0.5) == pytest.approx(15.75e9) and scale_up_bytes_s(h100, 0.5) == 450e9
    model = CATALOG.model("meta-llama/Llama-3.1-70B-Instruct")
    full, half = replica_comm(model, l40s, 8, True), replica_comm(model, l40s, 8, True, 0.5)
    assert half[0] == pytest.approx(full[0]) and half[1] == pytest.approx(2 * full[1])
    # 80 layers x 2 all-reduces x 2(8-1)/8 x 8192 x 2 bytes per token over 15.75 GB/s
    assert half[1] == pytest.approx(80 * 2 * 1.75 * 8192 * 2 / 15.75e9)
    assert replica_comm(model, h100, 8, True, 0.5) == replica_comm(model, h100, 8, True)


def test_gpus_without_peer_to_peer_stage_their_all_reduces_through_the_host():
    """AWS's A10Gs cannot reach each other's memory (a g5.12xlarge's p2pBandwidthLatencyTest: 12.5 us GPU to GPU
    with P2P disabled): their link is its own class, 12.5 us a hop where PCIe with peer-to-peer takes NCCL's
    1.0 us. At TP 4 a Llama 2 13B step (40 layers, 2 all-reduces each) spends 80 x (3.6 + 6 x 12.5) us = 6.29 ms
    on latency alone, against 0.77 ms with peer-to-peer. Each class takes its own fitted share of the link."""
    a10g = CATALOG.gpus["a10g"]
    assert (a10g.scale_up_link, link_class(a10g)) == ("pcie4-host", "pcie-host")
    model = CATALOG.model("meta-llama/Llama-2-13b-chat-hf")
    host_fixed, _ = replica_comm(model, a10g, 4, True)
    peer = a10g.model_copy(update={"scale_up_link": "pcie4"})
    peer_fixed, _ = replica_comm(model, peer, 4, True)
    assert host_fixed == pytest.approx(80 * (3.6e-6 + 6 * 12.5e-6))
    assert peer_fixed == pytest.approx(80 * (3.6e-6 + 6 * 1.0e-6))
    shares = {"pcie": 0.5, "pcie-host": 0.1}
    assert scale_up_bytes_s(a10g, shares) == pytest.approx(3.15e9) and scale_up_bytes_s(peer, shares) == pytest.approx(15.75e9)
    assert scale_up_bytes_s(CATALOG.gpus["h100-sxm"], shares) == 450e9
