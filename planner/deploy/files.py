"""Deployment files for a plan's top pick: launch commands, a compose file and Kubernetes manifests.

`deployment_files(plan)` returns {file name: text}; every file describes the same deployment (one
model, one quantization, one parallel layout, one context length), taken from
`plan.recommendation` and the memory estimate behind it. `deployment_zip` and `write_deploy_dir`
package the same dict. Only flags found in each engine's documentation are used; `VERIFIED_FLAGS`
lists them with the page they were checked against (November 2026), and the README repeats it.

Layout rules:
- One replica on at most 8 GPUs runs on one node: tensor parallel over its GPUs (vLLM, SGLang, TGI,
  TensorRT-LLM) or a layer split (llama.cpp, Ollama). Replicas are copies behind a Service.
- A replica needing more than 8 GPUs spans nodes: vLLM runs tensor parallel within a node and
  pipeline parallel across nodes on a Ray cluster, deployed as a LeaderWorkerSet exactly as in
  vLLM's LWS guide; SGLang uses its own multi-node flags in the same LeaderWorkerSet shape.
- GGUF formats are served from a local .gguf file (`prepare-gguf.sh` makes it from the Hugging Face
  checkpoint with llama.cpp's converter); pre-quantized GPU formats (AWQ, GPTQ, INT8, FP8 on
  TensorRT-LLM) need a checkpoint in that format, mounted at the path the commands name, and are
  served under the plan's model id; FP8 and bitsandbytes on vLLM/SGLang/TGI quantize on load.
"""

from __future__ import annotations

import io
import math
import re
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from planner.catalog.loading import Catalog, load_catalog
from planner.errors import LookupFailed, PlannerError
from planner.plan.model import Plan

GPUS_PER_NODE = 8  # the recommender plans one node as at most 8 GPUs (planner.plan.grid)

DOCS = {
    "vllm-args": "https://docs.vllm.ai/en/latest/configuration/engine_args.html",
    "vllm-parallel": "https://docs.vllm.ai/en/latest/serving/parallelism_scaling.html",
    "vllm-bnb": "https://docs.vllm.ai/en/latest/features/quantization/bnb.html",
    "vllm-lws": "https://docs.vllm.ai/en/latest/deployment/frameworks/lws.html",
    "lws-example": "https://github.com/kubernetes-sigs/lws/blob/main/docs/examples/vllm/GPU/lws.yaml",
    "llama-server": "https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md",
    "llama-docker": "https://github.com/ggml-org/llama.cpp/blob/master/docs/docker.md",
    "llama-quantize": "https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md",
    "gpt-oss-gguf": "https://github.com/ggml-org/llama.cpp/discussions/15396",
    "ollama-modelfile": "https://github.com/ollama/ollama/blob/main/docs/local/modelfile.mdx",
    "ollama-faq": "https://github.com/ollama/ollama/blob/main/docs/faq.mdx",
    "ollama-env": "https://github.com/ollama/ollama/blob/main/envconfig/config.go",
    "sglang": "https://docs.sglang.io/advanced_features/server_arguments.html",
    "tgi": "https://github.com/huggingface/text-generation-inference/blob/main/docs/source/reference/launcher.md",
    "trtllm": "https://github.com/NVIDIA/TensorRT-LLM/blob/main/tensorrt_llm/commands/serve.py",
    "compose-gpu": "https://docs.docker.com/compose/how-tos/gpu-support/",
    "k8s-gpu": "https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/",
}

# (engine, flag, where it was verified). Only these flags appear in the generated files.
VERIFIED_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("vllm", "vllm serve MODEL", DOCS["vllm-args"]),
    ("vllm", "--served-model-name", DOCS["vllm-args"]),
    ("vllm", "--host / --port", DOCS["vllm-args"]),
    ("vllm", "--tensor-parallel-size", DOCS["vllm-parallel"]),
    ("vllm", "--pipeline-parallel-size", DOCS["vllm-parallel"]),
    ("vllm", "--distributed-executor-backend ray", DOCS["vllm-parallel"]),
    ("vllm", "--max-model-len", DOCS["vllm-args"]),
    ("vllm", "--quantization {fp8,bitsandbytes,awq,awq_marlin,gptq,gptq_marlin}", DOCS["vllm-args"]),
    ("vllm", "--quantization bitsandbytes (in-flight 4-bit)", DOCS["vllm-bnb"]),
    ("vllm", "--kv-cache-dtype {auto,fp8}", DOCS["vllm-args"]),
    ("vllm", "--gpu-memory-utilization", DOCS["vllm-args"]),
    ("vllm", "--max-num-seqs", DOCS["vllm-args"]),
    ("vllm", "--cpu-offload-gb", DOCS["vllm-args"]),
    ("vllm", "--tokenizer (GGUF files)", DOCS["vllm-args"]),
    ("vllm", "multi-node-serving.sh leader --ray_cluster_size / worker --ray_address", DOCS["vllm-lws"]),
    ("llama.cpp", "-m / --model, -hf / --hf-repo", DOCS["llama-server"]),
    ("llama.cpp", "-ngl / --n-gpu-layers", DOCS["llama-server"]),
    ("llama.cpp", "-c / --ctx-size", DOCS["llama-server"]),
    ("llama.cpp", "-np / --parallel", DOCS["llama-server"]),
    ("llama.cpp", "-sm / --split-mode layer", DOCS["llama-server"]),
    ("llama.cpp", "-ctk / --cache-type-k, -ctv / --cache-type-v q8_0", DOCS["llama-server"]),
    ("llama.cpp", "-fa / --flash-attn on", DOCS["llama-server"]),
    ("llama.cpp", "--host / --port", DOCS["llama-server"]),
    ("llama.cpp", "-a / --alias", DOCS["llama-server"]),
    ("llama.cpp", "convert_hf_to_gguf.py --outtype --outfile; llama-quantize IN OUT TYPE", DOCS["llama-quantize"]),
    ("llama.cpp", "images server-cuda / server-rocm / server", DOCS["llama-docker"]),
    ("ollama", "Modelfile FROM <tag> or FROM /path/file.gguf; PARAMETER num_ctx", DOCS["ollama-modelfile"]),
    ("ollama", "ollama create NAME -f Modelfile", DOCS["ollama-modelfile"]),
    ("ollama", "OLLAMA_NUM_PARALLEL, OLLAMA_KV_CACHE_TYPE, OLLAMA_FLASH_ATTENTION, OLLAMA_SCHED_SPREAD, OLLAMA_HOST", DOCS["ollama-env"]),
    ("sglang", "python -m sglang.launch_server --model-path --tp --context-length", DOCS["sglang"]),
    ("sglang", "--mem-fraction-static, --max-running-requests, --served-model-name, --host, --port", DOCS["sglang"]),
    ("sglang", "--quantization fp8, --load-format bitsandbytes, --kv-cache-dtype fp8_e4m3", DOCS["sglang"]),
    ("sglang", "--nnodes --node-rank --dist-init-addr", DOCS["sglang"]),
    ("tgi", "--model-id --num-shard --max-input-tokens --max-total-tokens", DOCS["tgi"]),
    ("tgi", "--quantize {awq,gptq,bitsandbytes-nf4,fp8}, --kv-cache-dtype fp8_e4m3fn", DOCS["tgi"]),
    ("tgi", "--hostname --port", DOCS["tgi"]),
    ("tensorrt-llm", "trtllm-serve MODEL --backend pytorch --tp_size --pp_size", DOCS["trtllm"]),
    ("tensorrt-llm", "--max_seq_len --max_batch_size --kv_cache_free_gpu_memory_fraction --host --port", DOCS["trtllm"]),
    ("tensorrt-llm", "--extra_llm_api_options FILE (kv_cache_config.dtype)", DOCS["trtllm"]),
    ("compose", "deploy.resources.reservations.devices: driver, count, capabilities [gpu]", DOCS["compose-gpu"]),
    ("kubernetes", "resources.limits nvidia.com/gpu / amd.com/gpu", DOCS["k8s-gpu"]),
    ("kubernetes", "LeaderWorkerSet leaderworkerset.x-k8s.io/v1 (size, leaderTemplate, workerTemplate)", DOCS["lws-example"]),
)

