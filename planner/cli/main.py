"""The command line: a second front end over the same core as the dashboard.

    python -m planner catalog {models,gpus,quants,engines,apis} --json
    python -m planner estimate --model ID --quant ID --gpu ID [--gpus N] [--engine ID] ... --json
    python -m planner plan --constraints FILE.json [--json] [--pdf OUT.pdf] [--deploy-dir DIR] [--save-plan FILE]
    python -m planner probe --url URL --model NAME ... --json
    python -m planner finetune --model ID --method lora|qlora|full ... --json
    python -m planner add-model --config config.json|FOLDER [--name org/model]
    python -m planner refresh prices (--litellm FILE | --genai-prices) [--write]
    python -m planner monitor --plan plan.json (--metrics-url URL ... | --prometheus URL) [--window 5m] [--json]
    python -m planner quality --url URL [--samples FILE.jsonl] [--against URL2] [--json]

Exit codes: 0 success, 1 a run that failed (unreachable endpoint), 2 invalid input (the message
names the field and what is allowed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from planner.catalog.loading import Catalog, load_catalog
from planner.cli.parser import OneLineParser, id_text
from planner.cli_args import bounded
from planner.errors import PlannerError, one_line
from planner.estimate.configuration import default_engine, estimate
from planner.plan.constraints import load_constraints
from planner.runtime import keep_freed_memory

CATALOG_KINDS = ("models", "gpus", "quants", "engines", "apis", "gpu-prices", "benchmarks")
# estimate's numbers, bounded as the constraints bound them (planner.plan.constraints); requests in flight at
# most 100,000, a hundred times vLLM's largest default running batch (1,024).
_GPUS = bounded(int, 1, maximum=1024)
_CONTEXT_TOKENS = bounded(int, 1, maximum=10_485_760)
_CONCURRENCY = bounded(int, 1, maximum=100_000)
_INPUT_TOKENS = bounded(int, 1, maximum=10_000_000)
_OUTPUT_TOKENS = bounded(int, 1, maximum=1_000_000)
_finite_rate = bounded(float, 0, strict=True, maximum=1e6)  # --request-rate: requests/s arriving at the replica


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory()  # planner.runtime: plans reuse heap memory instead of faulting in fresh pages
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PlannerError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (e.g. `head`) stopped early; nothing is wrong
        sys.stderr.close()
        return 0
    except OSError as exc:  # an output path that cannot be written (--pdf, --deploy-dir, --save-plan)
        target = exc.filename or "the output"
        print(f"error: {one_line(f'cannot write {target}: {exc.strerror or exc}')}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m planner", description="Plan how to run open-weights LLMs, or whether to pay for an API.")
    sub = parser.add_subparsers(dest="command", required=True)

    cat = sub.add_parser("catalog", help="list catalogue records")
    cat.add_argument("kind", choices=CATALOG_KINDS)
    cat.add_argument("--json", action="store_true", help="print a JSON list of records")
    cat.set_defaults(func=_catalog)

    est = sub.add_parser("estimate", help="memory and speed of one configuration")
    est.add_argument("--model", required=True, type=id_text, help="Hugging Face repo id or alias (e.g. llama3.1:8b)")
    est.add_argument("--quant", required=True, type=id_text)
    est.add_argument("--gpu", required=True, type=id_text)
    est.add_argument("--gpus", type=_GPUS, default=1)
    est.add_argument("--engine", default=None, type=id_text, help="default: vLLM for GPU formats, llama.cpp for GGUF")
    est.add_argument("--context", type=_CONTEXT_TOKENS, default=None, help="tokens per sequence (default: input + output)")
    est.add_argument("--concurrency", type=_CONCURRENCY, default=1, help="requests kept in flight (closed loop)")
    est.add_argument("--request-rate", type=_finite_rate, default=None,
                     help="requests/s arriving at the replica (open loop); latency is reported at this rate instead of --concurrency")
    est.add_argument("--input-tokens", type=_INPUT_TOKENS, default=1000)
    est.add_argument("--output-tokens", type=_OUTPUT_TOKENS, default=300)
    est.add_argument("--kv-cache-dtype", default="auto", choices=("auto", "fp16", "fp8", "q8_0"))
    est.add_argument("--json", action="store_true")
    est.set_defaults(func=_estimate)

    plan = sub.add_parser("plan", help="a ranked recommendation for a constraints file")
    plan.add_argument("--constraints", required=True, help="JSON file of constraints")
    plan.add_argument("--json", action="store_true")
    plan.add_argument("--pdf", default=None, help="also write the plan as a PDF")
    plan.add_argument("--deploy-dir", default=None, help="also write deployment files into this folder")
    plan.add_argument("--save-plan", default=None, help="also write a plan file that imports back into the dashboard")
    plan.set_defaults(func=_plan)

    _register_optional(sub)
    return parser


def _register_optional(sub) -> None:
    """Sub-commands that live in their own modules: the live probe and the fine-tuning planner."""
    from planner.cli.catalog_cmds import register as register_catalog
    from planner.cli.finetune import register as register_finetune
    from planner.cli.monitor import register as register_monitor
    from planner.probe.cli import register as register_probe

    register_probe(sub)
    register_finetune(sub)
    register_catalog(sub)
    register_monitor(sub)  # monitor and quality


def _user_catalog() -> Catalog:
    """The shipped catalogue with the models the user added (`add-model`)."""
    from planner.catalog.user_models import with_user_models

    return with_user_models(load_catalog())


def _catalog(args: argparse.Namespace) -> int:
    catalog = _user_catalog()
    records = _records(catalog, args.kind)
    if args.json:
        json.dump(records, sys.stdout, indent=2, default=str)
        print()
    else:
        for record in records:
            print(record.get("id") or f"{record.get('gpu')} {record.get('provider')}")
    return 0


def _records(catalog: Catalog, kind: str) -> list[dict]:
    tables = {
        "models": catalog.models.values(),
        "gpus": catalog.gpus.values(),
        "quants": catalog.quants.values(),
        "engines": catalog.engines.values(),
        "apis": catalog.apis.values(),
        "benchmarks": catalog.benchmarks,
    }
    if kind == "gpu-prices":
        return [{"id": f"{p.gpu}/{p.provider}/{p.price_kind}", **p.model_dump(mode="json")} for p in catalog.gpu_prices]
    return [r.model_dump(mode="json") for r in tables[kind]]


def _estimate(args: argparse.Namespace) -> int:
    catalog = _user_catalog()
    model, quant, gpu = catalog.model(args.model), catalog.quant(args.quant), catalog.gpu(args.gpu)
    engine = catalog.engine(args.engine) if args.engine else default_engine(catalog, quant, gpu)
    result = estimate(catalog, model, quant, gpu, engine, gpus=args.gpus, context_tokens=args.context,
                      concurrency=args.concurrency, input_tokens=args.input_tokens, output_tokens=args.output_tokens,
                      kv_cache_dtype=args.kv_cache_dtype, calibrations=_user_calibrations(), request_rate=args.request_rate)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    m, s = result["memory"], result["speed"]
    print(f"{model.name} · {quant.id} · {engine.id} · {args.gpus}× {gpu.name}")
    print(f"memory: weights {m['weights_gib']:.2f} GiB + KV cache {m['kv_cache_gib']:.2f} GiB + overhead {m['overhead_gib']:.2f} GiB "
          f"= {m['total_gib']:.2f} GiB; {m['per_gpu_gib']:.2f} of {m['capacity_gib']:.1f} GiB per GPU -> {'fits' if m['fits'] else 'does NOT fit'}")
    print(f"speed: prefill {s['prefill_tokens_per_s']:,.0f} tokens/s{_band(s, 'prefill_tokens_per_s')}, "
          f"TTFT {s['ttft_s'] * 1000:,.0f} ms{_band(s, 'ttft_s', 1000)}, decode {s['decode_tokens_per_s']:,.1f} tokens/s per stream"
          f"{_band(s, 'decode_tokens_per_s')}, {s['throughput_tokens_per_s']:,.0f} tokens/s aggregate at concurrency {s['concurrency']}"
          f"{_band(s, 'throughput_tokens_per_s')}")
    kv = result["kv_capacity"]
    print(f"KV cache as {engine.id} sizes it: {kv['tokens']:,} tokens ({kv['kv_cache_gib_per_gpu']:.2f} GiB per GPU); "
          f"maximum concurrency at {kv['tokens_per_request']:,} tokens per request: {kv['max_concurrency']:.2f}x")
    print(_load_line(result["load"]))
    if result["support"]["status"] != "supported":
        answer = result["support"]
        print(f"not planned ({answer['status']} in data/engine_support.csv): {answer['reason']} ({answer['source']})")
    print("(ranges: 80% bands from the estimator's leave-one-source-out error, data/accuracy.csv)")
    return 0


def _load_line(load: dict) -> str:
    """Latency under load, or why the replica cannot sustain the load."""
    at = (f"{load['requests_per_s']:g} requests/s" if load["load"] == "rate"
          else f"concurrency {load['concurrency']:g} ({load['requests_per_s']:.2f} requests/s)")
    if not load["stable"]:
        return f"under load at {at}: UNSTABLE, the queue grows without bound: {load['reason']}"
    return (f"under load at {at}: TTFT p50 {load['ttft_p50_s'] * 1000:,.0f} ms, p90 {load['ttft_p90_s'] * 1000:,.0f} ms; "
            f"inter-token {load['itl_s'] * 1000:,.1f} ms; end to end p50 {load['e2e_p50_s']:,.2f} s, p90 {load['e2e_p90_s']:,.2f} s "
            f"({load['running_sequences']:,.1f} sequences decoding, at most {load['max_running_sequences']:,})")


def _band(speed: dict, metric: str, scale: float = 1.0) -> str:
    low, high = speed.get("ranges", {}).get(metric, (None, None))
    return f" ({low * scale:,.0f}–{high * scale:,.0f})" if low is not None else ""


def _plan(args: argparse.Namespace) -> int:
    from planner.plan.recommend import recommend

    constraints = load_constraints(args.constraints)
    plan = recommend(constraints, _user_catalog(), calibrations=_user_calibrations())
    if args.pdf:
        from planner.report.document import write_pdf

        write_pdf(plan, args.pdf)
    if args.deploy_dir:
        from planner.deploy.files import write_deploy_dir

        write_deploy_dir(plan, args.deploy_dir)
    if args.save_plan:
        from planner.plan.planfile import export_plan

        with open(args.save_plan, "w", encoding="utf-8") as handle:
            handle.write(export_plan(plan))
    if args.json:
        json.dump(plan.to_json_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(summary(plan))
    return 0


def _user_calibrations() -> list[dict]:
    """Efficiencies the user measured with `probe --calibrate` (a file they can see and delete)."""
    try:
        from planner.probe.calibration import load_calibrations
    except ImportError:
        return []
    return load_calibrations()


def _deployment_lines(plan) -> list[str]:
    """What an architect reads before signing: the checkpoint, the image, what the month pays for, hidden tokens."""
    from planner.deploy.layout import DeploymentError, layout, needs_prequantized

    top = plan.recommendation
    out = []
    try:
        lay = layout(plan)
        file = f" ({lay.checkpoint_file})" if lay.checkpoint_file and lay.is_gguf else ""
        if lay.checkpoint_repo:
            where = lay.checkpoint_repo + file
        elif lay.is_gguf:
            where = f"{lay.model}, converted to GGUF by llama.cpp's convert_hf_to_gguf.py (prepare-gguf.sh)"
        elif needs_prequantized(lay):
            where = f"none published in {lay.quant}: you quantize {lay.model}"
        else:
            where = f"{lay.model} ({lay.quant} made by the engine on load)"
        out.append(f"  checkpoint: {where}")
        note = (lay.image_note or "install the engine natively").removeprefix("no container: ")
        out.append(f"  image: {lay.image or 'none (no container): ' + note}")
    except DeploymentError:
        pass
    cost = top.cost
    if cost.mode == "own":
        parts = (f"power ${cost.power_usd_per_month:,.0f} + space ${cost.operations_usd_per_month:,.0f}"
                 if cost.power_counted else "no power figure published: power and space not counted")
        if cost.capital_sunk:
            value = cost.capital_usd_per_month * plan.assumptions.amortisation_months
            out.append(f"  cost: ${cost.usd_per_month:,.0f}/month to run ({parts}); the hardware is yours, its purchase sunk"
                       + (f" (${value:,.0f} at the listing used)" if value else " (no purchase price listed)"))
        else:
            out.append(f"  cost: ${cost.usd_per_month:,.0f}/month = purchase of {cost.gpu_count} GPU(s) ${cost.capital_usd_per_month:,.0f} "
                       f"over {plan.assumptions.amortisation_months:g} months + {parts}")
    else:
        out.append(f"  cost: ${cost.usd_per_month:,.0f}/month = {cost.gpu_count} GPU(s) × ${cost.usd_per_gpu_hour:,.2f}/hour ({cost.price_source})"
                   + (f"; ${cost.usd_per_month_high:,.0f}/month at the top of that price range" if cost.usd_per_month_high else ""))
    hidden = top.reasoning.get("reasoning_tokens_per_request") if top.reasoning else 0
    if hidden:
        out.append(f"  reasoning: ~{hidden:,} hidden tokens per request in its {top.reasoning['mode']} mode; first answer token "
                   f"~{top.reasoning['first_answer_token_s']:.1f} s")
    return out


def per_user_at_peak(speed) -> str:
    """Tokens/s each user gets at the peak (the replica's sequences in flight), its band, and one stream's alone:
    the figure a user sees at the busiest hour first, the idle one beside it."""
    low, high = (speed.ranges or {}).get("decode_tokens_per_s_at_concurrency", (None, None))
    band = f"{low:,.0f}–{high:,.0f}; " if low is not None else ""
    return (f"{speed.decode_tokens_per_s_at_concurrency:,.0f} tokens/s per user at the peak "
            f"({band}{speed.decode_tokens_per_s:,.0f} alone)")


def summary(plan) -> str:
    """A few lines a person reads in a terminal."""
    lines = [f"verdict: {plan.verdict}"] + [f"  {r}" for r in plan.verdict_reasons]
    if plan.objective.get("rule"):
        lines.append(f"objective: {plan.objective['rule']} (capability: {plan.objective.get('benchmark')})")
    top = plan.recommendation
    if top:
        lines.append(
            f"top pick: {top.model_name} · {top.quant} · {top.engine} · {top.gpus}× {top.gpu_name} × {top.replicas} replica(s) · "
            f"${top.cost.usd_per_month:,.0f}/month · TTFT {top.speed.ttft_s * 1000:,.0f} ms · {per_user_at_peak(top.speed)}"
        )
        lines += _deployment_lines(plan)
        for alt in plan.alternatives[:5]:
            lines.append(f"  alt: {alt.model_name} · {alt.quant} · {alt.engine} · {alt.gpus}× {alt.gpu_name} × {alt.replicas} · ${alt.cost.usd_per_month:,.0f}/month")
    if plan.fine_tuning:
        ft = plan.fine_tuning
        mem = ft["plan"]["memory"]
        lines.append(f"fine-tuning ({ft['method']}): {ft['gpus']}× {ft['gpu']}, {mem['total_per_gpu_gib']:.1f} GiB per GPU, "
                     f"{ft['plan']['tokens'] * ft['plan']['epochs'] / 1e6:,.0f} M tokens in {ft['plan']['time_hours']:.2f} h, "
                     f"${ft['plan']['cost_usd']:,.2f}")
    for out in plan.ruled_out[:10]:
        lines.append(f"ruled out: {out.model_name}: {out.reason}")
    for part in ("more_capable", "cheaper"):
        if part in plan.decision:
            lines.append(f"why not: {plan.decision[part]['why']}")
    if plan.idle_hardware:
        lines.append(f"idle: {plan.idle_hardware}")
    if plan.oldest_price:
        from planner.catalog.staleness import describe

        lines.append(describe(plan.oldest_price))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
