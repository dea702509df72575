"""One replica of the plan's top pick as the engines need it (`Layout`, `layout`), with the tables and
helpers every deployment file shares: images, ports, GGUF names, where the weights are served from."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from planner.catalog.checkpoints import GGUF_ENGINES, SIXTEEN_BIT, default_checkpoints
from planner.catalog.engine_support import hardware_class_of, image, k8s_gpu_resource
from planner.catalog.loading import Catalog, load_catalog
from planner.catalog.reasoning import chat_template_kwargs
from planner.catalog.repo_id import REPO_ID_RULE, is_repo_id
from planner.errors import LookupFailed, PlannerError
from planner.plan.model import Plan

GPUS_PER_NODE = 8  # the recommender plans one node as at most 8 GPUs (planner.plan.grid)

PORTS = {"vllm": 8000, "sglang": 30000, "tgi": 80, "tensorrt-llm": 8000, "llama.cpp": 8080, "ollama": 11434}
HEALTH_PATHS = {"vllm": "/health", "sglang": "/health", "tgi": "/health", "tensorrt-llm": "/health",
                "llama.cpp": "/health", "ollama": "/api/version"}

# llama-quantize / convert_hf_to_gguf type names for the catalogue's GGUF-capable quants.
GGUF_TYPES = {"bf16": "BF16", "fp16": "F16", "q8_0": "Q8_0", "q6_k": "Q6_K", "q5_k_m": "Q5_K_M", "q5_0": "Q5_0",
              "q4_k_m": "Q4_K_M", "iq4_xs": "IQ4_XS", "q4_0": "Q4_0", "q3_k_m": "Q3_K_M", "q2_k": "Q2_K", "mxfp4": "MXFP4"}
# GGUF repositories published by ggml-org for models only distributed in MXFP4 (llama.cpp discussion 15396).
GGUF_REPOS = {"openai/gpt-oss-20b": "ggml-org/gpt-oss-20b-GGUF", "openai/gpt-oss-120b": "ggml-org/gpt-oss-120b-GGUF"}
# Ollama library tags default to Q4_K_M weights, except gpt-oss which ships MXFP4.
OLLAMA_DEFAULT_QUANT = "q4_k_m"
# Formats a GPU engine quantizes on load from the 16-bit checkpoint; the rest need a pre-quantized one.
QUANTIZE_ON_LOAD = {
    "vllm": {"fp8": "fp8"},  # bitsandbytes: gone from vLLM 0.33 (data/engine_support.csv)
    "sglang": {"fp8": "fp8"},
    "tgi": {"fp8": "fp8", "bnb-nf4": "bitsandbytes-nf4"},
    "tensorrt-llm": {},
}
PRE_QUANTIZED_SUFFIX = {"awq-int4": "AWQ-INT4", "gptq-int4": "GPTQ-INT4", "int8": "W8A8-INT8", "fp8": "FP8"}
# Marlin kernels need compute capability 8.0+ (Ampere); these catalogue GPUs are older.
PRE_AMPERE = {"v100-32gb", "t4"}


class DeploymentError(PlannerError):
    """The plan has nothing to deploy, or its layout cannot be expressed for its engine."""


@dataclass(frozen=True)
class Layout:
    """One replica of the plan's top pick, as the engines need it."""

    model: str
    model_name: str
    quant: str
    quant_format: str
    engine: str
    gpu: str
    gpu_name: str
    vendor: str  # nvidia, amd, intel, apple or cpu
    gpus: int  # per replica
    replicas: int
    nodes: int
    gpus_per_node: int
    tensor_parallel: int
    pipeline_parallel: int
    context_tokens: int  # per sequence
    sequences: int  # in flight per replica
    input_tokens: int
    output_tokens: int
    kv_cache_dtype: str  # fp16, fp8 or q8_0
    gpu_layers: int
    layers: int
    cpu_offload_gib: float
    gpu_memory_utilization: float
    weights_gib: float
    ollama_tag: str | None
    name: str  # DNS-1123 label for Kubernetes and compose
    # From the data (planner.catalog.checkpoints, planner.catalog.engine_support); defaults keep hand-made layouts valid
    checkpoint_repo: str | None = None  # the published repo the weights come from (None: the user quantizes)
    checkpoint_file: str | None = None  # a GGUF file (or its first shard) in that repo
    hardware_class: str | None = None  # the support matrix's class (None: from `vendor`): nvidia, amd, intel, gaudi, apple, cpu, jetson
    image: str | None = None  # the container image that serves (None: the data's image for the engine and class)
    image_note: str | None = None  # why there is no container, or what the image needs
    max_request_tokens: int | None = None  # the longest request the service accepts (input + output)
    # The planned reasoning mode's chat-template switch (planner.catalog.reasoning), made the server's default so
    # requests get the mode the plan counted (a hybrid thinks by default: thousands of hidden tokens a request)
    chat_template_kwargs: dict | None = None
    reasoning_mode: str | None = None

    @property
    def hw_class(self) -> str:
        return self.hardware_class or (self.vendor if self.vendor in {"nvidia", "amd", "intel", "apple", "cpu"} else "cpu")

    @property
    def request_limit(self) -> int:
        """The per-request maximum the engine is started with: the longest request, never below the planned context."""
        return max(self.context_tokens, self.max_request_tokens or 0)

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def port(self) -> int:
        return PORTS[self.engine]

    @property
    def is_gguf(self) -> bool:
        return self.quant_format == "gguf" or (self.engine in {"llama.cpp", "ollama"})