# Images: the tags each project documents as current; pin a digest for production.
IMAGES = {
    ("vllm", "nvidia"): "vllm/vllm-openai:latest",
    ("vllm", "amd"): "rocm/vllm:latest",
    ("sglang", "nvidia"): "lmsysorg/sglang:latest",
    ("tgi", "nvidia"): "ghcr.io/huggingface/text-generation-inference:latest",
    ("tgi", "amd"): "ghcr.io/huggingface/text-generation-inference:latest-rocm",
    ("tensorrt-llm", "nvidia"): "nvcr.io/nvidia/tensorrt-llm/release:1.0.0",
    ("llama.cpp", "nvidia"): "ghcr.io/ggml-org/llama.cpp:server-cuda",
    ("llama.cpp", "amd"): "ghcr.io/ggml-org/llama.cpp:server-rocm",
    ("llama.cpp", "intel"): "ghcr.io/ggml-org/llama.cpp:server-intel",
    ("llama.cpp", "cpu"): "ghcr.io/ggml-org/llama.cpp:server",
    ("ollama", "nvidia"): "ollama/ollama:latest",
    ("ollama", "amd"): "ollama/ollama:rocm",
    ("ollama", "cpu"): "ollama/ollama:latest",
}

PORTS = {"vllm": 8000, "sglang": 30000, "tgi": 80, "tensorrt-llm": 8000, "llama.cpp": 8080, "ollama": 11434}
HEALTH_PATHS = {"vllm": "/health", "sglang": "/health", "tgi": "/health", "tensorrt-llm": "/health",
                "llama.cpp": "/health", "ollama": "/api/version"}
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "habana.ai/gaudi"}

# llama-quantize / convert_hf_to_gguf type names for the catalogue's GGUF-capable quants.
GGUF_TYPES = {"bf16": "BF16", "fp16": "F16", "q8_0": "Q8_0", "q6_k": "Q6_K", "q5_k_m": "Q5_K_M", "q5_0": "Q5_0",
              "q4_k_m": "Q4_K_M", "iq4_xs": "IQ4_XS", "q4_0": "Q4_0", "q3_k_m": "Q3_K_M", "q2_k": "Q2_K", "mxfp4": "MXFP4"}
# GGUF repositories published by ggml-org for models only distributed in MXFP4 (llama.cpp discussion 15396).
GGUF_REPOS = {"openai/gpt-oss-20b": "ggml-org/gpt-oss-20b-GGUF", "openai/gpt-oss-120b": "ggml-org/gpt-oss-120b-GGUF"}
# Ollama library tags default to Q4_K_M weights, except gpt-oss which ships MXFP4.
OLLAMA_DEFAULT_QUANT = "q4_k_m"
# Formats a GPU engine quantizes on load from the 16-bit checkpoint; the rest need a pre-quantized one.
QUANTIZE_ON_LOAD = {
    "vllm": {"fp8": "fp8", "bnb-nf4": "bitsandbytes"},
    "sglang": {"fp8": "fp8"},
    "tgi": {"fp8": "fp8", "bnb-nf4": "bitsandbytes-nf4"},
    "tensorrt-llm": {},
}
PRE_QUANTIZED_SUFFIX = {"awq-int4": "AWQ-INT4", "gptq-int4": "GPTQ-INT4", "int8": "W8A8-INT8", "fp8": "FP8"}
# Marlin kernels need compute capability 8.0+ (Ampere); these catalogue GPUs are older.
PRE_AMPERE = {"v100-32gb", "t4"}


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated blocks out in full: anchors and aliases confuse people reading manifests."""

    def ignore_aliases(self, data) -> bool:  # noqa: ARG002 - yaml's signature
        return True


def _yaml(doc) -> str:
    return yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, width=200, allow_unicode=True)


def _yaml_all(docs) -> str:
    return yaml.dump_all(docs, Dumper=_NoAliasDumper, sort_keys=False, width=200, allow_unicode=True)


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

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def port(self) -> int:
        return PORTS[self.engine]

    @property
    def is_gguf(self) -> bool:
        return self.quant_format == "gguf" or (self.engine in {"llama.cpp", "ollama"})


def deployment_files(plan: Plan, catalog: Catalog | None = None) -> dict[str, str]:
    """File name -> text of every deployment file for the plan's top pick (README.md always)."""
    if plan.recommendation is None:
        return {"README.md": _readme_without_pick(plan)}
    lay = layout(plan, catalog)
    files: dict[str, str] = {}
    if lay.engine in {"llama.cpp", "ollama"}:
        # Both serve the same GGUF file, so both are offered; the plan's engine is the compose/k8s one.
        if lay.model not in GGUF_REPOS or lay.quant != "mxfp4":
            files["prepare-gguf.sh"] = _prepare_gguf_script(lay)
        files["llama-server.sh"] = _script(lay, [("llama.cpp server", _llama_server_args(lay))])
        files["Modelfile"] = _modelfile(lay)
        files["ollama.sh"] = _ollama_script(lay)
    elif lay.engine == "vllm":
        files["vllm.sh"] = _vllm_script(lay)
    elif lay.engine == "sglang":
        files["sglang.sh"] = _sglang_script(lay)
    elif lay.engine == "tgi":
        files["tgi.sh"] = _script(lay, [("Text Generation Inference (docker)", _tgi_docker_args(lay))], _prequantized_note(lay))
    elif lay.engine == "tensorrt-llm":
        files["trtllm-serve.sh"] = _script(lay, [("TensorRT-LLM server", _trtllm_args(lay))], _prequantized_note(lay))
        if lay.kv_cache_dtype == "fp8":
            files["trtllm-extra.yaml"] = _trtllm_extra()
    else:
        raise DeploymentError(f"No deployment template for engine '{lay.engine}'.")
    files["docker-compose.yaml"] = _compose(lay)
    files["kubernetes.yaml"] = _kubernetes(lay)
    files["README.md"] = _readme(plan, lay, sorted(files))
    return files


