"""Decode physics: what a step reads and computes, and that the planning grid agrees with the estimator."""

import dataclasses

import numpy as np
import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.cost import resolve_assumptions
from planner.estimate.memory import (
    KV_BYTES_PER_ELEMENT,
    attention_flops_per_token_layer,
    kv_bytes_per_token_layer,
    kv_read_copies,
    model_weight_bytes,
)
from planner.estimate.speed import decode_bytes_per_step, estimate_speed
from planner.plan.constraints import Constraints
from planner.plan.grid import build_grid
from planner.plan.workload import filters_from, workload_from
from planner.units import GIB

CATALOG = load_catalog()
DEEPSEEK, QWEN_MOE, LLAMA_70B = "deepseek-ai/DeepSeek-R1", "Qwen/Qwen3-235B-A22B", "meta-llama/Llama-3.1-70B-Instruct"


def test_attention_flops_per_cached_token():
    llama, deepseek = CATALOG.model(LLAMA_70B), CATALOG.model(DEEPSEEK)
    # GQA: scores and weighted values for each of the 64 query heads of 128 dims, 2 FLOPs a multiply-add
    assert attention_flops_per_token_layer(llama) == 2 * 2 * 64 * 128
    # latent attention decodes in the 512-dim latent (+64 RoPE dims) for all 128 heads: about 4x the GQA work
    assert attention_flops_per_token_layer(deepseek) == 2 * 128 * (512 + 64 + 512)


def test_kv_read_copies_follow_the_kv_heads_over_tensor_parallel_ranks():
    llama, qwen, deepseek = CATALOG.model(LLAMA_70B), CATALOG.model(QWEN_MOE), CATALOG.model(DEEPSEEK)
    assert (llama.kv_heads, qwen.kv_heads) == (8, 4)
    assert float(kv_read_copies(llama, 8, True)) == 1  # 8 KV heads over 8 GPUs: each read once
    assert float(kv_read_copies(qwen, 8, True)) == 2  # 4 KV heads over 8 GPUs: each on two of them
    assert float(kv_read_copies(deepseek, 8, True)) == 8  # one latent, on every rank
    assert float(kv_read_copies(deepseek, 8, False)) == 1  # a layer split reads each layer's cache once


def test_a_latent_cache_costs_every_tensor_parallel_rank_its_read():
    """Longer contexts slow DeepSeek's decode at TP8 by the whole latent cache read on one GPU's
    bandwidth (its per-rank copy), not by an eighth of it."""
    model, gpu = CATALOG.model(DEEPSEEK), CATALOG.gpus["h200"]
    quant, engine = CATALOG.quants["fp8"], CATALOG.engines["vllm"]
    short, long = (estimate_speed(CATALOG, model, quant, gpu, engine, 8, tokens, 2, 64) for tokens in (1_000, 33_000))
    def step(s):
        return 1 / s.decode_tokens_per_s_at_concurrency

    kv_bytes = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT["fp16"]) * model.layers * 32_000 * 64
    e = short.efficiency
    one_gpu_read = kv_bytes / (gpu.memory_bandwidth_gb_s * 1e9 * e["decode_bandwidth"] * e["tensor_parallel"] ** 3) / e["moe_kernels"]
    added = step(long) - step(short)
    assert added > one_gpu_read  # the read at one GPU's (scaled) bandwidth, plus the attention compute
    assert added < 2 * one_gpu_read


@pytest.mark.parametrize(("model_id", "gpu_id", "owned"), [
    (DEEPSEEK, "h200", 8), (QWEN_MOE, "h200", 8), (LLAMA_70B, "h200", 8), ("openai/gpt-oss-20b", "h200", 8), (LLAMA_70B, "l40s", 8),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "h200", 8), ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "h100-sxm", 8),
    ("moonshotai/Kimi-K2-Instruct", "gb200-nvl72", 72)])
def test_planning_grid_decodes_at_the_estimators_speed(model_id, gpu_id, owned):
    """The grid's vectorised step (planner.plan.grid) and estimate_speed give the same decode rate,
    on one GPU and split over several, for latent, replicated-GQA, dense and experts-only-MXFP4 models at a
    long prompt; and prefill at the same rate, INT8 on a device with FP8 but no INT8 figure (L40S) included; hybrid
    linear-attention and Mamba-2 models, and tensor parallelism across an NVL72 rack's NVLink domain."""
    c, grid = _grid(CATALOG, model_id, gpu_id, owned)
    checked = 0
    for i, quant, engine, hw in _on_gpus(grid):
        speed = estimate_speed(CATALOG, grid.models[grid.m[i]], quant, hw.gpu, engine, hw.count, c.input_tokens, c.output_tokens, 1,
                               kv_cache_dtype="fp16")
        assert grid.values["decode_tokens_per_s"][i] == pytest.approx(speed.decode_tokens_per_s, rel=1e-9)
        assert grid.values["ttft_s"][i] == pytest.approx(speed.ttft_s, rel=1e-9), (quant.id, engine.id, hw.count)
        assert grid.values["weights_gib"][i] == pytest.approx(
            model_weight_bytes(grid.models[grid.m[i]], quant, engine.id)[0] / GIB, rel=1e-9)
        checked += hw.count > 1
    assert checked >= 3