def layout(plan: Plan, catalog: Catalog | None = None) -> Layout:
    """The replica layout of the plan's top pick, with catalogue details the engines need."""
    top = plan.recommendation
    if top is None:
        raise DeploymentError("The plan has no self-hosted configuration to deploy.")
    catalog = catalog or load_catalog()
    layers, tag, vendor, quant_format, mem_util = top.memory.gpu_layers, None, "nvidia", "", 0.9
    try:
        spec = catalog.model(top.model)
        layers = spec.layers
        tag = next((a for a in spec.aliases if ":" in a), None)
    except LookupFailed:
        pass
    try:
        vendor = _vendor_class(catalog.gpu(top.gpu))
    except LookupFailed:
        pass
    try:
        quant_format = catalog.quant(top.quant).format
    except LookupFailed:
        quant_format = "gguf" if top.quant in GGUF_TYPES and top.quant not in {"bf16", "fp16", "mxfp4"} else top.quant
    try:
        mem_util = catalog.engine(top.engine).default_gpu_memory_utilization or 0.9
    except LookupFailed:
        pass
    if not is_repo_id(top.model):  # a hand-edited plan file: the id goes into scripts and manifests
        raise DeploymentError(f"The plan's model id {top.model[:80]!r} is not {REPO_ID_RULE}; no files were written.")
    gpus = top.gpus
    nodes = max(1, math.ceil(gpus / GPUS_PER_NODE))
    per_node = math.ceil(gpus / nodes)
    layer_split = top.engine in {"llama.cpp", "ollama"} or top.memory.split == "layer-split"
    if layer_split:
        tp, pp = 1, gpus
    elif nodes > 1 and top.engine in {"vllm", "tensorrt-llm"}:
        tp, pp = per_node, nodes  # TP inside a node, PP across nodes (vLLM parallelism guide)
    else:
        tp, pp = gpus, 1
    c = plan.constraints
    context = top.memory.kv_tokens_per_sequence or int(c.get("context_tokens") or c.get("input_tokens", 1000) + c.get("output_tokens", 300))
    return Layout(
        model=top.model, model_name=top.model_name, quant=top.quant, quant_format=quant_format, engine=top.engine,
        gpu=top.gpu, gpu_name=top.gpu_name, vendor=vendor, gpus=gpus, replicas=top.replicas, nodes=nodes,
        gpus_per_node=per_node, tensor_parallel=tp, pipeline_parallel=pp, context_tokens=int(context),
        sequences=max(1, int(top.memory.sequences)), input_tokens=int(c.get("input_tokens", 1000)),
        output_tokens=int(c.get("output_tokens", 300)), kv_cache_dtype=top.memory.kv_cache_dtype,
        gpu_layers=top.memory.gpu_layers, layers=layers, cpu_offload_gib=top.memory.cpu_offload_gib,
        gpu_memory_utilization=float(mem_util), weights_gib=top.memory.weights_gib, ollama_tag=tag,
        name=_dns_name(top.model),
        **_from_data(top, quant_format, catalog),
        max_request_tokens=_longest_request(c, layers_model_max(catalog, top.model)),
        reasoning_mode=top.reasoning.get("mode"), chat_template_kwargs=chat_template_kwargs(top.model, top.reasoning.get("mode")),
    )


def layers_model_max(catalog: Catalog, model_id: str) -> int | None:
    try:
        return catalog.model(model_id).max_context_tokens
    except LookupFailed:
        return None


def _longest_request(c: dict, model_max: int | None) -> int:
    """The longest request the plan's constraints ask the service to accept, within the model's own context."""
    from planner.plan.constraints import MAX_REQUEST_MULTIPLE  # the rule lives with the constraints

    longest = ((c.get("max_input_tokens") or MAX_REQUEST_MULTIPLE * int(c.get("input_tokens", 1000)))
               + (c.get("max_output_tokens") or MAX_REQUEST_MULTIPLE * int(c.get("output_tokens", 300))))
    longest = max(int(longest), int(c.get("context_tokens") or 0))
    return min(longest, model_max) if model_max else longest