def deployment_zip(plan: Plan, catalog: Catalog | None = None) -> bytes:
    """The deployment files as a zip archive (fixed timestamps, so equal plans give equal bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(deployment_files(plan, catalog).items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def write_deploy_dir(plan: Plan, directory: str | Path, catalog: Catalog | None = None) -> list[Path]:
    """Write the deployment files into `directory` (created if missing); returns the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(deployment_files(plan, catalog).items()):
        path = target / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


def launch_commands(plan: Plan, catalog: Catalog | None = None) -> list[tuple[str, str]]:
    """(title, shell command) pairs for the plan's top pick, for the report; empty without one."""
    if plan.recommendation is None:
        return []
    lay = layout(plan, catalog)
    if lay.engine in {"llama.cpp", "ollama"}:
        out = []
        if lay.model not in GGUF_REPOS or lay.quant != "mxfp4":
            out.append(("Make the GGUF file (prepare-gguf.sh)", f"bash prepare-gguf.sh  # writes {_gguf_path(lay)}"))
        out.append(("llama.cpp server", _join(_llama_server_args(lay))))
        out.append(("Ollama", f"ollama create {_ollama_name(lay)} -f Modelfile && ollama run {_ollama_name(lay)}"))
        return out
    if lay.engine == "vllm":
        if lay.multi_node:
            return [("vLLM leader node (Ray head)", _ray_leader_command(lay)),
                    ("vLLM worker nodes", _ray_worker_command("<LEADER_ADDRESS>"))]
        return [("vLLM", _join(_vllm_args(lay)))]
    if lay.engine == "sglang":
        if lay.multi_node:
            return [(f"SGLang node {rank}", _join(_sglang_args(lay, rank, "<LEADER_ADDRESS>:20000"))) for rank in range(lay.nodes)]
        return [("SGLang", _join(_sglang_args(lay)))]
    if lay.engine == "tgi":
        return [("Text Generation Inference", _join(_tgi_docker_args(lay)))]
    return [("TensorRT-LLM", _join(_trtllm_args(lay)))]


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
    )


# --- engine commands (argument lists; rendered with shlex.quote) -------------------------------


def _vllm_args(lay: Layout, program: tuple[str, ...] = ("vllm", "serve")) -> list[str]:
    args = [*program, _served_path(lay), "--served-model-name", lay.model, "--host", "0.0.0.0", "--port", str(lay.port),
            "--tensor-parallel-size", str(lay.tensor_parallel), "--pipeline-parallel-size", str(lay.pipeline_parallel),
            "--max-model-len", str(lay.context_tokens)]
    quant = _vllm_quantization(lay)
    if quant:
        args += ["--quantization", quant]
    if lay.quant_format == "gguf":
        args += ["--tokenizer", lay.model]
    args += ["--kv-cache-dtype", "fp8" if lay.kv_cache_dtype == "fp8" else "auto",
             "--gpu-memory-utilization", f"{lay.gpu_memory_utilization:g}", "--max-num-seqs", str(lay.sequences)]
    if lay.cpu_offload_gib > 0:
        args += ["--cpu-offload-gb", str(math.ceil(lay.cpu_offload_gib))]
    if lay.multi_node:
        args += ["--distributed-executor-backend", "ray"]
    return args


def _vllm_quantization(lay: Layout) -> str | None:
    """vLLM's --quantization value: in-flight methods, or the kernel for a pre-quantized checkpoint.

    Naming plain `awq`/`gptq` forces the slower non-Marlin kernels, so Marlin variants are named
    where the GPU supports them (vLLM logs this advice when `awq` is forced).
    """
    on_load = QUANTIZE_ON_LOAD["vllm"].get(lay.quant)
    if on_load:
        return on_load
    marlin = lay.vendor == "nvidia" and lay.gpu not in PRE_AMPERE
    if lay.quant == "awq-int4":
        return "awq_marlin" if marlin else "awq"
    if lay.quant == "gptq-int4":
        return "gptq_marlin" if marlin else "gptq"
    return None  # 16-bit, INT8 (compressed-tensors) and MXFP4 are read from the checkpoint's config


def _served_path(lay: Layout) -> str:
    """What the engine loads: the Hugging Face id, a local GGUF file, or a pre-quantized checkpoint."""
    if lay.quant_format == "gguf":
        return _gguf_path(lay)
    if lay.quant in QUANTIZE_ON_LOAD.get(lay.engine, {}) or lay.quant in {"bf16", "fp16", "mxfp4"}:
        return lay.model
    if lay.quant in PRE_QUANTIZED_SUFFIX:
        return f"/models/{_short(lay.model)}-{PRE_QUANTIZED_SUFFIX[lay.quant]}"
    return lay.model


def _needs_prequantized(lay: Layout) -> bool:
    return lay.quant_format != "gguf" and _served_path(lay) != lay.model


