"""TensorRT-LLM: `trtllm-serve` arguments, trtllm-serve.sh and the extra options file for an FP8 KV cache."""

from __future__ import annotations

import yaml

from planner.deploy.layout import Layout, served_path
from planner.deploy.render import prequantized_note, shell_script


def trtllm_args(lay: Layout) -> list[str]:
    args = ["trtllm-serve", served_path(lay), "--backend", "pytorch", "--host", "0.0.0.0", "--port", str(lay.port),
            "--tp_size", str(lay.tensor_parallel), "--pp_size", str(lay.pipeline_parallel),
            "--max_seq_len", str(lay.request_limit), "--max_batch_size", str(lay.sequences),
            "--kv_cache_free_gpu_memory_fraction", f"{lay.gpu_memory_utilization:g}"]
    if lay.kv_cache_dtype == "fp8":
        args += ["--extra_llm_api_options", "trtllm-extra.yaml"]
    return args


def trtllm_extra() -> str:
    return yaml.safe_dump({"kv_cache_config": {"dtype": "fp8"}}, sort_keys=False)


def trtllm_script(lay: Layout) -> str:
    return shell_script(lay, [("TensorRT-LLM server", trtllm_args(lay))], prequantized_note(lay))