def _from_data(top, quant_format: str, catalog: Catalog) -> dict:
    """The published checkpoint, the image and the Kubernetes resource for the pick, from the data files."""
    try:
        gpu = catalog.gpu(top.gpu)
        hw_class = hardware_class_of(gpu.kind, gpu.vendor)
    except LookupFailed:
        hw_class = "nvidia"
    gguf = top.engine in GGUF_ENGINES  # llama.cpp and Ollama load GGUF files, the GPU engines safetensors repos
    rows = [c for c in default_checkpoints().checkpoints_for(top.model) if bool(c.file) == gguf]
    found = [c for c in rows if c.format == top.quant]
    if not found and top.quant in SIXTEEN_BIT and not gguf:  # engines cast one 16-bit type to the other on load
        found = [c for c in rows if c.format in SIXTEEN_BIT]
    ckpt = found[0] if found else None
    img = image(top.engine, hw_class)
    return {"checkpoint_repo": ckpt.repo if ckpt else None, "checkpoint_file": ckpt.file if ckpt else None,
            "hardware_class": hw_class, "image": img.image if img.kind == "container" else None,
            "image_note": img.reason or img.notes}


def template_kwargs_json(lay: Layout) -> str:
    """The planned mode's chat-template arguments as the engines' flags take them (compact JSON)."""
    return json.dumps(lay.chat_template_kwargs, separators=(",", ":"))


def served_path(lay: Layout) -> str:
    """What the engine loads: the published checkpoint's repo id, a local GGUF file, the model's own repo (a
    16-bit release, or a format the engine makes on load), or a checkpoint the user quantized themselves."""
    if lay.quant_format == "gguf":
        return gguf_path(lay)
    if lay.checkpoint_repo:  # a published checkpoint in the planned format: served as published, never re-quantized
        return lay.checkpoint_repo
    if quantized_on_load(lay) or lay.quant in {"bf16", "fp16", "mxfp4"}:
        return lay.model
    if lay.quant in PRE_QUANTIZED_SUFFIX:
        return f"/models/{short_name(lay.model)}-{PRE_QUANTIZED_SUFFIX[lay.quant]}"
    return lay.model


def quantized_on_load(lay: Layout) -> bool:
    """The engine makes the format from the 16-bit release as it loads (no published checkpoint of it)."""
    return lay.quant in QUANTIZE_ON_LOAD.get(lay.engine, {}) and not lay.checkpoint_repo


def needs_prequantized(lay: Layout) -> bool:
    """A format nobody published: the user quantizes the checkpoint and mounts it at served_path."""
    return lay.quant_format != "gguf" and served_path(lay).startswith("/models/")


def gguf_path(lay: Layout) -> str:
    return f"/models/{gguf_file(lay)}"


def gguf_file(lay: Layout) -> str:
    if lay.checkpoint_file and re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?\.gguf", lay.checkpoint_file) and ".." not in lay.checkpoint_file:
        return lay.checkpoint_file  # the published file's path in its repo (the first shard of a split one)
    return f"{short_name(lay.model)}-{GGUF_TYPES.get(lay.quant, lay.quant.upper())}.gguf"


def hf_cache_dir(lay: Layout) -> str:
    return "/data" if lay.engine == "tgi" else "/root/.cache/huggingface"  # TGI's image caches under /data


def engine_image(lay: Layout) -> str:
    """The image that serves this engine on this hardware class (data/engine_images.csv); a layout made by hand
    without one takes the engine's CUDA image."""
    if lay.image:
        return lay.image
    found = image(lay.engine, lay.hw_class)
    if found.kind != "container" or not found.image:
        raise DeploymentError(f"{lay.engine} on {lay.hw_class}: no container image ({found.reason or found.kind}).")
    return found.image


def has_container(lay: Layout) -> bool:
    return bool(lay.image) or image(lay.engine, lay.hw_class).kind == "container"


def gpu_resources(lay: Layout, gpus: int) -> dict:
    resource = k8s_gpu_resource(lay.hw_class)
    if resource is None:
        return {"requests": {"cpu": "8", "memory": f"{math.ceil(lay.weights_gib * 1.2) + 8}Gi"}}
    return {"limits": {resource: gpus}}


def describe(lay: Layout) -> str:
    return (f"{lay.model} · {lay.quant} · {lay.engine} · {lay.gpus}× {lay.gpu_name} · {lay.replicas} replica(s) · "
            f"context {lay.context_tokens}, requests up to {lay.request_limit}")


def _vendor_class(gpu) -> str:
    if gpu.kind in {"apple", "cpu"}:
        return gpu.kind
    vendor = gpu.vendor.lower()
    return "amd" if vendor.startswith("amd") else ("intel" if vendor.startswith("intel") else "nvidia")


def short_name(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id.split("/")[-1]) or "model"


def _dns_name(model_id: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", model_id.split("/")[-1].lower()).strip("-")
    return (name[:50].rstrip("-") or "model")