def _sglang_args(lay: Layout, node_rank: int | None = None, dist_init_addr: str | None = None) -> list[str]:
    args = ["python3", "-m", "sglang.launch_server", "--model-path", _served_path(lay), "--served-model-name", lay.model,
            "--host", "0.0.0.0", "--port", str(lay.port), "--tp", str(lay.tensor_parallel),
            "--context-length", str(lay.context_tokens), "--mem-fraction-static", f"{lay.gpu_memory_utilization:g}",
            "--max-running-requests", str(lay.sequences)]
    if lay.quant == "fp8":
        args += ["--quantization", "fp8"]
    elif lay.quant == "bnb-nf4":
        args += ["--load-format", "bitsandbytes"]
    if lay.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e4m3"]
    if lay.multi_node:
        args += ["--nnodes", str(lay.nodes), "--node-rank", str(node_rank or 0), "--dist-init-addr", dist_init_addr or "LEADER:20000"]
    return args


def _tgi_launcher_args(lay: Layout) -> list[str]:
    max_input = max(1, min(lay.context_tokens - 1, lay.context_tokens - lay.output_tokens))
    args = ["--model-id", _served_path(lay), "--num-shard", str(lay.tensor_parallel), "--max-input-tokens", str(max_input),
            "--max-total-tokens", str(lay.context_tokens), "--hostname", "0.0.0.0", "--port", str(lay.port)]
    quantize = QUANTIZE_ON_LOAD["tgi"].get(lay.quant) or {"awq-int4": "awq", "gptq-int4": "gptq"}.get(lay.quant)
    if quantize:
        args += ["--quantize", quantize]
    if lay.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e4m3fn"]
    return args


def _tgi_docker_args(lay: Layout) -> list[str]:
    gpu = ["--gpus", str(lay.gpus)] if lay.vendor == "nvidia" else ["--device", "/dev/kfd", "--device", "/dev/dri"]
    return ["docker", "run", *gpu, "--shm-size", "1g", "-p", f"8080:{lay.port}", "-e", "HF_TOKEN",
            "-v", "$PWD/data:/data", "-v", "/models:/models:ro", _image(lay), *_tgi_launcher_args(lay)]


def _trtllm_args(lay: Layout) -> list[str]:
    args = ["trtllm-serve", _served_path(lay), "--backend", "pytorch", "--host", "0.0.0.0", "--port", str(lay.port),
            "--tp_size", str(lay.tensor_parallel), "--pp_size", str(lay.pipeline_parallel),
            "--max_seq_len", str(lay.context_tokens), "--max_batch_size", str(lay.sequences),
            "--kv_cache_free_gpu_memory_fraction", f"{lay.gpu_memory_utilization:g}"]
    if lay.kv_cache_dtype == "fp8":
        args += ["--extra_llm_api_options", "trtllm-extra.yaml"]
    return args


def _llama_server_args(lay: Layout, program: str = "llama-server") -> list[str]:
    source = ["-hf", GGUF_REPOS[lay.model]] if lay.quant == "mxfp4" and lay.model in GGUF_REPOS else ["-m", _gguf_path(lay)]
    full = lay.gpu_layers >= lay.layers
    args = [program, *source, "--alias", lay.model, "--host", "0.0.0.0", "--port", str(PORTS["llama.cpp"]),
            "-ngl", "999" if full else str(lay.gpu_layers),
            # one KV pool shared by the slots: each of -np slots holds a full context
            "-c", str(lay.context_tokens * lay.sequences), "-np", str(lay.sequences)]
    if lay.gpus > 1:
        args += ["-sm", "layer"]
    if lay.kv_cache_dtype == "q8_0":
        args += ["-fa", "on", "-ctk", "q8_0", "-ctv", "q8_0"]  # a quantized V cache needs flash attention
    return args


def _gguf_path(lay: Layout) -> str:
    return f"/models/{_gguf_file(lay)}"


def _gguf_file(lay: Layout) -> str:
    return f"{_short(lay.model)}-{GGUF_TYPES.get(lay.quant, lay.quant.upper())}.gguf"


def _ollama_name(lay: Layout) -> str:
    return f"{lay.name}:{lay.quant.replace('-', '_')}"


def _ollama_from(lay: Layout) -> tuple[str, str]:
    """The Modelfile's FROM and a note: the library tag when its default weights are the planned
    quantization, otherwise the same GGUF file llama.cpp serves."""
    if lay.ollama_tag and (lay.quant == OLLAMA_DEFAULT_QUANT or (lay.quant == "mxfp4" and lay.model in GGUF_REPOS)):
        return lay.ollama_tag, f"Ollama library tag {lay.ollama_tag}: its default weights are {lay.quant.upper()}."
    note = f"GGUF file made by prepare-gguf.sh ({GGUF_TYPES.get(lay.quant, lay.quant)}), the one llama-server.sh serves."
    if lay.ollama_tag:
        note += f" The library tag {lay.ollama_tag} ships {OLLAMA_DEFAULT_QUANT.upper()} weights instead, not the planned {lay.quant}."
    return _gguf_path(lay), note


# --- files --------------------------------------------------------------------------------------


def _script(lay: Layout, commands: list[tuple[str, list[str]]], preamble: list[str] | None = None) -> str:
    lines = ["#!/usr/bin/env bash", f"# {_describe(lay)}", "# Generated by the Open-Weights Deployment Planner; see README.md.",
             "set -euo pipefail", ""]
    lines += preamble or []
    for title, args in commands:
        lines += [f"# {title}", _join(args), ""]
    return "\n".join(lines)


def _vllm_script(lay: Layout) -> str:
    pre = _prequantized_note(lay)
    if not lay.multi_node:
        return _script(lay, [("vLLM OpenAI-compatible server", _vllm_args(lay))], pre)
    lines = ["#!/usr/bin/env bash", f"# {_describe(lay)}",
             f"# Multi-node: {lay.nodes} nodes × {lay.gpus_per_node} GPUs, tensor parallel {lay.tensor_parallel} within a node,",
             f"# pipeline parallel {lay.pipeline_parallel} across nodes, on a Ray cluster ({DOCS['vllm-parallel']}).",
             "# Usage: on the head node `./vllm.sh leader`; on every other node `./vllm.sh worker LEADER_ADDRESS`,",
             "# inside the vllm/vllm-openai image, which ships the Ray helper script (multi-node-serving.sh).",
             "set -euo pipefail", *pre, "",
             'role="${1:?usage: vllm.sh leader | vllm.sh worker LEADER_ADDRESS}"',
             'script=/vllm-workspace/examples/online_serving/multi-node-serving.sh',
             '[ -f "$script" ] || script=/vllm-workspace/examples/ray_serving/multi-node-serving.sh',
             'if [ "$role" = leader ]; then',
             f'  bash "$script" leader --ray_cluster_size={lay.nodes}',
             "  " + _join(_vllm_args(lay), indent="    "),
             "else",
             '  bash "$script" worker --ray_address="${2:?leader address}"',
             "fi", ""]
    return "\n".join(lines)


