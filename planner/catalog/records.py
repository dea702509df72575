"""One validated record per row of each data file in `data/`.

Every record carries `source` (a URL or document) and `as_of` (the date the figure was read or
published). Records are frozen and forbid unknown fields, so a renamed CSV column fails loudly.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from planner.catalog.repo_id import REPO_ID_RULE, is_repo_id

from planner.catalog.engine_args import EngineArgs, parse_engine_args
from planner.catalog.plausible import architecture_fault
from planner.errors import PlannerError


def _split_list(value: object) -> object:
    """CSV cells hold lists as `a;b;c`; an empty cell is an empty list."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(";") if part.strip())
    return value


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _parse_bool(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "1", "y"}:
            return True
        if lowered in {"false", "no", "0", "n", ""}:
            return False
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

StrList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]
Flag = Annotated[bool, BeforeValidator(_parse_bool)]
OptFloat = Annotated[float | None, BeforeValidator(_blank_to_none)]
OptInt = Annotated[int | None, BeforeValidator(_blank_to_none)]
OptStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class Record(BaseModel):
    """Base of every data row: frozen, strict about columns, always sourced and dated."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    source: Annotated[str, Field(min_length=4)]
    as_of: dt.date
    notes: OptStr = None


ARCHITECTURE_FIELDS = ("layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "intermediate_size", "vocab_size",
                       "experts_total", "experts_active", "sliding_window_tokens", "sliding_window_layers", "kv_lora_rank",
                       "qk_rope_head_dim", "linear_attention_layers", "linear_state_elements", "cache_free_layers")


class ModelSpec(Record):
    """An open-weights model; architecture numbers from its Hugging Face config.json."""

    id: str
    name: str
    family: str
    aliases: StrList = ()
    params_total_b: Positive
    params_active_b: Positive
    layers: PositiveInt
    hidden_size: PositiveInt
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    intermediate_size: OptInt = None
    vocab_size: PositiveInt
    experts_total: OptInt = None
    experts_active: OptInt = None
    sliding_window_tokens: OptInt = None
    sliding_window_layers: OptInt = None
    kv_lora_rank: OptInt = None
    qk_rope_head_dim: OptInt = None
    # Hybrid models: layers whose token mixer keeps a fixed-size recurrent state per sequence instead of a
    # KV cache (Gated DeltaNet in Qwen3-Next, lightning attention in MiniMax-M1, Mamba-2 in Granite 4 and
    # Nemotron-H, KDA in Kimi Linear), that state's elements per layer and sequence, and layers that keep
    # no cache of their own (Nemotron-H's MLP-only blocks, Gemma 3n's KV-sharing layers).
    linear_attention_layers: OptInt = None
    linear_state_elements: OptInt = None
    cache_free_layers: OptInt = None
    max_context_tokens: PositiveInt
    license: str
    commercial_use: Literal["yes", "restricted", "no"]
    license_notes: OptStr = None
    strengths: StrList = ()
    capability_score: OptFloat = None
    capability_benchmark: OptStr = None
    capability_source: OptStr = None
    release_date: OptStr = None
    hf_architecture: OptStr = Field(default=None, validation_alias=AliasChoices("architecture", "hf_architecture"))  # config.json architectures[0]: the key into data/engine_support.csv

    @field_validator("id")
    @classmethod
    def _repo_id(cls, value: str) -> str:
        if not is_repo_id(value):
            raise ValueError(f"must be {REPO_ID_RULE}")
        return value

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must be plain text on one line (no control characters)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.params_active_b > self.params_total_b * 1.0001:
            raise ValueError("params_active_b exceeds params_total_b")
        if self.kv_heads > self.attention_heads:
            raise ValueError("kv_heads exceeds attention_heads")
        if (self.experts_total is None) != (self.experts_active is None):
            raise ValueError("experts_total and experts_active must both be set or both blank")
        if self.sliding_window_layers is not None and self.sliding_window_layers > self.layers:
            raise ValueError("sliding_window_layers exceeds layers")
        if (self.linear_attention_layers is None) != (self.linear_state_elements is None):
            raise ValueError("linear_attention_layers and linear_state_elements must both be set or both blank")
        if (self.sliding_window_layers or 0) + (self.linear_attention_layers or 0) + (self.cache_free_layers or 0) > self.layers:
            raise ValueError("sliding-window, linear-attention and cache-free layers together exceed layers")
        if self.capability_score is not None and not self.capability_source:
            raise ValueError("capability_score needs capability_source")
        return self

    @model_validator(mode="after")
    def _plausible(self) -> ModelSpec:
        """Bounds on every architecture field (planner.catalog.plausible): 0 heads or 1e12 layers are refused."""
        if fault := architecture_fault(lambda field: getattr(self, field)):
            raise ValueError(fault)
        return self

    @property
    def is_moe(self) -> bool:
        return bool(self.experts_total and self.experts_total > 1)

    @property
    def uses_latent_attention(self) -> bool:
        return self.kv_lora_rank is not None

    def architecture(self) -> tuple:
        """Every field an estimate reads of the model's layers (ARCHITECTURE_FIELDS), in order: two models
        with equal architecture and size are estimated alike."""
        return tuple(getattr(self, f) for f in ARCHITECTURE_FIELDS)

    @property
    def is_hybrid(self) -> bool:
        """Some layers keep a fixed-size state (linear attention or a state-space mixer), not a KV cache."""
        return bool(self.linear_attention_layers)


class Gpu(Record):
    """An accelerator (or a CPU-only server, or an Apple SoC with unified memory)."""

    id: str
    name: str
    vendor: str
    kind: Literal["consumer", "workstation", "datacenter", "edge", "apple", "cpu"]  # edge: embedded modules (Jetson)
    memory_gib: Positive
    memory_bandwidth_gb_s: Positive
    fp16_tflops_dense: OptFloat = None
    fp8_tflops_dense: OptFloat = None
    int8_tops_dense: OptFloat = None
    power_w: OptFloat = None
    interconnect: OptStr = None
    interconnect_gb_s: OptFloat = None
    unified_memory: Flag = False
    compute_capability: OptFloat = None  # NVIDIA's CUDA compute capability (8.0 Ampere A100 ... 9.0 Hopper, 12.0 RTX 50)
    compute_capability_source: OptStr = None
    # Dense matrix-multiply rates measured on the device (TFLOP/s), where a published benchmark has them:
    # what the tensor cores sustain, against the datasheet peaks above (planner.catalog.loading.sustained_share).
    fp16_tflops_sustained: OptFloat = None
    fp8_tflops_sustained: OptFloat = None
    sustained_source: OptStr = None
    memory_bandwidth_sustained_gb_s: OptFloat = None  # a stream benchmark's triad on the device
    bandwidth_source: OptStr = None
    # GPUs in one NVLink (scale-up) domain: 72 in a GB200/GB300 NVL72 rack; blank means a node of 8.
    nvlink_domain_gpus: OptInt = None
    # Links between GPUs (planner.estimate.interconnect): inside a node ("nvlink4", "pcie4", "xgmi", ...; blank: a
    # single device) at this many GB/s each way per GPU, and between nodes (a NIC per GPU), with their source.
    scale_up_link: OptStr = None
    scale_up_bandwidth_gb_s: OptFloat = None
    scale_out_fabric: OptStr = None
    scale_out_bandwidth_gb_s: OptFloat = None
    interconnect_source: OptStr = None

    @property
    def scale_up_gpus(self) -> int:
        """How many of these GPUs tensor (and expert) parallelism may span before it leaves NVLink."""
        return self.nvlink_domain_gpus or 8

    @functools.cached_property
    def family(self) -> str:
        """Hardware family used to pick an efficiency factor."""
        if self.kind in {"apple", "cpu"}:
            return self.kind
        if self.vendor.lower().startswith("amd"):
            return "amd"
        return "nvidia-datacenter" if self.kind == "datacenter" else "nvidia-desktop"


class GpuPrice(Record):
    """One price for one device: rent per GPU-hour, or an indicative purchase price."""

    gpu: str
    price_kind: Literal["rent_per_gpu_hour", "purchase"]
    usd: Positive
    provider: str
    # The top of the range when the source gives one (an index or a market survey, not one provider's offer): `usd` is
    # then the range's low end, and a plan states what it costs at the top.
    usd_high: Annotated[Positive | None, BeforeValidator(_blank_to_none)] = None


class Quant(Record):
    """A weight format with its effective bits per weight and measured quality cost."""

    id: str
    name: str
    format: str
    bits_per_weight: Positive
    bits_source: str
    weight_bytes_compute: OptFloat = None
    # A format that quantizes only the mixture-of-experts weights (MXFP4 in gpt-oss): bits_per_weight is the
    # experts', the other weights keep other_bits_per_weight (gguf_other_bits_per_weight in GGUF files).
    other_bits_per_weight: OptFloat = None
    gguf_other_bits_per_weight: OptFloat = None
    other_bits_source: OptStr = None
    compute_dtype: Literal["fp16", "bf16", "fp8", "int8", "fp4"]
    engines: StrList = ()
    quality_metric: OptStr = None
    quality_value: OptFloat = None
    quality_reference: OptFloat = None
    quality_model: OptStr = None
    quality_source: OptStr = None

    @property
    def bytes_per_weight(self) -> float:
        return self.bits_per_weight / 8


class Engine(Record):
    """An inference engine: what it runs, where, and how it spreads over GPUs."""

    id: str
    name: str
    quants: StrList = ()
    hardware: StrList = ()
    tensor_parallel: Flag
    pipeline_parallel: Flag
    multi_node: Flag
    cpu_offload: Flag
    continuous_batching: Flag
    openai_compatible_api: Flag
    overhead_gib: Annotated[float, Field(ge=0)]
    overhead_source: str
    default_gpu_memory_utilization: OptFloat = None
    kv_cache_dtypes: StrList = ()
    license: OptStr = None
    docs_url: OptStr = None


class ApiPrice(Record):
    """A paid API's price per million tokens, for a closed model or a hosted open one."""

    id: str
    provider: str
    model: str
    hf_model_id: OptStr = None
    open_weights: Flag
    usd_per_mtok_input: Annotated[float, Field(ge=0)]
    usd_per_mtok_output: Annotated[float, Field(ge=0)]
    context_tokens: OptInt = None
    capability_score: OptFloat = None
    capability_benchmark: OptStr = None
    capability_source: OptStr = None


