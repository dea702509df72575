"""Memory formulas against hand-computed values (each derivation in the test's comment)."""

import math

import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.memory import (
    KV_BYTES_PER_ELEMENT,
    estimate_memory,
    kv_bytes_per_token_layer,
    kv_cache_bytes,
    layer_split,
    model_weight_bytes,
)
from planner.units import GIB


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_llama_31_8b_full_context_fp16_kv_is_16_gib(catalog):
    # 2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes = 131,072 bytes per token;
    # x 131,072 tokens = 16 GiB exactly.
    model = catalog.model("meta-llama/Llama-3.1-8B-Instruct")
    per_layer = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT["fp16"])
    full, windowed, window = layer_split(model)
    assert per_layer == 2 * 8 * 128 * 2
    assert kv_cache_bytes(per_layer, full, windowed, window, 131_072, 1) / GIB == pytest.approx(16.0)


def test_fp8_kv_halves_the_cache(catalog):
    model = catalog.model("llama3.1:8b")
    fp16 = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT["fp16"])
    fp8 = kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT["fp8"])
    assert fp8 == fp16 / 2


def test_sliding_window_layers_stop_growing_past_the_window(catalog):
    # Gemma 2 9B: 42 layers, half with a 4,096-token window. Past the window only the global half grows.
    model = catalog.model("google/gemma-2-9b-it")
    full, windowed, window = layer_split(model)
    assert windowed > 0 and window == 4096
    per_layer = kv_bytes_per_token_layer(model, 2.0)
    at_8k = kv_cache_bytes(per_layer, full, windowed, window, 8192, 1)
    at_16k = kv_cache_bytes(per_layer, full, windowed, window, 16384, 1)
    assert at_16k - at_8k == pytest.approx(per_layer * full * 8192)


def test_latent_attention_caches_the_compressed_latent(catalog):
    # DeepSeek-V3: (kv_lora_rank 512 + rope dim 64) x 2 bytes = 1,152 bytes per token per layer, x 61 layers.
    model = catalog.model("deepseek-ai/DeepSeek-V3")
    assert kv_bytes_per_token_layer(model, 2.0) == (512 + 64) * 2
    full, windowed, window = layer_split(model)
    assert kv_cache_bytes(1152, full, windowed, window, 1, 1) == 1152 * 61


def test_weights_are_params_times_bits_over_eight(catalog):
    # 8.03 B parameters at 16 bits = 16.06 GB = 14.96 GiB.
    model = catalog.model("llama3.1:8b")
    assert model.params_total_b == 8.03
    assert model_weight_bytes(model, catalog.quant("fp16"), "vllm")[0] / GIB == pytest.approx(8.03e9 * 2 / GIB)


def test_tensor_parallel_splits_weights_and_kv(catalog):
    model, quant, gpu, engine = (catalog.model("llama3.1:70b"), catalog.quant("fp16"), catalog.gpu("h100-sxm"), catalog.engine("vllm"))
    one = estimate_memory(model, quant, gpu, engine, 1, 8192, 4)
    four = estimate_memory(model, quant, gpu, engine, 4, 8192, 4)
    assert not one.fits and four.fits
    assert four.per_gpu_gib == pytest.approx(one.weights_gib / 4 + one.kv_cache_gib / 4 + engine.overhead_gib)
    assert four.split == "tensor-parallel"


def test_kv_heads_are_replicated_beyond_their_count(catalog):
    # Falcon 7B uses multi-query attention (1 KV head): under 4-way tensor parallelism every GPU
    # holds the whole cache.
    model, quant, gpu, engine = (catalog.model("tiiuae/falcon-7b-instruct"), catalog.quant("fp16"), catalog.gpu("a10g"), catalog.engine("vllm"))
    m = estimate_memory(model, quant, gpu, engine, 4, 2048, 8)
    assert model.kv_heads == 1
    assert m.per_gpu_gib == pytest.approx(m.weights_gib / 4 + m.kv_cache_gib + engine.overhead_gib)


def test_two_nodes_split_tensor_then_pipeline(catalog):
    # 16 GPUs = tensor parallel 8 inside a node x 2 pipeline stages: Llama 3.1 70B's 8 KV heads split
    # 8 ways and the layers 2 ways, so each GPU holds 1/16 of the cache.
    model, quant, gpu, engine = (catalog.model("llama3.1:70b"), catalog.quant("fp16"), catalog.gpu("h100-sxm"), catalog.engine("vllm"))
    m = estimate_memory(model, quant, gpu, engine, 16, 8192, 1)
    assert m.split == "tensor+pipeline-parallel"
    assert m.per_gpu_gib == pytest.approx(m.weights_gib / 16 + m.kv_cache_gib / 16 + engine.overhead_gib)