def _sglang_script(lay: Layout) -> str:
    pre = _prequantized_note(lay)
    if not lay.multi_node:
        return _script(lay, [("SGLang server", _sglang_args(lay))], pre)
    args = _sglang_args(lay, 0, "LEADER:20000")
    rank_at = args.index("--node-rank") + 1
    addr_at = args.index("--dist-init-addr") + 1
    rendered = [shlex.quote(a) for a in args]
    rendered[rank_at] = '"$NODE_RANK"'
    rendered[addr_at] = '"$LEADER_ADDRESS:20000"'
    lines = ["#!/usr/bin/env bash", f"# {_describe(lay)}",
             f"# Multi-node: run on each of the {lay.nodes} nodes with NODE_RANK=0..{lay.nodes - 1} and LEADER_ADDRESS of rank 0.",
             "set -euo pipefail", *pre, ': "${NODE_RANK:?set NODE_RANK}" "${LEADER_ADDRESS:?set LEADER_ADDRESS}"', "",
             _join_rendered(rendered), ""]
    return "\n".join(lines)


def _prequantized_note(lay: Layout) -> list[str]:
    if not _needs_prequantized(lay):
        return []
    return [f"# {lay.quant} weights are not made on load: put a checkpoint of {lay.model} in that format at",
            f"# {_served_path(lay)} (e.g. quantized with llm-compressor / AutoAWQ, or a published one) before starting.", ""]


def _prepare_gguf_script(lay: Layout) -> str:
    gtype = GGUF_TYPES.get(lay.quant, lay.quant.upper())
    out = _gguf_path(lay)
    direct = lay.quant in {"bf16", "fp16", "q8_0"}
    lines = ["#!/usr/bin/env bash", f"# Make {out} for {lay.model} ({gtype}) with llama.cpp's tools ({DOCS['llama-quantize']}).",
             "# Needs: a llama.cpp checkout (LLAMA_CPP_DIR) with llama-quantize built, `pip install -r requirements.txt` there,",
             "# and the `hf` CLI from huggingface_hub (HF_TOKEN in the environment for gated models).",
             "set -euo pipefail",
             'LLAMA_CPP_DIR="${LLAMA_CPP_DIR:-$HOME/llama.cpp}"',
             'MODELS_DIR="${{MODELS_DIR:-/models}}"',
             f"hf download {shlex.quote(lay.model)} --local-dir \"$MODELS_DIR/{_short(lay.model)}-hf\""]
    if direct:
        lines.append(f'python3 "$LLAMA_CPP_DIR/convert_hf_to_gguf.py" "$MODELS_DIR/{_short(lay.model)}-hf" '
                     f'--outtype {gtype.lower()} --outfile "$MODELS_DIR/{_gguf_file(lay)}"')
    else:
        bf16 = f"{_short(lay.model)}-BF16.gguf"
        lines.append(f'python3 "$LLAMA_CPP_DIR/convert_hf_to_gguf.py" "$MODELS_DIR/{_short(lay.model)}-hf" '
                     f'--outtype bf16 --outfile "$MODELS_DIR/{bf16}"')
        if lay.quant.startswith("iq"):
            lines.append("# i-quants lose less with an importance matrix (llama-imatrix); add --imatrix FILE to the next line.")
        lines.append(f'"$LLAMA_CPP_DIR/build/bin/llama-quantize" "$MODELS_DIR/{bf16}" "$MODELS_DIR/{_gguf_file(lay)}" {gtype}')
    lines.append("")
    return "\n".join(lines)


def _modelfile(lay: Layout) -> str:
    source, note = _ollama_from(lay)
    return "\n".join([
        f"# {_describe(lay)}",
        f"# {note}",
        f"# Create: ollama create {_ollama_name(lay)} -f Modelfile   ({DOCS['ollama-modelfile']})",
        f"FROM {source}",
        f"PARAMETER num_ctx {lay.context_tokens}",
        "",
    ])


