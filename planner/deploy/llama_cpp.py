"""llama.cpp: `llama-server` arguments, llama-server.sh and prepare-gguf.sh (the GGUF file from the checkpoint)."""

from __future__ import annotations

import re
import shlex

from planner.deploy.flags import DOCS
from planner.deploy.layout import GGUF_REPOS, GGUF_TYPES, PORTS, Layout, gguf_file, gguf_path, short_name, template_kwargs_json
from planner.deploy.render import comment, shell_script


def llama_server_args(lay: Layout, program: str = "llama-server") -> list[str]:
    source = ["-hf", GGUF_REPOS[lay.model]] if lay.quant == "mxfp4" and lay.model in GGUF_REPOS else ["-m", gguf_path(lay)]
    full = lay.gpu_layers >= lay.layers
    args = [program, *source, "--alias", lay.model, "--host", "0.0.0.0", "--port", str(PORTS["llama.cpp"]),
            "-ngl", "999" if full else str(lay.gpu_layers),
            # one KV pool shared by the slots (--kv-unified): the planned context per slot in all, and any one
            # request may use up to the whole pool, so the longest request fits without reserving it per slot
            "-c", str(max(lay.context_tokens * lay.sequences, lay.request_limit)), "-np", str(lay.sequences), "--kv-unified"]
    if lay.gpus > 1:
        args += ["-sm", "layer"]
    if lay.kv_cache_dtype == "q8_0":
        args += ["-fa", "on", "-ctk", "q8_0", "-ctv", "q8_0"]  # a quantized V cache needs flash attention
    if lay.chat_template_kwargs:  # the planned reasoning mode, for requests that name none
        args += ["--chat-template-kwargs", template_kwargs_json(lay)]
    return args


def prepare_gguf_script(lay: Layout) -> str:
    if lay.checkpoint_repo and lay.checkpoint_file:
        return _download_gguf_script(lay)
    gtype = GGUF_TYPES.get(lay.quant, lay.quant.upper())
    out = gguf_path(lay)
    direct = lay.quant in {"bf16", "fp16", "q8_0"}
    lines = ["#!/usr/bin/env bash", comment(f"Make {out} for {lay.model} ({gtype}) with llama.cpp's tools ({DOCS['llama-quantize']})."),
             "# Needs: a llama.cpp checkout (LLAMA_CPP_DIR) with llama-quantize built, `pip install -r requirements.txt` there,",
             "# and the `hf` CLI from huggingface_hub (HF_TOKEN in the environment for gated models).",
             "set -euo pipefail",
             'LLAMA_CPP_DIR="${LLAMA_CPP_DIR:-$HOME/llama.cpp}"',
             'MODELS_DIR="${MODELS_DIR:-/models}"',
             f"hf download {shlex.quote(lay.model)} --local-dir \"$MODELS_DIR/{short_name(lay.model)}-hf\""]
    if direct:
        lines.append(f'python3 "$LLAMA_CPP_DIR/convert_hf_to_gguf.py" "$MODELS_DIR/{short_name(lay.model)}-hf" '
                     f'--outtype {gtype.lower()} --outfile "$MODELS_DIR/{gguf_file(lay)}"')
    else:
        bf16 = f"{short_name(lay.model)}-BF16.gguf"
        lines.append(f'python3 "$LLAMA_CPP_DIR/convert_hf_to_gguf.py" "$MODELS_DIR/{short_name(lay.model)}-hf" '
                     f'--outtype bf16 --outfile "$MODELS_DIR/{bf16}"')
        if lay.quant.startswith("iq"):
            lines.append("# i-quants lose less with an importance matrix (llama-imatrix); add --imatrix FILE to the next line.")
        lines.append(f'"$LLAMA_CPP_DIR/build/bin/llama-quantize" "$MODELS_DIR/{bf16}" "$MODELS_DIR/{gguf_file(lay)}" {gtype}')
    lines.append("")
    return "\n".join(lines)


def llama_server_script(lay: Layout) -> str:
    return shell_script(lay, [("llama.cpp server", llama_server_args(lay))])


def _download_gguf_script(lay: Layout) -> str:
    """The published GGUF file (every shard of a split one) fetched from its repo with the `hf` CLI."""
    file = lay.checkpoint_file or ""
    split = re.match(r"(.+)-00001-of-(\d{5})\.gguf$", file)
    pattern = f"{split.group(1)}-*-of-{split.group(2)}.gguf" if split else file
    return "\n".join([
        "#!/usr/bin/env bash",
        comment(f"Fetch {file} ({lay.quant}) for {lay.model} from {lay.checkpoint_repo}, as published on the Hugging Face Hub."),
        "# Needs the `hf` CLI from huggingface_hub (HF_TOKEN in the environment for gated models).",
        "set -euo pipefail",
        'MODELS_DIR="${MODELS_DIR:-/models}"',
        f"hf download {shlex.quote(lay.checkpoint_repo or '')} --include {shlex.quote(pattern)} --local-dir \"$MODELS_DIR\"",
        "",
    ])
