"""Layouts made by hand for the per-module deployment tests, and the real parsers they check with."""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess

import pytest

from planner.deploy.layout import Layout

BASE = Layout(
    model="meta-llama/Llama-3.1-8B-Instruct", model_name="Llama 3.1 8B Instruct", quant="bf16", quant_format="float",
    engine="vllm", gpu="h100-sxm", gpu_name="NVIDIA H100 SXM5 80GB", vendor="nvidia", gpus=1, replicas=1, nodes=1,
    gpus_per_node=1, tensor_parallel=1, pipeline_parallel=1, context_tokens=8192, sequences=16, input_tokens=1000,
    output_tokens=300, kv_cache_dtype="fp16", gpu_layers=32, layers=32, cpu_offload_gib=0.0, gpu_memory_utilization=0.9,
    weights_gib=15.0, ollama_tag="llama3.1:8b", name="llama-3-1-8b-instruct",
)


def make_layout(**changes) -> Layout:
    return dataclasses.replace(BASE, **changes)


def two_node_layout(**changes) -> Layout:
    """One replica on 16 GPUs: two nodes of 8, tensor parallel 8 within a node, pipeline parallel 2 across."""
    return make_layout(**{"model": "meta-llama/Llama-3.1-405B-Instruct", "name": "llama-3-1-405b-instruct", "quant": "fp8",
                          "gpus": 16, "nodes": 2, "gpus_per_node": 8, "tensor_parallel": 8, "pipeline_parallel": 2,
                          "kv_cache_dtype": "fp8", "weights_gib": 380.0, **changes})


def bash_syntax_ok(text: str) -> None:
    """`bash -n` accepts the script (skipped where there is no bash)."""
    if not shutil.which("bash"):
        pytest.skip("no bash")
    result = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr


def script_command(script: str, program: str) -> list[str]:
    """The argument list of the first command in `script` that starts with `program` (continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped.startswith(program + " "):
            return shlex.split(stripped)
    raise AssertionError(f"no {program!r} command in:\n{script}")


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def shell_words(command: str) -> list[str]:
    """The words bash makes of a rendered command: a backslash-newline continues the line."""
    return shlex.split(command.replace("\\\n", ""))