def _ollama_env(lay: Layout) -> dict[str, str]:
    env = {"OLLAMA_HOST": f"0.0.0.0:{PORTS['ollama']}", "OLLAMA_NUM_PARALLEL": str(lay.sequences)}
    if lay.kv_cache_dtype == "q8_0":
        env |= {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"}
    if lay.gpus > 1:
        env["OLLAMA_SCHED_SPREAD"] = "1"  # spread the layers over all the GPUs
    return env


def _ollama_script(lay: Layout) -> str:
    env = _ollama_env(lay)
    name = _ollama_name(lay)
    return "\n".join([
        "#!/usr/bin/env bash", f"# {_describe(lay)}",
        f"# Ollama holds num_ctx tokens per request and OLLAMA_NUM_PARALLEL requests at once ({DOCS['ollama-faq']}).",
        "set -euo pipefail", "",
        *[f"export {k}={shlex.quote(v)}" for k, v in env.items()],
        "ollama serve &",
        "until ollama list >/dev/null 2>&1; do sleep 1; done",
        f"ollama create {shlex.quote(name)} -f Modelfile",
        f"ollama run {shlex.quote(name)} 'Say hello.'",
        "wait", "",
    ])


def _compose(lay: Layout) -> str:
    header = [f"# {_describe(lay)}", "# docker compose up -d   (GPU access: " + DOCS["compose-gpu"] + ")"]
    services: dict[str, dict] = {}
    if lay.multi_node:
        header.append(f"# Multi-node: run `docker compose up {lay.name}-leader` on the head node and "
                      f"`LEADER_ADDRESS=<head ip> docker compose up {lay.name}-worker` on the other {lay.nodes - 1}.")
        services.update(_compose_multi_node(lay))
    else:
        blocks = _replica_gpu_blocks(lay)
        if len(blocks) == 1 and lay.replicas > 1:
            header.append(f"# The plan runs {lay.replicas} replicas of this service: one per host (or use kubernetes.yaml).")
        for index, devices in enumerate(blocks):
            name = lay.name if len(blocks) == 1 else f"{lay.name}-{index + 1}"
            services[name] = _compose_service(lay, devices, host_port=_host_port(lay) + index)
        if lay.engine == "ollama":
            services[f"{lay.name}-create"] = _ollama_create_service(lay, next(iter(services)))
    doc = {"services": services}
    if lay.engine not in {"llama.cpp", "ollama"}:
        doc["volumes"] = {"hf-cache": {}}
    if lay.engine == "ollama":
        doc["volumes"] = {"ollama": {}}
    return "\n".join(header) + "\n" + _yaml(doc)


def _host_port(lay: Layout) -> int:
    return 8080 if lay.engine == "tgi" else lay.port


def _replica_gpu_blocks(lay: Layout) -> list[dict]:
    """Compose GPU requests: one service with `count`, or, when every replica fits on one 8-GPU
    host, one service per replica pinned to its own GPUs (`device_ids`; the spec forbids both)."""
    if lay.replicas > 1 and lay.replicas * lay.gpus <= GPUS_PER_NODE and lay.vendor == "nvidia":
        return [{"device_ids": [str(i * lay.gpus + g) for g in range(lay.gpus)]} for i in range(lay.replicas)]
    return [{"count": lay.gpus}]


def _compose_service(lay: Layout, devices: dict, host_port: int) -> dict:
    service: dict = {"image": _image(lay)}
    if lay.engine == "vllm":
        service["command"] = ["--model", *_vllm_args(lay, program=())]  # the image's entrypoint serves --model
    elif lay.engine == "sglang":
        service["command"] = _sglang_args(lay)
    elif lay.engine == "tgi":
        service["command"] = _tgi_launcher_args(lay)
    elif lay.engine == "tensorrt-llm":
        service["command"] = _trtllm_args(lay)
    elif lay.engine == "llama.cpp":
        service["command"] = _llama_server_args(lay)[1:]  # the image's entrypoint is llama-server
    if lay.engine == "ollama":
        service["environment"] = _ollama_env(lay)
        service["volumes"] = ["ollama:/root/.ollama"]
    elif lay.engine == "llama.cpp":
        service["volumes"] = ["/models:/models:ro"]
    else:
        service["environment"] = {"HF_TOKEN": "${HF_TOKEN:-}"}
        service["volumes"] = [f"hf-cache:{_hf_cache_dir(lay)}", "/models:/models:ro"]
        service["ipc"] = "host"  # tensor-parallel workers share memory through /dev/shm
    if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
        service["volumes"].append("./trtllm-extra.yaml:/workspace/trtllm-extra.yaml:ro")
        service["working_dir"] = "/workspace"
    service["ports"] = [f"{host_port}:{lay.port}"]
    gpu = _compose_gpu(lay, devices)
    service.update(gpu)
    service["restart"] = "unless-stopped"
    return service


def _compose_gpu(lay: Layout, devices: dict) -> dict:
    if lay.vendor == "nvidia":
        return {"deploy": {"resources": {"reservations": {"devices": [
            {"driver": "nvidia", **devices, "capabilities": ["gpu"]}]}}}}
    if lay.vendor in {"amd", "intel"}:
        return {"devices": ["/dev/kfd", "/dev/dri"] if lay.vendor == "amd" else ["/dev/dri"], "group_add": ["video"]}
    return {}  # CPU, or Apple silicon (Metal is not reachable from containers: run natively)


def _ollama_create_service(lay: Layout, server: str) -> dict:
    name = _ollama_name(lay)
    return {"image": _image(lay), "depends_on": [server], "working_dir": "/work",
            "environment": {"OLLAMA_HOST": f"{server}:{PORTS['ollama']}"},
            "volumes": ["./:/work:ro", "/models:/models:ro"],
            "entrypoint": ["ollama"], "command": ["create", name, "-f", "Modelfile"], "restart": "no"}


def _compose_multi_node(lay: Layout) -> dict:
    devices = {"count": lay.gpus_per_node}
    base = {"image": _image(lay), "network_mode": "host", "ipc": "host",
            "environment": {"HF_TOKEN": "${HF_TOKEN:-}"}, "volumes": ["hf-cache:/root/.cache/huggingface", "/models:/models:ro"]}
    if lay.engine == "vllm":
        find = ("S=/vllm-workspace/examples/online_serving/multi-node-serving.sh; "
                "[ -f $$S ] || S=/vllm-workspace/examples/ray_serving/multi-node-serving.sh; ")
        leader = {**base, "entrypoint": ["sh", "-c"],
                  "command": [find + f"bash $$S leader --ray_cluster_size={lay.nodes} && " + _join(_vllm_args(lay), indent=None)]}
        worker = {**base, "entrypoint": ["sh", "-c"],
                  "command": [find + "bash $$S worker --ray_address=${LEADER_ADDRESS:?set LEADER_ADDRESS}"]}
    else:
        leader = {**base, "command": _sglang_args(lay, 0, "${LEADER_ADDRESS:?set LEADER_ADDRESS}:20000")}
        worker = {**base, "command": _sglang_args(lay, 1, "${LEADER_ADDRESS:?set LEADER_ADDRESS}:20000")}
    for service in (leader, worker):
        service.update(_compose_gpu(lay, devices))
    return {f"{lay.name}-leader": leader, f"{lay.name}-worker": worker}


def _kubernetes(lay: Layout) -> str:
    header = [f"# {_describe(lay)}", f"# kubectl apply -f kubernetes.yaml   (GPU scheduling: {DOCS['k8s-gpu']})",
              "# Hugging Face token, if the model is gated: kubectl create secret generic hf-token --from-literal=token=...",]
    if lay.multi_node:
        if lay.engine not in {"vllm", "sglang"}:
            raise DeploymentError(f"A {lay.gpus}-GPU replica spans nodes; only vLLM and SGLang layouts are generated for that.")
        header.append(f"# Multi-node replica: a LeaderWorkerSet (install LWS first: https://lws.sigs.k8s.io/docs/installation/), "
                      f"per {DOCS['vllm-lws']}.")
        docs = [_lws(lay), _service(lay, {"leaderworkerset.sigs.k8s.io/name": lay.name, "role": "leader"})]
    else:
        docs = []
        if lay.is_gguf or _needs_prequantized(lay):
            docs.append(_models_pvc(lay))
        if lay.engine == "ollama":
            docs.append(_config_map(f"{lay.name}-modelfile", "Modelfile", _modelfile(lay)))
        if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
            docs.append(_config_map(f"{lay.name}-trtllm-extra", "trtllm-extra.yaml", _trtllm_extra()))
        docs += [_k8s_deployment(lay), _service(lay, {"app": lay.name})]
    return "\n".join(header) + "\n" + _yaml_all(docs)


def _k8s_container_args(lay: Layout) -> tuple[list[str] | None, list[str]]:
    """(command, args) for the container: None keeps the image's entrypoint."""
    if lay.engine == "vllm":
        return None, ["--model", *_vllm_args(lay, program=())]
    if lay.engine == "sglang":
        return _sglang_args(lay), []
    if lay.engine == "tgi":
        return None, _tgi_launcher_args(lay)
    if lay.engine == "tensorrt-llm":
        return _trtllm_args(lay), []
    if lay.engine == "llama.cpp":
        return None, _llama_server_args(lay)[1:]
    name = _ollama_name(lay)
    script = (f"ollama serve & until ollama list >/dev/null 2>&1; do sleep 1; done; "
              f"cd /models && ollama create {name} -f Modelfile && wait")
    return ["sh", "-c", script], []


def _k8s_deployment(lay: Layout) -> dict:
    command, args = _k8s_container_args(lay)
    container: dict = {"name": lay.engine.replace(".", ""), "image": _image(lay)}
    if command:
        container["command"] = command
    if args:
        container["args"] = args
    env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}}]
    if lay.engine == "ollama":
        env += [{"name": k, "value": v} for k, v in _ollama_env(lay).items()]
    container["env"] = env
    container["ports"] = [{"containerPort": lay.port, "name": "http"}]
    container["resources"] = _k8s_resources(lay, lay.gpus)
    container["readinessProbe"] = {"httpGet": {"path": HEALTH_PATHS[lay.engine], "port": lay.port},
                                   "initialDelaySeconds": 30, "periodSeconds": 10}
    mounts, volumes = _k8s_volumes(lay)
    container["volumeMounts"] = mounts
    if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
        container["workingDir"] = "/workspace"  # --extra_llm_api_options names the file relative to it
    pod = {"containers": [container], "volumes": volumes}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": lay.name, "labels": {"app": lay.name}},
            "spec": {"replicas": lay.replicas, "selector": {"matchLabels": {"app": lay.name}},
                     "template": {"metadata": {"labels": {"app": lay.name}}, "spec": pod}}}


