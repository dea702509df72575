"""vLLM: `vllm serve` arguments and vllm.sh (one node, or a Ray cluster across nodes)."""

from __future__ import annotations

import math

from planner.deploy.flags import DOCS
from planner.deploy.layout import PRE_AMPERE, QUANTIZE_ON_LOAD, Layout, describe, quantized_on_load, served_path, template_kwargs_json
from planner.deploy.render import comment, join, prequantized_note, shell_script


def vllm_args(lay: Layout, program: tuple[str, ...] = ("vllm", "serve")) -> list[str]:
    args = [*program, served_path(lay), "--served-model-name", lay.model, "--host", "0.0.0.0", "--port", str(lay.port),
            "--tensor-parallel-size", str(lay.tensor_parallel), "--pipeline-parallel-size", str(lay.pipeline_parallel),
            "--max-model-len", str(lay.request_limit)]
    quant = _vllm_quantization(lay)
    if quant:
        args += ["--quantization", quant]
    if lay.quant_format == "gguf":
        args += ["--tokenizer", lay.model]
    args += ["--kv-cache-dtype", "fp8" if lay.kv_cache_dtype == "fp8" else "auto",
             "--gpu-memory-utilization", f"{lay.gpu_memory_utilization:g}", "--max-num-seqs", str(lay.sequences)]
    if lay.cpu_offload_gib > 0:
        args += ["--cpu-offload-gb", str(math.ceil(lay.cpu_offload_gib))]
    if lay.chat_template_kwargs:  # the planned reasoning mode, for requests that name none
        args += ["--default-chat-template-kwargs", template_kwargs_json(lay)]
    if lay.multi_node:
        args += ["--distributed-executor-backend", "ray"]
    return args


def _vllm_quantization(lay: Layout) -> str | None:
    """vLLM's --quantization value: in-flight methods, or the kernel for a pre-quantized checkpoint.

    Naming plain `awq`/`gptq` forces the slower non-Marlin kernels, so Marlin variants are named
    where the GPU supports them (vLLM logs this advice when `awq` is forced).
    """
    if quantized_on_load(lay):
        return QUANTIZE_ON_LOAD["vllm"][lay.quant]
    if lay.quant == "fp8":
        return None  # a published FP8 checkpoint: vLLM reads its quantization config
    marlin = lay.vendor == "nvidia" and lay.gpu not in PRE_AMPERE
    if lay.quant == "awq-int4":
        return "awq_marlin" if marlin else "awq"
    if lay.quant == "gptq-int4":
        return "gptq_marlin" if marlin else "gptq"
    return None  # 16-bit, INT8 (compressed-tensors) and MXFP4 are read from the checkpoint's config


def vllm_script(lay: Layout) -> str:
    pre = prequantized_note(lay)
    if not lay.multi_node:
        return shell_script(lay, [("vLLM OpenAI-compatible server", vllm_args(lay))], pre)
    lines = ["#!/usr/bin/env bash", comment(describe(lay)),
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
             "  " + join(vllm_args(lay), indent="    "),
             "else",
             '  bash "$script" worker --ray_address="${2:?leader address}"',
             "fi", ""]
    return "\n".join(lines)