def test_compute_runs_at_the_measured_share_of_the_peak():
    """Datasheet peaks are not what tensor cores sustain: SemiAnalysis measured ~720 of 989.5 BF16
    TFLOP/s on H100 and ~620 of 1,307 on MI300X, Azure's cuBLASLt run 250.8 of 312 FP16 on A100 80 GB.
    Devices not measured take their vendor's median."""
    gpus = CATALOG.gpus
    assert CATALOG.sustained_share(gpus["h100-sxm"], "bf16") == pytest.approx(720 / 989.5)
    assert CATALOG.sustained_share(gpus["mi300x"], "fp8") == pytest.approx(990 / 2614.9)
    assert CATALOG.sustained_share(gpus["a100-80gb"], "fp16") == pytest.approx(250.8 / 312)
    assert CATALOG.sustained_share(gpus["a100-40gb"], "fp16") == pytest.approx(720 / 989.5)  # NVIDIA's median
    assert CATALOG.sustained_share(gpus["mi325x"], "fp16") == pytest.approx(620 / 1307.4)  # AMD's: MI300X's
    # a datacenter device of a vendor nobody measured takes the datacenter median, not its datasheet
    assert CATALOG.sustained_share(gpus["intel-gaudi3"], "bf16") == pytest.approx(720 / 989.5)
    assert CATALOG.sustained_share(gpus["rtx-4090"], "fp16") == 1.0  # no consumer device measured
    for gpu in gpus.values():
        if gpu.fp16_tflops_sustained or gpu.fp8_tflops_sustained:
            assert gpu.sustained_source and gpu.sustained_source.startswith("https://")
        if gpu.memory_bandwidth_sustained_gb_s:
            assert gpu.bandwidth_source and gpu.bandwidth_source.startswith("https://")
            assert gpu.memory_bandwidth_sustained_gb_s < gpu.memory_bandwidth_gb_s


def test_decode_reads_at_the_measured_share_of_the_bandwidth():
    """Azure's BabelStream triad: 2.97 of 3.35 TB/s on H100, 4.10 of 5.3 on MI300X; rooflines keep the datasheet."""
    gpus = CATALOG.gpus
    assert CATALOG.bandwidth_share(gpus["h100-sxm"]) == pytest.approx(2970 / 3350)
    assert CATALOG.bandwidth_share(gpus["mi300x"]) == pytest.approx(4100 / 5300)
    model, quant, engine = CATALOG.model(LLAMA_70B), CATALOG.quants["fp8"], CATALOG.engines["vllm"]
    for gpu_id in ("h100-sxm", "mi300x"):
        gpu = gpus[gpu_id]
        speed = estimate_speed(CATALOG, model, quant, gpu, engine, 1, 100, 100, 1)
        weights = model.params_active_b * 1e9 * quant.bits_per_weight / 8
        assert speed.decode_roofline_tokens_per_s < gpu.memory_bandwidth_gb_s * 1e9 / weights  # the datasheet, less the KV read
        assert speed.decode_tokens_per_s < CATALOG.bandwidth_share(gpu) * speed.decode_roofline_tokens_per_s


def test_prefill_computes_at_the_sustained_rate_but_its_roofline_keeps_the_peak():
    model, gpu = CATALOG.model(LLAMA_70B), CATALOG.gpus["mi300x"]
    quant, engine = CATALOG.quants["fp8"], CATALOG.engines["vllm"]
    speed = estimate_speed(CATALOG, model, quant, gpu, engine, 1, 4000, 1, 1)
    flops_per_token = 2 * model.params_active_b * 1e9 + 2 * 2 * model.layers * model.attention_heads * model.head_dim * 4000 / 2
    assert speed.prefill_roofline_tokens_per_s == pytest.approx(2614.9e12 / flops_per_token)
    sustained = 990e12 * speed.efficiency["prefill_compute"] / flops_per_token
    assert speed.prefill_tokens_per_s == pytest.approx(sustained, rel=1e-6)
    assert speed.prefill_tokens_per_s < speed.prefill_roofline_tokens_per_s


