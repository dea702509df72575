"""The engine settings a benchmark row ran with, where they differ from the engine's defaults.

`data/benchmarks.csv` keeps them in one column, `key=value;key=value`, with the engines' own argument
names (vLLM's --gpu-memory-utilization is `gpu_memory_utilization`). The estimator reads the ones that
change what it predicts: the memory share and the sequence and token limits (KV capacity, the running
batch, the chunked-prefill budget). The rest (versions, prefix caching) are kept for the reader.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import PlannerError


class EngineArgs(BaseModel):
    """Settings of one measured run; None where the run kept the engine's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)  # vLLM
    mem_fraction_static: float | None = Field(default=None, gt=0, le=1)  # SGLang
    free_gpu_memory_fraction: float | None = Field(default=None, gt=0, le=1)  # TensorRT-LLM
    max_model_len: int | None = Field(default=None, gt=0)
    max_num_seqs: int | None = Field(default=None, gt=0)  # SGLang: max_running_requests
    max_num_batched_tokens: int | None = Field(default=None, gt=0)  # SGLang: chunked_prefill_size
    enable_chunked_prefill: bool | None = None
    enable_prefix_caching: bool | None = None
    enforce_eager: bool | None = None
    async_scheduling: bool | None = None
    num_scheduler_steps: int | None = Field(default=None, gt=0)  # vLLM V0 multi-step scheduling
    enable_torch_compile: bool | None = None  # SGLang
    disable_radix_cache: bool | None = None  # SGLang: no prefix cache
    enable_dp_attention: bool | None = None  # SGLang (the row's `parallel` column says it too)
    pipeline_parallel_size: int | None = Field(default=None, gt=0)
    nnodes: int | None = Field(default=None, gt=0)
    enable_expert_parallel: bool | None = None
    enable_lora: bool | None = None  # LoRA buffers take memory from the KV cache
    kv_cache_free_gpu_mem_fraction: float | None = Field(default=None, gt=0, le=1)  # TensorRT-LLM (trtllm-serve)
    disable_cuda_graph: bool | None = None  # SGLang's --enforce-eager
    kv_cache_dtype: str | None = None  # also the row's own column
    max_input_length: int | None = Field(default=None, gt=0)  # Text Generation Inference
    max_total_tokens: int | None = Field(default=None, gt=0)  # Text Generation Inference
    max_batch_prefill_tokens: int | None = Field(default=None, gt=0)  # Text Generation Inference
    quantization: str | None = None  # the engine's --quantization where it was passed
    vllm_use_v1: bool | None = None  # the VLLM_USE_V1 environment variable (V0 or V1 engine)
    block_size: int | None = Field(default=None, gt=0)
    # False: timed in-process, with no API server in front (TensorRT-LLM's gptSessionBenchmark): no tokenising,
    # HTTP or scheduler round trip per request (planner.estimate.speed.request_overhead_s does not apply).
    server: bool | None = None
    tp: int | None = Field(default=None, gt=0)
    vllm_version: str | None = None
    sglang_version: str | None = None
    trtllm_version: str | None = None
    tgi_version: str | None = None

    @property
    def memory_fraction(self) -> float | None:
        """The share of GPU memory the engine may use, whichever engine's name it has."""
        return (self.gpu_memory_utilization or self.mem_fraction_static or self.free_gpu_memory_fraction
                or self.kv_cache_free_gpu_mem_fraction)


_ALIASES = {"max_running_requests": "max_num_seqs", "chunked_prefill_size": "max_num_batched_tokens",
            "tensor_parallel_size": "tp", "version": "vllm_version", "tensorrt_llm_version": "trtllm_version"}


def parse_engine_args(text: str | None) -> EngineArgs:
    """`key=value;key=value` -> EngineArgs; an unknown key or a bad value raises PlannerError naming it."""
    if not text:
        return EngineArgs()
    values: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = _ALIASES.get(key.strip().lower(), key.strip().lower())
        if not sep or not key:
            raise PlannerError(f"engine_args: {part.strip()[:40]!r} is not key=value")
        values[key] = value.strip()
    try:
        return EngineArgs.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "engine_args"
        raise PlannerError(f"engine_args: {field}: {first['msg']} (allowed keys: {', '.join(EngineArgs.model_fields)})") from None