def _k8s_resources(lay: Layout, gpus: int) -> dict:
    resource = GPU_RESOURCE.get(lay.vendor)
    if resource is None:
        return {"requests": {"cpu": "8", "memory": f"{math.ceil(lay.weights_gib * 1.2) + 8}Gi"}}
    return {"limits": {resource: gpus}}


def _k8s_volumes(lay: Layout) -> tuple[list[dict], list[dict]]:
    shm = ({"name": "dshm", "mountPath": "/dev/shm"}, {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}})
    if lay.is_gguf:
        mounts = [{"name": "models", "mountPath": "/models"}]
        volumes = [{"name": "models", "persistentVolumeClaim": {"claimName": f"{lay.name}-models"}}]
        if lay.engine == "ollama":
            mounts.append({"name": "modelfile", "mountPath": "/models/Modelfile", "subPath": "Modelfile"})
            volumes.append({"name": "modelfile", "configMap": {"name": f"{lay.name}-modelfile"}})
        return mounts, volumes
    cache_gib = math.ceil(lay.weights_gib * 1.3) + 10
    mounts = [{"name": "hf-cache", "mountPath": _hf_cache_dir(lay)}, shm[0]]
    volumes = [{"name": "hf-cache", "emptyDir": {"sizeLimit": f"{cache_gib}Gi"}}, shm[1]]
    if _needs_prequantized(lay):
        mounts.append({"name": "models", "mountPath": "/models"})
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": f"{lay.name}-models"}})
    if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
        mounts.append({"name": "trtllm-extra", "mountPath": "/workspace/trtllm-extra.yaml", "subPath": "trtllm-extra.yaml"})
        volumes.append({"name": "trtllm-extra", "configMap": {"name": f"{lay.name}-trtllm-extra"}})
    return mounts, volumes


def _hf_cache_dir(lay: Layout) -> str:
    return "/data" if lay.engine == "tgi" else "/root/.cache/huggingface"  # TGI's image caches under /data


def _config_map(name: str, key: str, text: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: text}}


def _trtllm_extra() -> str:
    return yaml.safe_dump({"kv_cache_config": {"dtype": "fp8"}}, sort_keys=False)


def _models_pvc(lay: Layout) -> dict:
    size = math.ceil(lay.weights_gib * 1.2) + 5
    contents = (f"copy {_gguf_file(lay)} here (prepare-gguf.sh makes it)" if lay.is_gguf
                else f"put the {lay.quant} checkpoint at {_served_path(lay)}")
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{lay.name}-models", "annotations": {"planner/contents": contents}},
            "spec": {"accessModes": ["ReadWriteMany" if lay.replicas > 1 else "ReadWriteOnce"],
                     "resources": {"requests": {"storage": f"{size}Gi"}}}}


def _service(lay: Layout, selector: dict) -> dict:
    name = f"{lay.name}-leader" if "role" in selector else lay.name
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "ClusterIP", "selector": selector,
                     "ports": [{"name": "http", "port": lay.port, "targetPort": lay.port, "protocol": "TCP"}]}}


def _lws(lay: Layout) -> dict:
    """LeaderWorkerSet: one group per replica, one pod per node (vLLM's LWS guide, Ray variant)."""
    image = _image(lay)
    shm_mount = {"name": "dshm", "mountPath": "/dev/shm"}
    volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "15Gi"}}]
    env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}}]
    resources = _k8s_resources(lay, lay.gpus_per_node)
    if lay.engine == "vllm":
        find = ("S=/vllm-workspace/examples/online_serving/multi-node-serving.sh; "
                "[ -f $S ] || S=/vllm-workspace/examples/ray_serving/multi-node-serving.sh; ")
        leader_cmd = find + "bash $S leader --ray_cluster_size=$(LWS_GROUP_SIZE); " + _join(_vllm_args(lay), indent=None)
        worker_cmd = find + "bash $S worker --ray_address=$(LWS_LEADER_ADDRESS)"
    else:
        leader_cmd = _join(_sglang_args(lay, 0, "$(LWS_LEADER_ADDRESS):20000"), indent=None)
        worker_cmd = leader_cmd.replace("--node-rank 0", "--node-rank $(LWS_WORKER_INDEX)")
    leader = {"name": f"{lay.engine}-leader", "image": image, "command": ["sh", "-c", leader_cmd], "env": env,
              "resources": resources, "ports": [{"containerPort": lay.port}],
              "readinessProbe": {"tcpSocket": {"port": lay.port}, "initialDelaySeconds": 15, "periodSeconds": 10},
              "volumeMounts": [shm_mount]}
    worker = {"name": f"{lay.engine}-worker", "image": image, "command": ["sh", "-c", worker_cmd], "env": env,
              "resources": resources, "volumeMounts": [shm_mount]}
    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "metadata": {"name": lay.name},
            "spec": {"replicas": lay.replicas, "leaderWorkerTemplate": {
                "size": lay.nodes, "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {"metadata": {"labels": {"role": "leader"}}, "spec": {"containers": [leader], "volumes": volumes}},
                "workerTemplate": {"spec": {"containers": [worker], "volumes": volumes}}}}}


