"""KV cache capacity as each engine sizes it (planner.estimate.kv_capacity), against logged start-ups."""

import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.kv_capacity import (
    kv_bytes_per_token_per_gpu,
    kv_capacity,
    visible_memory_gib,
    vllm_available_kv_gib,
    vllm_profile_terms,
    vllm_tokens,
)
from planner.units import GIB

CATALOG = load_catalog()


def test_vllm_accounting_reproduces_a_logged_start_up():
    """vllm PR #10511 (github.com/vllm-project/vllm/pull/10511), `vllm serve meta-llama/Meta-Llama-3-8B` on an H100:
    total_gpu_memory 79.22 GiB x gpu_memory_utilization 0.90 = 71.29 GiB; weights 14.96 GiB; non_torch_memory
    1.79 GiB; PyTorch activation peak 1.26 GiB; available_kv_cache_memory 53.29 GiB (the arithmetic of the log)."""
    assert vllm_available_kv_gib(79.22, 0.90, 14.96, 1.26, 1.79) == pytest.approx(53.29, abs=0.01)
    assert visible_memory_gib(CATALOG.gpus["h100-sxm"]) == pytest.approx(79.22)


def test_the_estimators_components_reproduce_a_v1_start_up():
    """vLLM 0.11.2 (V1) serving meta-llama/Meta-Llama-3-8B-Instruct alone on an H200 at the defaults, max_model_len 1024
    (github.com/faradawn/bench3, logs/vllm_server.log): 'Model loading took 14.9596 GiB memory', 'Available KV cache
    memory: 105.97 GiB', 'GPU KV cache size: 868,080 tokens'. The estimator: 0.9 x the memory CUDA reports, less its
    weights, the sampler's dummy run over 1,024 sequences of a 128,256-token vocabulary (the fitted FP32 copies) and
    the fitted non-torch memory."""
    model, gpu = CATALOG.model("meta-llama/Meta-Llama-3-8B-Instruct"), CATALOG.gpus["h200"]
    terms = vllm_profile_terms(CATALOG)
    assert set(terms) == {"non_torch_gib", "sampler_copies"}  # fitted in data/efficiency.csv
    kv = kv_capacity(model, CATALOG.quants["bf16"], gpu, CATALOG.engines["vllm"], 1, 1024, **terms)
    assert kv.basis["weights_gib"] == pytest.approx(14.96, rel=0.01)
    assert kv.kv_cache_gib_per_gpu == pytest.approx(105.97, rel=0.01)
    assert kv.tokens == pytest.approx(868_080, rel=0.01)
    # 32 layers x 8 KV heads x 128 x 2 (K and V) x 2 bytes = 128 KiB a token; whole blocks of 16 tokens
    assert kv.tokens == vllm_tokens(kv.kv_cache_gib_per_gpu * GIB, 131072) and kv.tokens % 16 == 0


def test_tokens_from_the_available_memory_of_a_tensor_parallel_start_up():
    """vllm issue #21348: Qwen3-235B-A22B-FP8 on 4 H100s (TP 4) logged 'Available KV cache memory: 8.11 GiB' and
    'GPU KV cache size: 178,880 tokens'. 94 layers x 1 KV head per GPU (4 over TP 4) x 128 x 2 x 2 bytes = 48,128 bytes
    a token a GPU: 8.11 GiB holds 180,928 tokens, 1.1% more than logged (the log rounds the GiB)."""
    per_token = kv_bytes_per_token_per_gpu(CATALOG.model("Qwen/Qwen3-235B-A22B"), 4, True, "fp16", 8)
    assert per_token == 94 * 1 * 128 * 2 * 2
    assert vllm_tokens(8.11 * GIB, per_token) == pytest.approx(178_880, rel=0.02)


def test_maximum_concurrency_is_tokens_over_the_request_for_full_attention():
    """vllm PR #17122, Llama-3.1-8B-Instruct on an L40S: 'GPU KV cache size: 158,656 tokens', 'Maximum concurrency
    for 32,768 tokens per request: 4.84x' = 158,656 / 32,768."""
    kv = kv_capacity(CATALOG.model("meta-llama/Llama-3.1-8B-Instruct"), CATALOG.quants["bf16"], CATALOG.gpus["l40s"],
                     CATALOG.engines["vllm"], 1, 32768)
    assert kv.max_concurrency == pytest.approx(kv.tokens / 32768, rel=0.01)
    assert 158_656 / 32_768 == pytest.approx(4.84, abs=0.005)


def test_sliding_window_layers_count_whole_in_tokens_but_not_in_concurrency():
    """gpt-oss (18 full-attention and 18 sliding-window layers of 128 tokens): vLLM's token count treats every layer
    as holding every token, so a 131,072-token request needs about half the blocks that count implies."""
    kv = kv_capacity(CATALOG.model("openai/gpt-oss-120b"), CATALOG.quants["mxfp4"], CATALOG.gpus["h200"], CATALOG.engines["vllm"], 1, 131072)
    budget = 8192
    assert kv.max_concurrency == pytest.approx(kv.tokens / 131072 * 36 / (18 + 18 * (127 + budget) / 131072), rel=0.01)


def test_llama_cpp_holds_exactly_its_context_per_slot():
    kv = kv_capacity(CATALOG.model("meta-llama/Llama-3.1-8B-Instruct"), CATALOG.quants["q4_k_m"], CATALOG.gpus["rtx-4090"],
                     CATALOG.engines["llama.cpp"], 1, 8192, slots=4)
    assert (kv.tokens, kv.max_concurrency) == (32768, 4.0)
    assert kv.kv_cache_gib_per_gpu == pytest.approx(32768 * 131072 / GIB)


def test_sglang_pool_is_the_static_fraction_less_the_weights():
    model, gpu = CATALOG.model("meta-llama/Llama-3.1-8B-Instruct"), CATALOG.gpus["h100-sxm"]
    kv = kv_capacity(model, CATALOG.quants["bf16"], gpu, CATALOG.engines["sglang"], 1, 4096, memory_fraction=0.88)
    assert kv.kv_cache_gib_per_gpu == pytest.approx(0.88 * visible_memory_gib(gpu) - kv.basis["weights_gib"])
    assert kv.tokens == int(kv.kv_cache_gib_per_gpu * GIB // 131072)
