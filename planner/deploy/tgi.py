"""Text Generation Inference: launcher arguments, the `docker run` command and tgi.sh."""

from __future__ import annotations

from planner.deploy.layout import QUANTIZE_ON_LOAD, Layout, engine_image, served_path
from planner.deploy.render import prequantized_note, shell_script


def tgi_launcher_args(lay: Layout) -> list[str]:
    max_input = max(1, min(lay.request_limit - 1, lay.request_limit - lay.output_tokens))
    args = ["--model-id", served_path(lay), "--num-shard", str(lay.tensor_parallel), "--max-input-tokens", str(max_input),
            "--max-total-tokens", str(lay.request_limit), "--hostname", "0.0.0.0", "--port", str(lay.port)]
    quantize = QUANTIZE_ON_LOAD["tgi"].get(lay.quant) or {"awq-int4": "awq", "gptq-int4": "gptq"}.get(lay.quant)
    if quantize:
        args += ["--quantize", quantize]
    if lay.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e4m3fn"]
    return args


def tgi_docker_args(lay: Layout) -> list[str]:
    gpu = ["--gpus", str(lay.gpus)] if lay.vendor == "nvidia" else ["--device", "/dev/kfd", "--device", "/dev/dri"]
    return ["docker", "run", *gpu, "--shm-size", "1g", "-p", f"8080:{lay.port}", "-e", "HF_TOKEN",
            "-v", "$PWD/data:/data", "-v", "/models:/models:ro", engine_image(lay), *tgi_launcher_args(lay)]


def tgi_script(lay: Layout) -> str:
    return shell_script(lay, [("Text Generation Inference (docker)", tgi_docker_args(lay))], prequantized_note(lay))
