"""The `finetune` sub-command: memory, time and cost of fine-tuning one model with one method.

    python -m planner finetune --model ID --method lora|qlora|full [--rank R] [--targets all-linear|qv|attention|LIST]
        [--gpu ID --gpus N] [--zero-stage 0-3] [--seq-len N] [--micro-batch N] [--no-checkpointing]
        [--tokens N] [--epochs E] [--json]

`planner/cli.py` adds it through `register(subparsers)`; `python -m planner.cli.finetune ...` runs it
alone. Exit codes: 0 success, 2 invalid input (one line naming the field).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from planner.catalog.loading import load_catalog
from planner.cli.parser import OneLineParser, id_text
from planner.errors import ConstraintError, PlannerError, one_line
from planner.finetune.planner import FineTunePlan, plan_finetune
from planner.finetune.request import METHODS


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `finetune` sub-command to an argparse sub-parser collection.

    Numbers stay text here so that `plan_finetune` validates them and a bad one gives one line
    naming its field (argparse would print its usage block instead).
    """
    ft = subparsers.add_parser("finetune", help="memory, time and cost of full, LoRA or QLoRA fine-tuning")
    ft.add_argument("--model", required=True, type=id_text, help="Hugging Face repo id or alias (e.g. llama3.1:8b)")
    ft.add_argument("--method", required=True, type=id_text, help=f"one of {', '.join(METHODS)}")
    ft.add_argument("--rank", default=16, help="LoRA rank (default 16)")
    ft.add_argument("--alpha", default=32.0, help="LoRA alpha (default 32)")
    ft.add_argument("--targets", default="all-linear", type=id_text,
                    help="LoRA target modules: all-linear, attention, qv, or a comma-separated list such as q_proj,v_proj")
    ft.add_argument("--gpu", default=None, type=id_text, help="catalogue GPU id (default: H100 SXM)")
    ft.add_argument("--gpus", default=1)
    ft.add_argument("--zero-stage", default=None,
                    help="ZeRO/FSDP sharding stage 0-3 (default: 3 on several GPUs, else 0)")
    ft.add_argument("--seq-len", default=2048, help="tokens per training sequence")
    ft.add_argument("--micro-batch", default=1, help="sequences per GPU per step")
    ft.add_argument("--no-checkpointing", action="store_true", help="keep all activations (no gradient checkpointing)")
    ft.add_argument("--pure-bf16", action="store_true", help="full fine-tuning without fp32 master weights")
    ft.add_argument("--tokens", default=10_000_000, help="tokens in the training set")
    ft.add_argument("--epochs", default=1.0)
    ft.add_argument("--json", action="store_true", help="print the plan as JSON")
    ft.set_defaults(func=run)
    return ft


# The numbers plan_finetune validates from text (planner.finetune.request); here only what no number is.
_NUMBERS = ("rank", "alpha", "gpus", "zero_stage", "seq_len", "micro_batch", "tokens", "epochs")


def run(args: argparse.Namespace) -> int:
    for name in _NUMBERS:
        _check_number_text(name, getattr(args, name))
    catalog = load_catalog()
    zero_stage = args.zero_stage if args.zero_stage is not None else (3 if str(args.gpus).strip() not in {"1", "1.0"} else 0)
    plan = plan_finetune(
        catalog, args.model, args.method, rank=args.rank, alpha=args.alpha, target_modules=args.targets,
        gpu=args.gpu, gpus=args.gpus, seq_len=args.seq_len, micro_batch=args.micro_batch,
        gradient_checkpointing=not args.no_checkpointing, zero_stage=zero_stage, tokens=args.tokens,
        epochs=args.epochs, pure_bf16=args.pure_bf16,
    )
    if args.json:
        json.dump(as_json(plan), sys.stdout, indent=2)
        print()
    else:
        print(summary(plan))
    return 0


def _check_number_text(name: str, value: object) -> None:
    """A number given as text: at most 40 characters (a 10 MB value is not echoed back) and finite (inf or nan
    would reach the plan's JSON as Infinity, which is not JSON)."""
    if not isinstance(value, str):
        return
    field = f"--{name.replace('_', '-')}"
    if len(value) > 40:
        raise ConstraintError(f"Field '{name}' ({field}): a number of at most 40 characters, got {len(value):,}.", field=name)
    try:
        number = float(value)
    except ValueError:
        return  # plan_finetune names the field and what is allowed
    if not math.isfinite(number):
        raise ConstraintError(f"Field '{name}' ({field}): must be a finite number, got {value.strip()!a}.", field=name)


def as_json(plan: FineTunePlan) -> dict:
    """The CLI's JSON: the headline figures first, then the whole plan under "detail"."""
    m = plan.memory
    return {
        "model": plan.model,
        "method": plan.method,
        "gpu": plan.gpu,
        "gpus": plan.gpus,
        "trainable_params": plan.trainable_params,
        "memory": {
            "weights_gib": m.weights_gib, "gradients_gib": m.gradients_gib, "optimizer_gib": m.optimizer_gib,
            "adapter_gib": m.adapter_gib, "activations_gib": m.activations_gib + m.logits_gib,
            "overhead_gib": m.overhead_gib, "total_per_gpu_gib": m.total_per_gpu_gib,
            "capacity_gib": m.capacity_gib, "fits": m.fits,
        },
        "time_hours": plan.time_hours,
        "cost_usd": plan.cost_usd,
        "adapter_size_mib": plan.adapter_size_mib,
        "services": [q.model_dump(mode="json") for q in plan.services],
        "findings": [f.model_dump(mode="json") for f in plan.findings],
        "detail": plan.to_json_dict(),
    }


def summary(plan: FineTunePlan) -> str:
    m = plan.memory
    lines = [
        f"{plan.model_name} · {plan.method} · {plan.gpus}× {plan.gpu_name}"
        + (f" · ZeRO-{plan.zero_stage}" if plan.zero_stage else ""),
        f"trainable parameters: {plan.trainable_params:,} ({plan.trainable_fraction:.2%} of {plan.total_params:,})",
        f"memory per GPU: weights {m.weights_gib:.2f} + gradients {m.gradients_gib:.2f} + optimizer {m.optimizer_gib:.2f} "
        f"+ adapter {m.adapter_gib:.2f} + activations {m.activations_gib + m.logits_gib:.2f} + CUDA context {m.overhead_gib:.2f} "
        f"= {m.total_per_gpu_gib:.2f} of {m.capacity_gib:.0f} GiB -> {'fits' if m.fits else 'does NOT fit'}",
    ]
    if plan.time_hours is not None:
        cost = f", ${plan.cost_usd:,.2f} at ${plan.usd_per_gpu_hour:.2f}/GPU-hour" if plan.cost_usd is not None else ""
        lines.append(f"time: {plan.time_hours:,.2f} h for {plan.tokens * plan.epochs:,.0f} training tokens{cost}")
    if plan.adapter_size_mib is not None:
        lines.append(f"adapter: {plan.adapter_size_mib:,.1f} MiB (bf16 safetensors)")
    for q in plan.services:
        lines.append(f"service: {q.provider} {q.service}: ${q.usd_total:,.2f} (${q.usd_per_mtok:.2f}/M tokens)"
                     + ("" if q.same_model else " [closed model, for comparison]"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m planner.cli.finetune")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["finetune", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except PlannerError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