def test_a_plan_names_the_measured_rates_it_starts_from():
    """The basis lines say at what share of its datasheet figures a device was taken, and from where,
    so a reader can re-derive the decode and prefill figures."""
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    c = Constraints(models=[LLAMA_70B], gpus_available=[{"gpu": "h100-sxm", "count": 8}], privacy="on-prem")
    basis = recommend(c, CATALOG).recommendation.basis
    decode = next(b for b in basis if b.startswith("Decode:"))
    prefill = next(b for b in basis if b.startswith("Prefill:"))
    assert "the 89% of its datasheet bandwidth the device sustains" in decode and "AI-benchmarking-guide" in decode
    assert "of its datasheet dense compute the device sustains" in prefill and "semianalysis.com" in prefill
    desktop = recommend(Constraints(models=["llama3.1:8b"], gpus_available=[{"gpu": "rtx-4090", "count": 1}], privacy="on-prem"), CATALOG)
    assert any("the datasheet bandwidth (no measured rate" in b for b in desktop.recommendation.basis)


def test_a_probe_calibration_reproduces_the_measured_decode_on_a_device_with_a_measured_bandwidth():
    """A probe stores measured ÷ datasheet roofline; the estimate it corrects reads at the sustained
    bandwidth, so the stored figure is divided by that share, not applied twice."""
    model, gpu = CATALOG.model("llama3.1:8b"), CATALOG.gpus["h100-sxm"]
    quant, engine = CATALOG.quants["fp16"], CATALOG.engines["vllm"]
    entry = {"engine": "vllm", "gpu": "h100-sxm", "decode_efficiency": 0.5}
    speed = estimate_speed(CATALOG, model, quant, gpu, engine, 1, 100, 100, 1, calibrations=[entry])
    assert speed.decode_tokens_per_s == pytest.approx(0.5 * speed.decode_roofline_tokens_per_s, rel=0.03)  # + batch-1 compute
    capped = estimate_speed(CATALOG, model, quant, gpu, engine, 1, 100, 100, 1, calibrations=[{**entry, "decode_efficiency": 1.4}])
    assert capped.decode_tokens_per_s < capped.decode_roofline_tokens_per_s


def test_prefill_attention_counts_latent_attentions_up_projected_dims():
    """DeepSeek-V3 prefills with 192-dim queries and keys (128 + 64 RoPE) and 128-dim values per head;
    grouped-query models with head_dim for both. Sliding windows save no prefill work (see the docstring)."""
    from planner.estimate.memory import prefill_attention_flops_per_token

    llama, deepseek = CATALOG.model(LLAMA_70B), CATALOG.model(DEEPSEEK)
    assert prefill_attention_flops_per_token(llama, 4000) == pytest.approx(2 * 2 * 80 * 64 * 128 * 4000 / 2)
    assert prefill_attention_flops_per_token(deepseek, 4000) == pytest.approx(2 * 61 * 128 * (192 + 128) * 4000 / 2)
    gpt_oss = CATALOG.model("openai/gpt-oss-20b")
    assert gpt_oss.sliding_window_layers  # windowed layers, counted in full
    assert prefill_attention_flops_per_token(gpt_oss, 8000) == pytest.approx(
        2 * 2 * gpt_oss.layers * gpt_oss.attention_heads * gpt_oss.head_dim * 8000 / 2)


def test_the_planning_grid_takes_the_fitted_pcie_share_as_the_estimator_does():
    """With a fitted pcie_allreduce_share the grid's all-reduces (planner.plan.grid_step.comm_tables) and
    estimate_speed's still agree on 8 PCIe L40S, and both are slower to the first token than at the link's
    datasheet figure."""
    import dataclasses

    from planner.catalog.records import EfficiencyFactor

    share = EfficiencyFactor(factor="pcie_allreduce_share", engine="*", hardware_family="*", value=0.3, n_rows=0, source="test",
                             as_of="2026-12-07")
    catalog = dataclasses.replace(CATALOG, efficiency=CATALOG.efficiency + (share,))
    c, grid = _grid(catalog, LLAMA_70B, "l40s", 8)
    checked = 0
    for i, quant, engine, hw in _on_gpus(grid):
        if hw.count < 2 or not engine.tensor_parallel:
            continue
        slow = estimate_speed(catalog, grid.models[grid.m[i]], quant, hw.gpu, engine, hw.count, c.input_tokens, c.output_tokens, 1)
        fast = estimate_speed(CATALOG, grid.models[grid.m[i]], quant, hw.gpu, engine, hw.count, c.input_tokens, c.output_tokens, 1)
        assert grid.values["ttft_s"][i] == pytest.approx(slow.ttft_s, rel=1e-9)
        assert grid.values["decode_tokens_per_s"][i] == pytest.approx(slow.decode_tokens_per_s, rel=1e-9)
        assert slow.ttft_s > fast.ttft_s
        checked += 1
    assert checked