class Benchmark(Record):
    """A published measurement the estimator is fitted to and checked against."""

    id: str
    engine: str
    model: str
    quant: str
    gpu: str
    gpus: PositiveInt = 1
    concurrency: OptInt = None
    input_tokens: OptInt = None
    output_tokens: OptInt = None
    kv_cache_dtype: Annotated[Literal["fp16", "fp8", "q8_0"] | None, BeforeValidator(_blank_to_none)] = None  # blank: the engine's default (fp16/bf16)
    # Request lengths: "fixed" (every request the same; blank means fixed) or "varied" (a dataset such
    # as ShareGPT: input/output_tokens are then per-request means); `requests` is how many the run sent.
    lengths: Annotated[Literal["fixed", "varied"] | None, BeforeValidator(_blank_to_none)] = None
    requests: OptInt = None
    # How the GPUs split the model: blank = tensor parallel (or one GPU); "dp-attention" = attention data
    # parallel across the GPUs (SGLang --enable-dp-attention), "expert-parallel" = experts spread over GPUs.
    parallel: Annotated[Literal["dp-attention", "expert-parallel"] | None, BeforeValidator(_blank_to_none)] = None
    # Open loop: requests/s arriving (Poisson, as vLLM's and SGLang's benchmark_serving send them); blank for a
    # closed loop at `concurrency`. "inf": every request sent at once (`requests` of them).
    request_rate: Annotated[Positive | None, BeforeValidator(_blank_to_none)] = None
    # Which statistic a latency row reports over the run's requests (blank: the mean).
    statistic: Annotated[Literal["mean", "median", "p90", "p99"] | None, BeforeValidator(_blank_to_none)] = None
    # Engine settings that differ from its defaults, `key=value;key=value` (planner.catalog.engine_args).
    engine_args: OptStr = None
    metric: Literal[
        "decode_tokens_per_s",
        "prefill_tokens_per_s",
        "throughput_tokens_per_s",  # aggregate output tokens/s, end to end (prefill time included)
        "decode_throughput_tokens_per_s",  # aggregate decode tokens/s with prefill time excluded
        "total_tokens_per_s",
        "ttft_s",
        "itl_s",  # inter-token latency (TPOT) of a serving run, seconds
        "kv_cache_tokens",  # the KV cache an engine logs at start-up, in tokens (input_tokens: its tokens per request)
        "weights_gib",
        "memory_gib",
    ]
    value: Positive

    @field_validator("engine_args")
    @classmethod
    def _engine_args_parse(cls, value: str | None) -> str | None:
        try:
            parse_engine_args(value)
        except PlannerError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def args(self) -> EngineArgs:
        """The run's engine settings (planner.catalog.engine_args)."""
        return parse_engine_args(self.engine_args)


