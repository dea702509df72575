"""Which metric each serving engine and GPU exporter publishes for each quantity the monitor reads.

One row per (source, quantity): the Prometheus name as it appears on the wire (counters with their
`_total`), its type, the labels the source attaches, the versions that publish it and where that was
read. A quantity with several rows for one source lists the current name first and the older name
after it (vLLM renamed two in its V1 engine); the monitor takes the first name a service exposes.
A quantity a source does not publish has no row, and the report says "not published by ...".

Units: histograms in seconds, KV cache usage as a 0–1 fraction (vLLM's `_perc` is a fraction despite
its name: "1 means 100 percent usage"), GPU utilisation in percent, GPU memory in MiB (DCGM) or
MB (AMD's exporter reports VRAM in MB).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Kind = Literal["histogram", "counter", "gauge"]

AS_OF = "2026-12-07"

VLLM_V1 = "https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/v1/metrics/loggers.py"
VLLM_DOCS = "https://docs.vllm.ai/en/stable/usage/metrics/"
SGLANG = "https://github.com/sgl-project/sglang/blob/93d04878cfb9b08645fae7b11bd340ee33b34acf/python/sglang/srt/metrics/collector.py"
TRTLLM = "https://github.com/NVIDIA/TensorRT-LLM/blob/050f80def8df236e326949c8bd9dee10fd896a83/tensorrt_llm/metrics/collector.py"
LLAMA_CPP = "https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md#get-metrics-prometheus-compatible-metrics-exporter"
DCGM = "https://github.com/NVIDIA/dcgm-exporter/blob/main/etc/default-counters.csv"
AMD = "https://github.com/ROCm/device-metrics-exporter/blob/main/docs/configuration/metricslist.md"
OLLAMA_NONE = "https://github.com/ollama/ollama/issues/3144"


class MetricName(NamedTuple):
    source: str  # an engine id of data/engines.csv, or a GPU exporter ("dcgm", "amd-smi")
    quantity: str
    name: str  # as exposed: counters end in _total, histograms are read through _bucket/_sum/_count
    kind: Kind
    labels: tuple[str, ...]
    versions: str
    source_url: str
    as_of: str = AS_OF


_VLLM_LABELS = ("model_name", "engine")  # V1 labels every series with the engine index (loggers.py, make_per_engine)
_SGLANG_LABELS = ("model_name",)  # plus tp_rank/dp_rank/... where those are set; the monitor sums over them
_TRTLLM_LABELS = ("model_name", "engine_type")
_DCGM_LABELS = ("gpu", "UUID", "device", "modelName", "Hostname")
_AMD_LABELS = ("gpu_id", "serial_number", "card_model", "hostname")

METRIC_NAMES: tuple[MetricName, ...] = (
    # vLLM (V1 engine; the default since 0.8, the only engine since 0.11)
    MetricName("vllm", "ttft_s", "vllm:time_to_first_token_seconds", "histogram", _VLLM_LABELS, "all", VLLM_V1),
    MetricName("vllm", "itl_s", "vllm:inter_token_latency_seconds", "histogram", _VLLM_LABELS, ">= 0.10.2", VLLM_V1),
    MetricName("vllm", "itl_s", "vllm:time_per_output_token_seconds", "histogram", _VLLM_LABELS,
               "<= 0.11 (deprecated in 0.11: 'Renamed as vllm:inter_token_latency_seconds'; hidden in 0.12, removed in 0.13)",
               VLLM_V1),
    MetricName("vllm", "e2e_s", "vllm:e2e_request_latency_seconds", "histogram", _VLLM_LABELS, "all", VLLM_V1),
    MetricName("vllm", "requests_finished", "vllm:request_success_total", "counter", (*_VLLM_LABELS, "finished_reason"),
               "all (finished_reason stop|length|abort)", VLLM_V1),
    MetricName("vllm", "prompt_tokens", "vllm:prompt_tokens_total", "counter", _VLLM_LABELS, "all", VLLM_V1),
    MetricName("vllm", "output_tokens", "vllm:generation_tokens_total", "counter", _VLLM_LABELS, "all", VLLM_V1),
    MetricName("vllm", "requests_running", "vllm:num_requests_running", "gauge", _VLLM_LABELS, "all", VLLM_V1),
    MetricName("vllm", "requests_waiting", "vllm:num_requests_waiting", "gauge", _VLLM_LABELS, "all", VLLM_V1),
    MetricName("vllm", "kv_cache_usage", "vllm:kv_cache_usage_perc", "gauge", _VLLM_LABELS, ">= 0.9.2", VLLM_V1),
    MetricName("vllm", "kv_cache_usage", "vllm:gpu_cache_usage_perc", "gauge", _VLLM_LABELS,
               "<= 0.11 (V0 name; deprecated in 0.9.2 'Renamed as vllm:kv_cache_usage_perc', removed in 0.12)", VLLM_V1),
    # SGLang
    MetricName("sglang", "ttft_s", "sglang:time_to_first_token_seconds", "histogram", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "itl_s", "sglang:inter_token_latency_seconds", "histogram", _SGLANG_LABELS,
               "current (older releases: sglang:time_per_output_token_seconds)", SGLANG),
    MetricName("sglang", "itl_s", "sglang:time_per_output_token_seconds", "histogram", _SGLANG_LABELS, "older releases", SGLANG),
    MetricName("sglang", "e2e_s", "sglang:e2e_request_latency_seconds", "histogram", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "requests_finished", "sglang:num_requests_total", "counter", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "prompt_tokens", "sglang:prompt_tokens_total", "counter", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "output_tokens", "sglang:generation_tokens_total", "counter", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "requests_running", "sglang:num_running_reqs", "gauge", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "requests_waiting", "sglang:num_queue_reqs", "gauge", _SGLANG_LABELS, "all", SGLANG),
    MetricName("sglang", "kv_cache_usage", "sglang:token_usage", "gauge", _SGLANG_LABELS, "all", SGLANG),
    # TensorRT-LLM's trtllm-serve: Prometheus text at /prometheus/metrics (its /metrics is JSON iteration stats)
    MetricName("tensorrt-llm", "ttft_s", "trtllm_time_to_first_token_seconds", "histogram", _TRTLLM_LABELS,
               ">= 1.1 (NVIDIA/TensorRT-LLM PR #5785)", TRTLLM),
    MetricName("tensorrt-llm", "itl_s", "trtllm_time_per_output_token_seconds", "histogram", _TRTLLM_LABELS, ">= 1.1", TRTLLM),
    MetricName("tensorrt-llm", "e2e_s", "trtllm_e2e_request_latency_seconds", "histogram", _TRTLLM_LABELS, ">= 1.1", TRTLLM),
    MetricName("tensorrt-llm", "requests_finished", "trtllm_request_success_total", "counter",
               (*_TRTLLM_LABELS, "finished_reason"), ">= 1.1", TRTLLM),
    MetricName("tensorrt-llm", "requests_failed", "trtllm_request_error_total", "counter", _TRTLLM_LABELS, "newer releases", TRTLLM),
    MetricName("tensorrt-llm", "prompt_tokens", "trtllm_prompt_tokens_total", "counter", _TRTLLM_LABELS, "newer releases", TRTLLM),
    MetricName("tensorrt-llm", "output_tokens", "trtllm_generation_tokens_total", "counter", _TRTLLM_LABELS, "newer releases", TRTLLM),
    MetricName("tensorrt-llm", "requests_running", "trtllm_num_requests_running", "gauge", _TRTLLM_LABELS, "newer releases", TRTLLM),
    MetricName("tensorrt-llm", "requests_waiting", "trtllm_num_requests_waiting", "gauge", _TRTLLM_LABELS, "newer releases", TRTLLM),
    MetricName("tensorrt-llm", "kv_cache_usage", "trtllm_kv_cache_utilization", "gauge", _TRTLLM_LABELS, ">= 1.1", TRTLLM),
    # llama.cpp's llama-server --metrics: no labels, no histograms (so no latency percentiles)
    MetricName("llama.cpp", "prompt_tokens", "llamacpp:prompt_tokens_total", "counter", (), "all", LLAMA_CPP),
    MetricName("llama.cpp", "output_tokens", "llamacpp:tokens_predicted_total", "counter", (), "all", LLAMA_CPP),
    MetricName("llama.cpp", "decode_seconds", "llamacpp:tokens_predicted_seconds_total", "counter", (), "all", LLAMA_CPP),
    MetricName("llama.cpp", "requests_running", "llamacpp:requests_processing", "gauge", (), "all", LLAMA_CPP),
    MetricName("llama.cpp", "requests_waiting", "llamacpp:requests_deferred", "gauge", (), "all", LLAMA_CPP),
    MetricName("llama.cpp", "kv_cache_usage", "llamacpp:kv_cache_usage_ratio", "gauge", (),
               "documented in the README; builds after the 2025 KV-cache refactor may omit it", LLAMA_CPP),
    # GPU exporters
    MetricName("dcgm", "gpu_utilization_percent", "DCGM_FI_DEV_GPU_UTIL", "gauge", _DCGM_LABELS, "all", DCGM),
    MetricName("dcgm", "gpu_memory_used_mib", "DCGM_FI_DEV_FB_USED", "gauge", _DCGM_LABELS, "all", DCGM),
    MetricName("dcgm", "gpu_memory_free_mib", "DCGM_FI_DEV_FB_FREE", "gauge", _DCGM_LABELS, "all", DCGM),
    MetricName("amd-smi", "gpu_utilization_percent", "gpu_gfx_activity", "gauge", _AMD_LABELS, "all", AMD),
    MetricName("amd-smi", "gpu_memory_used_mib", "gpu_used_vram", "gauge", _AMD_LABELS, "all (MB)", AMD),
    MetricName("amd-smi", "gpu_memory_total_mib", "gpu_total_vram", "gauge", _AMD_LABELS, "all (MB)", AMD),
)

ENGINES = ("vllm", "sglang", "tensorrt-llm", "llama.cpp")
GPU_EXPORTERS = ("dcgm", "amd-smi")

#: Engines in the catalogue that publish no Prometheus metrics, and why the monitor cannot read them.
NOT_PUBLISHED = {
    "ollama": f"Ollama publishes no Prometheus /metrics endpoint ({OLLAMA_NONE}, open; PRs #16998 and #18508 unmerged)",
    "tgi": "Text Generation Inference is not mapped here (its tgi_* metrics use other histogram semantics)",
}

#: The labels that carry a failed request in `requests_finished` (vLLM counts aborts as a finish reason).
FAILED_REASONS = {"vllm": ("abort",)}


def names_for(source: str, quantity: str) -> tuple[MetricName, ...]:
    """The rows for one source and quantity, current name first; () when the source does not publish it."""
    return tuple(row for row in METRIC_NAMES if row.source == source and row.quantity == quantity)


def detect_sources(names: set[str]) -> list[str]:
    """The engines and exporters whose metrics appear among `names` (series names of one or more scrapes)."""
    bases = {_base(n) for n in names}
    return [s for s in (*ENGINES, *GPU_EXPORTERS) if any(row.name in bases for row in METRIC_NAMES if row.source == s)]


def _base(series: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if series.endswith(suffix):
            return series[: -len(suffix)]
    return series