def test_llama_cpp_offloads_layers_to_the_cpu(catalog):
    model, quant, gpu, engine = (catalog.model("llama3.1:70b"), catalog.quant("q4_k_m"), catalog.gpu("rtx-4090"), catalog.engine("llama.cpp"))
    m = estimate_memory(model, quant, gpu, engine, 1, 4096, 1)
    assert m.fits and 0 < m.gpu_layers < model.layers
    assert m.cpu_offload_gib > 0
    assert m.per_gpu_gib <= m.capacity_gib + 1e-9
    vllm = estimate_memory(model, catalog.quant("awq-int4"), gpu, catalog.engine("vllm"), 1, 4096, 1)
    assert not vllm.fits and vllm.cpu_offload_gib == 0


def test_gguf_weights_within_3_percent_of_published_file_sizes(catalog):
    # llama-bench prints each file's size; data/benchmarks.csv keeps them as weights_gib rows. Every
    # row within 3% (gpt-oss's MXFP4 files: experts at 4.25 bits, the other tensors Q8_0).
    errors = []
    for r in catalog.benchmarks:
        if r.metric != "weights_gib" or r.quant not in catalog.quants:
            continue
        model = catalog.model(r.model)
        predicted = model_weight_bytes(model, catalog.quants[r.quant], r.engine)[0] / GIB
        errors.append(abs(predicted / r.value - 1))
        assert errors[-1] <= 0.03, (r.id, predicted, r.value)
    assert len(errors) >= 5
    assert sorted(errors)[len(errors) // 2] <= 0.03
    assert not math.isnan(sum(errors))


def test_published_memory_figures_within_10_percent(catalog):
    # The published figures found are vLLM pools (gpu_memory_utilization x the card); the estimator's
    # capacity model must land within 10% of each, and in the median within 5%.
    from planner.estimate.backtest import predict

    errors = [abs(predict(catalog, r) / r.value - 1) for r in catalog.benchmarks if r.metric == "memory_gib"]
    assert len(errors) >= 5
    assert max(errors) <= 0.10
    assert sorted(errors)[len(errors) // 2] <= 0.05


def test_mxfp4_quantizes_the_experts_and_keeps_the_rest_at_their_checkpoint_precision(catalog):
    """gpt-oss's model card: MoE weights in MXFP4 (4.25 bits with the block scales), the rest BF16;
    checkpoints of 12.8 GiB (20b) and 60.8 GiB (120b). The GGUF files keep the rest in Q8_0."""
    mxfp4 = catalog.quants["mxfp4"]
    for quant in catalog.quants.values():  # every split figure carries its own source
        if quant.other_bits_per_weight or quant.gguf_other_bits_per_weight:
            assert quant.other_bits_source and quant.other_bits_source.startswith("https://"), quant.id
    small, large = catalog.model("openai/gpt-oss-20b"), catalog.model("openai/gpt-oss-120b")
    assert model_weight_bytes(small, mxfp4, "vllm")[0] / GIB == pytest.approx(12.8, rel=0.02)
    assert model_weight_bytes(large, mxfp4, "vllm")[0] / GIB == pytest.approx(60.8, rel=0.02)
    assert model_weight_bytes(small, mxfp4, "llama.cpp")[0] < model_weight_bytes(small, mxfp4, "vllm")[0]
    # one token reads 4 of 32 experts plus every non-expert weight but the input embedding: BF16 attention
    # and output head make it about half again the bytes a uniform 4.25 bits would say
    total, active = model_weight_bytes(small, mxfp4, "vllm")
    assert active > 1.5 * small.params_active_b * 1e9 * 4.25 / 8
    assert active < total / 3
    # a dense format is unchanged: every weight at its bits
    q4 = catalog.quants["q4_k_m"]
    llama = catalog.model("llama3.1:8b")
    assert model_weight_bytes(llama, q4, "llama.cpp") == (llama.params_total_b * 1e9 * q4.bits_per_weight / 8,
                                                         llama.params_active_b * 1e9 * q4.bits_per_weight / 8)


def test_an_nvl72_rack_keeps_tensor_parallelism_inside_its_nvlink_domain(catalog):
    """72 GPUs share one NVLink domain in a GB200 NVL72 rack, so 16 or 64 of them form one tensor-parallel
    group; 16 HGX H100s are two nodes of 8 (tensor parallel inside a node, pipeline stages across)."""
    from planner.estimate.speed import tensor_parallel_scale

    model, quant, engine = catalog.model("moonshotai/Kimi-K2-Instruct"), catalog.quants["fp8"], catalog.engines["vllm"]
    rack, hgx = catalog.gpus["gb200-nvl72"], catalog.gpus["h100-sxm"]
    assert (rack.scale_up_gpus, hgx.scale_up_gpus) == (72, 8)
    assert estimate_memory(model, quant, rack, engine, 16, 8192).split == "tensor-parallel"
    assert estimate_memory(model, quant, hgx, engine, 16, 8192).split == "tensor+pipeline-parallel"
    assert tensor_parallel_scale(64, True, 0.9, rack.scale_up_gpus) == pytest.approx(64 * 0.9 ** 6)
    assert tensor_parallel_scale(64, True, 0.9, hgx.scale_up_gpus) == pytest.approx(8 * 0.9 ** 3)