class EfficiencyFactor(Record):
    """A fitted fraction of the physical roofline an engine reaches on a hardware family."""

    factor: Literal["decode_bandwidth", "decode_overhead_s", "prefill_compute", "batch_compute", "tensor_parallel",
                    "effective_tflops", "moe_kernels", "request_overhead_s", "vllm_non_torch_gib", "vllm_sampler_copies",
                    "pcie_allreduce_share", "host_allreduce_share"]
    engine: str  # an engine id, or "*" for any
    hardware_family: str  # a Gpu.family, or "*" for any
    # A fraction of the roofline (above 0, at most 1), except effective_tflops: the measured prefill
    # compute, in TFLOPS, of devices whose vendor publishes no peak figure (Apple, CPUs); and
    # decode_overhead_s: a fixed time per decode step (kernel launches, sampling), in seconds;
    # request_overhead_s: a serving engine's fixed time per request before its first token, in seconds;
    # vllm_non_torch_gib (GiB) and vllm_sampler_copies (FP32 logits copies): what vLLM's start-up profiling counts.
    value: Annotated[float, Field(ge=0)]
    n_rows: Annotated[int, Field(ge=0)]
    median_abs_error_pct: OptFloat = None

    @model_validator(mode="after")
    def _within_roofline(self) -> EfficiencyFactor:
        if self.factor not in {"effective_tflops", "decode_overhead_s", "request_overhead_s", "vllm_non_torch_gib", "vllm_sampler_copies"} and not 0 < self.value <= 1:
            raise ValueError("an efficiency must be above 0 and at most 1 (above 1 would exceed the physical roofline)")
        return self


class Assumption(Record):
    """A default the user can change (power price, PUE, ...), with where it comes from."""

    id: str
    value: float
    unit: str
    description: str


class AccuracyBand(Record):
    """How far estimates of one metric fall from measurements: quantiles of measured ÷ predicted."""

    metric: str
    method: str
    n_rows: Annotated[int, Field(ge=0)]
    ratio_p10: Positive
    ratio_p50: Positive
    ratio_p90: Positive
    median_abs_error_pct: float
    p90_abs_error_pct: float
