"""Fine-tuning estimates against published figures: peak memory per GPU and training throughput.

    .venv/bin/python bench/finetune_accuracy.py

Every row of data/finetune_references.csv is planned with its own settings (model, method, rank,
targets, sequence length, micro-batch, checkpointing, GPUs, ZeRO stage) and compared with what
its source published. `measured` rows are measurements; `guideline` rows are frameworks' rules of
thumb (no sequence length stated); `upper_bound` rows say a run fitted within a budget, so they
pass when the estimate stays within it. The medians are over measured rows.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.catalog.loading import load_catalog  # noqa: E402
from planner.finetune.data import FineTuneReference, load_finetune_data  # noqa: E402
from planner.finetune.planner import plan_finetune  # noqa: E402


def main() -> int:
    data = load_finetune_data()
    catalog = load_catalog().with_models(list(data.reference_models))
    rows = [compare(catalog, ref) for ref in data.references]
    print(f"{'reference':44} {'kind':11} {'metric':12} {'published':>10} {'predicted':>10} {'error':>8}")
    for r in rows:
        print(f"{r['id']:44} {r['kind']:11} {r['metric']:12} {r['published']:>10.1f} {r['predicted']:>10.1f} {r['error']:>8}")
    print()
    for kind in ("measured", "guideline"):
        for metric in ("peak_memory", "tokens_per_s"):
            errors = [abs(r["error_pct"]) for r in rows if r["kind"] == kind and r["metric"] == metric]
            if errors:
                print(f"{kind} {metric}: median absolute error {statistics.median(errors):.1f}% "
                      f"(max {max(errors):.1f}%, {len(errors)} rows)")
    bounds = [r for r in rows if r["kind"] == "upper_bound"]
    if bounds:
        held = sum(r["predicted"] <= r["published"] for r in bounds)
        print(f"upper bounds respected: {held} of {len(bounds)}")
    print("memory in GiB (published GB converted: × 1e9 / 2^30); throughput in tokens/s over all GPUs")
    return 0


def compare(catalog, ref: FineTuneReference) -> dict:
    plan = plan_finetune(
        catalog, ref.model, ref.method, rank=int(ref.rank or 8), target_modules=ref.target_modules,
        gpu=ref.gpu, gpus=ref.gpus, seq_len=ref.seq_len, micro_batch=ref.micro_batch,
        gradient_checkpointing=ref.gradient_checkpointing, flash_attention=ref.flash_attention,
        zero_stage=ref.zero_stage, pure_bf16=ref.pure_bf16,
    )
    if ref.metric == "peak_memory":
        published, predicted = ref.value_gib, plan.memory.total_per_gpu_gib
    else:
        published = ref.value
        # Throughput the time estimate implies: tokens processed / seconds.
        predicted = plan.tokens * plan.epochs / (plan.time_hours * 3600) if plan.time_hours else float("nan")
    error_pct = (predicted - published) / published * 100
    shown = ("ok" if predicted <= published else "over") if ref.kind == "upper_bound" else f"{error_pct:+.1f}%"
    return {"id": ref.id, "kind": ref.kind, "metric": ref.metric, "published": published, "predicted": predicted,
            "error_pct": error_pct, "error": shown}


if __name__ == "__main__":
    raise SystemExit(main())
