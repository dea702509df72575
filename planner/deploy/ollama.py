"""Ollama: the Modelfile, the server's environment and ollama.sh."""

from __future__ import annotations

import shlex

from planner.deploy.flags import DOCS
from planner.deploy.layout import GGUF_REPOS, GGUF_TYPES, OLLAMA_DEFAULT_QUANT, PORTS, Layout, describe, gguf_path
from planner.deploy.render import comment


def ollama_name(lay: Layout) -> str:
    return f"{lay.name}:{lay.quant.replace('-', '_')}"


def _ollama_from(lay: Layout) -> tuple[str, str]:
    """The Modelfile's FROM and a note: the library tag when its default weights are the planned
    quantization, otherwise the same GGUF file llama.cpp serves."""
    if lay.ollama_tag and (lay.quant == OLLAMA_DEFAULT_QUANT or (lay.quant == "mxfp4" and lay.model in GGUF_REPOS)):
        return lay.ollama_tag, f"Ollama library tag {lay.ollama_tag}: its default weights are {lay.quant.upper()}."
    note = f"GGUF file made by prepare-gguf.sh ({GGUF_TYPES.get(lay.quant, lay.quant)}), the one llama-server.sh serves."
    if lay.ollama_tag:
        note += f" The library tag {lay.ollama_tag} ships {OLLAMA_DEFAULT_QUANT.upper()} weights instead, not the planned {lay.quant}."
    return gguf_path(lay), note


def modelfile(lay: Layout) -> str:
    source, note = _ollama_from(lay)
    return "\n".join([
        comment(describe(lay)),
        comment(note),
        comment(f"Create: ollama create {ollama_name(lay)} -f Modelfile   ({DOCS['ollama-modelfile']})"),
        f"FROM {source}",
        f"PARAMETER num_ctx {lay.request_limit}",
        "",
    ])


def ollama_env(lay: Layout) -> dict[str, str]:
    env = {"OLLAMA_HOST": f"0.0.0.0:{PORTS['ollama']}", "OLLAMA_NUM_PARALLEL": str(lay.sequences)}
    if lay.kv_cache_dtype == "q8_0":
        env |= {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"}
    if lay.gpus > 1:
        env["OLLAMA_SCHED_SPREAD"] = "1"  # spread the layers over all the GPUs
    return env


def ollama_script(lay: Layout) -> str:
    env = ollama_env(lay)
    name = ollama_name(lay)
    return "\n".join([
        "#!/usr/bin/env bash", comment(describe(lay)),
        f"# Ollama holds num_ctx tokens per request and OLLAMA_NUM_PARALLEL requests at once ({DOCS['ollama-faq']}).",
        "set -euo pipefail", "",
        *[f"export {k}={shlex.quote(v)}" for k, v in env.items()],
        "ollama serve &",
        "until ollama list >/dev/null 2>&1; do sleep 1; done",
        f"ollama create {shlex.quote(name)} -f Modelfile",
        f"ollama run {shlex.quote(name)} 'Say hello.'",
        "wait", "",
    ])