def _ray_leader_command(lay: Layout) -> str:
    return (f"bash multi-node-serving.sh leader --ray_cluster_size={lay.nodes} && " + _join(_vllm_args(lay), indent=None))


def _ray_worker_command(address: str) -> str:
    return f"bash multi-node-serving.sh worker --ray_address={address}"


# --- README -------------------------------------------------------------------------------------


def _readme(plan: Plan, lay: Layout, names: list[str]) -> str:
    title = _one_line(str(plan.constraints.get("name", "Untitled plan")), 120)
    rows = [
        ("Model", f"{lay.model_name} (`{lay.model}`)"),
        ("Quantization", lay.quant),
        ("Engine", lay.engine),
        ("Hardware", f"{lay.gpus} × {lay.gpu_name} per replica, {lay.replicas} replica(s)"),
        ("Layout", _parallel_text(lay)),
        ("Context", f"{lay.context_tokens:,} tokens per sequence, {lay.sequences} sequence(s) in flight per replica"),
        ("KV cache", lay.kv_cache_dtype),
    ]
    lines = [f"# Deployment files: {title}", "", f"Generated from the plan's top pick. {_describe(lay)}.", "",
             "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "", "## Files", ""]
    lines += [f"- `{n}`" for n in [*names, "README.md"]]
    lines += ["", "## Notes", ""]
    if _needs_prequantized(lay):
        lines.append(f"- {lay.quant} weights are loaded from `{_served_path(lay)}`: a checkpoint of `{lay.model}` in that format "
                     "must be there first; the server answers under the plan's model id.")
    if lay.is_gguf and not (lay.quant == "mxfp4" and lay.model in GGUF_REPOS):
        lines.append(f"- llama.cpp and Ollama serve `{_gguf_path(lay)}`; `prepare-gguf.sh` makes it from the Hugging Face checkpoint.")
    if lay.multi_node:
        lines.append(f"- One replica spans {lay.nodes} nodes of {lay.gpus_per_node} GPUs; the Kubernetes manifest is a "
                     f"LeaderWorkerSet per {DOCS['vllm-lws']}.")
    lines += ["- Secrets are never written into these files: pass `HF_TOKEN` through the environment or the `hf-token` Secret.",
              "- Image tags follow each project's documentation; pin a digest for production.", "",
              "## Flags used and where they were checked", "", "| Engine | Flag | Documentation |", "|---|---|---|"]
    relevant = {lay.engine, "compose", "kubernetes"} | ({"llama.cpp", "ollama"} if lay.is_gguf else set())
    lines += [f"| {e} | `{f}` | {u} |" for e, f, u in VERIFIED_FLAGS if e in relevant]
    return "\n".join(lines) + "\n"


def _readme_without_pick(plan: Plan) -> str:
    title = _one_line(str(plan.constraints.get("name", "Untitled plan")), 120)
    reasons = "\n".join(f"- {_one_line(r, 300)}" for r in plan.verdict_reasons) or "- (no reasons recorded)"
    return (f"# Deployment files: {title}\n\nNo self-hosted configuration meets the constraints (verdict: {plan.verdict}), "
            f"so there is nothing to deploy.\n\n{reasons}\n")


# --- helpers ------------------------------------------------------------------------------------


def _describe(lay: Layout) -> str:
    return (f"{lay.model} · {lay.quant} · {lay.engine} · {lay.gpus}× {lay.gpu_name} · {lay.replicas} replica(s) · "
            f"context {lay.context_tokens}")


def _parallel_text(lay: Layout) -> str:
    if lay.gpus == 1:
        return "single GPU" + (f", {lay.gpu_layers} of {lay.layers} layers on the GPU" if lay.gpu_layers < lay.layers else "")
    if lay.engine in {"llama.cpp", "ollama"}:
        return f"layers split over {lay.gpus} GPUs"
    text = f"tensor parallel {lay.tensor_parallel}"
    if lay.pipeline_parallel > 1:
        text += f" × pipeline parallel {lay.pipeline_parallel}"
    if lay.multi_node:
        text += f" over {lay.nodes} nodes of {lay.gpus_per_node} GPUs"
    return text


def _image(lay: Layout) -> str:
    vendor = lay.vendor if lay.vendor in {"nvidia", "amd", "intel"} else "cpu"
    return IMAGES.get((lay.engine, vendor)) or IMAGES.get((lay.engine, "nvidia")) or IMAGES[(lay.engine, "cpu")]


def _vendor_class(gpu) -> str:
    if gpu.kind in {"apple", "cpu"}:
        return gpu.kind
    vendor = gpu.vendor.lower()
    return "amd" if vendor.startswith("amd") else ("intel" if vendor.startswith("intel") else "nvidia")


def _short(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id.split("/")[-1]) or "model"


def _dns_name(model_id: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", model_id.split("/")[-1].lower()).strip("-")
    return (name[:50].rstrip("-") or "model")


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _join(args: list[str], indent: str | None = "  ") -> str:
    """A shell command from an argument list: quoted, one option per line unless indent is None.

    `$PWD/...` stays unquoted so the shell expands it.
    """
    return _join_rendered([a if a.startswith("$PWD/") else shlex.quote(a) for a in args], indent)


def _join_rendered(rendered: list[str], indent: str | None = "  ") -> str:
    if indent is None:
        return " ".join(rendered)
    lines: list[str] = []
    for token in rendered:  # a new line at each option with its value; the program and its positionals on the first
        if not lines:
            lines.append(token)
        elif token.startswith("-") or (len(lines) > 1 and " " in lines[-1]):
            lines.append(token)
        else:
            lines[-1] += " " + token
    return (" \\\n" + indent).join(lines)
