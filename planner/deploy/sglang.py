"""SGLang: `sglang.launch_server` arguments and sglang.sh (one node, or its own multi-node flags)."""

from __future__ import annotations

import shlex

from planner.deploy.layout import Layout, describe, quantized_on_load, served_path
from planner.deploy.render import comment, join_rendered, prequantized_note, shell_script


def sglang_args(lay: Layout, node_rank: int | None = None, dist_init_addr: str | None = None) -> list[str]:
    args = ["python3", "-m", "sglang.launch_server", "--model-path", served_path(lay), "--served-model-name", lay.model,
            "--host", "0.0.0.0", "--port", str(lay.port), "--tp", str(lay.tensor_parallel),
            "--context-length", str(lay.request_limit), "--mem-fraction-static", f"{lay.gpu_memory_utilization:g}",
            "--max-running-requests", str(lay.sequences)]
    if lay.quant == "fp8" and quantized_on_load(lay):  # a published FP8 checkpoint carries its own config
        args += ["--quantization", "fp8"]
    elif lay.quant == "bnb-nf4":
        args += ["--load-format", "bitsandbytes"]
    if lay.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e4m3"]
    if lay.multi_node:
        args += ["--nnodes", str(lay.nodes), "--node-rank", str(node_rank or 0), "--dist-init-addr", dist_init_addr or "LEADER:20000"]
    return args


def sglang_script(lay: Layout) -> str:
    pre = prequantized_note(lay)
    if not lay.multi_node:
        return shell_script(lay, [("SGLang server", sglang_args(lay))], pre)
    args = sglang_args(lay, 0, "LEADER:20000")
    rank_at = args.index("--node-rank") + 1
    addr_at = args.index("--dist-init-addr") + 1
    rendered = [shlex.quote(a) for a in args]
    rendered[rank_at] = '"$NODE_RANK"'
    rendered[addr_at] = '"$LEADER_ADDRESS:20000"'
    lines = ["#!/usr/bin/env bash", comment(describe(lay)),
             f"# Multi-node: run on each of the {lay.nodes} nodes with NODE_RANK=0..{lay.nodes - 1} and LEADER_ADDRESS of rank 0.",
             "set -euo pipefail", *pre, ': "${NODE_RANK:?set NODE_RANK}" "${LEADER_ADDRESS:?set LEADER_ADDRESS}"', "",
             join_rendered(rendered), ""]
    return "\n".join(lines)