def _grid(catalog, model_id: str, gpu_id: str, owned: int):
    """(constraints, planning grid) for one model on `owned` GPUs of one kind, at an 8,000-token prompt."""
    c = Constraints(models=[model_id], gpus_available=[{"gpu": gpu_id, "count": owned}], input_tokens=8000, output_tokens=500)
    a = resolve_assumptions(catalog, c.utilisation, c.amortisation_months, c.power_usd_per_kwh, c.gpu_usd_per_hour, c.gpu_price_for)
    return c, build_grid(catalog, workload_from(c), filters_from(c), [catalog.model(model_id)], a)


def _on_gpus(grid):
    """(row, quant, engine, hardware) of the grid's rows that keep every layer on the GPUs."""
    for i in range(len(grid.m)):
        if not grid.values["offload"][i]:
            quant, engine = grid.pairs[grid.p[i]]
            yield i, quant, engine, grid.hardware[grid.h[i]]


@pytest.mark.parametrize(("model_id", "gpu_id", "owned"), [
    ("openai/gpt-oss-20b", "h100-sxm", 2), ("google/gemma-3-27b-it", "l40s", 4), (LLAMA_70B, "h200", 8),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "h200", 4), (DEEPSEEK, "h200", 8), (QWEN_MOE, "mi300x", 4)])
def test_the_grid_sizes_each_engines_kv_cache_as_the_estimator_does(model_id, gpu_id, owned):
    """The running batch the grid allows by memory is planner.estimate.kv_capacity.sequences_that_fit's, engine by engine
    (vLLM's profiling and its sliding-window pages, SGLang's and TensorRT-LLM's fractions, llama.cpp's overhead), on one
    GPU and tensor parallel, for sliding-window, hybrid, latent and mixture models."""
    from planner.estimate.kv_capacity import sequences_that_fit, vllm_profile_terms

    c, grid = _grid(CATALOG, model_id, gpu_id, owned)
    context = workload_from(c).context_needed
    engines = set()
    for i, quant, engine, hw in _on_gpus(grid):
        batch = grid.values["batch_by_memory"][i]
        if batch < 1:
            continue
        fit = sequences_that_fit(grid.models[grid.m[i]], quant, hw.gpu, engine, hw.count, context, "fp16", vllm_profile_terms(CATALOG))
        assert batch == fit, (quant.id, engine.id, hw.count)
        engines.add(engine.id)
    assert len(engines) >= 2


def test_a_mixtures_batch_is_the_largest_whole_batch_whose_step_meets_the_target():
    """The grid's batch for a mixture of experts (planner.plan.grid_step.moe_batch) is the largest whole number of
    sequences whose decode step meets the allowed time, found by bisection past the powers of two: held against a
    scan of every batch from 1 to 1024. A power-of-two answer made a 1% slower factor halve a replica's batch."""
    from planner.plan.grid_step import StepTerms, moe_batch

    rows = 6
    rng = np.random.default_rng(7)
    gb = 1e9
    total = rng.uniform(30, 400, rows) * gb
    active = total * rng.uniform(0.03, 0.2, rows)
    M = {"experts_total": np.array([128, 256, 64, 512, 128, 32], dtype=float),
         "experts_active": np.array([8, 8, 4, 10, 8, 2], dtype=float)}
    bandwidth = 3.35e12 * rng.uniform(0.3, 2.0, rows)
    terms = StepTerms(f=np.ones(rows), bw_eff=bandwidth, host=np.full(rows, 50e9), m1=rng.uniform(1e-6, 1e-4, rows),
                      h1=np.zeros(rows), c1=rng.uniform(1e-6, 1e-4, rows), fixed=np.full(rows, 0.003))
    scan = np.arange(1, 1025, dtype=float)
    read = decode_bytes_per_step(active[:, None], total[:, None], M["experts_total"][:, None], M["experts_active"][:, None], scan[None, :])
    column = StepTerms(*(getattr(terms, field.name)[:, None] for field in dataclasses.fields(terms)))
    steps = column.step(read, scan[None, :])  # (rows, every batch from 1 to 1024)
    allowed = steps[np.arange(rows), [5, 11, 99, 300, 0, 1023]] * 1.0001  # targets met exactly by 6, 12, 100, 301, 1, 1024 sequences
    cap = np.array([1024, 1024, 1024, 200, 1024, 5000], dtype=float)
    expected = np.array([max((b for b in scan if steps[i, int(b) - 1] <= allowed[i] and b <= cap[i]), default=0.0)
                         for i in range(rows)])
    assert list(expected) == [6, 12, 100, 200, 1, 1024]  # the scan itself, as the targets were built (the cap binds in row 4)
    assert list(moe_batch(M, np.arange(rows), active, total, terms, allowed, cap)) == list(expected)
    # a target shorter than the fixed time of a step: no batch meets it, 0 (the grid then rules the row out)
    assert list(moe_batch(M, np.arange(rows), active, total, terms, np.full(rows, 0.002), cap)) == [0.0] * rows
