"""What each engine's container runs, for compose and Kubernetes alike: (command, args) for its image."""

from __future__ import annotations

from planner.deploy.layout import Layout
from planner.deploy.llama_cpp import llama_server_args
from planner.deploy.ollama import ollama_name
from planner.deploy.sglang import sglang_args
from planner.deploy.tensorrt_llm import trtllm_args
from planner.deploy.tgi import tgi_launcher_args
from planner.deploy.vllm import vllm_args


def container_args(lay: Layout) -> tuple[list[str] | None, list[str]]:
    """(command, args) for the container: None keeps the image's entrypoint.

    Ollama's is one container that serves and then creates the model from the Modelfile (Kubernetes);
    compose runs the image's own `ollama serve` and a second service for `ollama create`.
    """
    if lay.engine == "vllm":
        return None, ["--model", *vllm_args(lay, program=())]  # the image's entrypoint serves --model
    if lay.engine == "sglang":
        return sglang_args(lay), []
    if lay.engine == "tgi":
        return None, tgi_launcher_args(lay)
    if lay.engine == "tensorrt-llm":
        return trtllm_args(lay), []
    if lay.engine == "llama.cpp":
        return None, llama_server_args(lay)[1:]  # the image's entrypoint is llama-server
    name = ollama_name(lay)
    script = (f"ollama serve & until ollama list >/dev/null 2>&1; do sleep 1; done; "
              f"cd /models && ollama create {name} -f Modelfile && wait")
    return ["sh", "-c", script], []
