"""The `monitor` and `quality` subcommands.

    python -m planner monitor --plan plan.json (--metrics-url URL ... | --prometheus URL) [--window 5m] [--json]
                              [--alerts-dir DIR]
    python -m planner quality --url URL --samples FILE.jsonl [--against URL2] [--model NAME] [--json]

Exit codes as the rest of the CLI: 0 a report, 1 an endpoint or Prometheus that could not be read,
2 invalid input (a bad plan, window or sample file; the message names the field or the line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from planner.cli_args import positive_float, positive_int

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
SAMPLES_SHIPPED = Path(__file__).resolve().parents[2] / "data" / "quality_samples.jsonl"


def duration_s(text: str) -> float:
    """'90', '90s', '5m', '1h' -> seconds."""
    found = _DURATION.match(text.strip())
    if not found or float(found.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 60s, 5m or 1h, got {text!r}")
    return float(found.group(1)) * _UNIT_S[found.group(2)]


def register(sub) -> None:
    mon = sub.add_parser("monitor", help="judge a running deployment's own metrics against its plan",
                         description="Read the engines' /metrics (or a Prometheus server) over a window and report "
                                     "TTFT, inter-token latency, traffic, queue, KV cache, errors and GPUs against the plan.")
    mon.add_argument("--plan", required=True, help="the plan (JSON of `planner plan --json`, or a plan file)")
    where = mon.add_mutually_exclusive_group(required=True)
    where.add_argument("--metrics-url", action="append", default=[], metavar="URL",
                       help="an engine's or GPU exporter's /metrics URL; repeat for each replica and exporter")
    where.add_argument("--prometheus", metavar="URL", help="a Prometheus server to query (PromQL over its HTTP API)")
    mon.add_argument("--window", type=duration_s, default=60.0,
                     help="how long to watch the endpoints, or how far back Prometheus looks (default 60s; e.g. 5m)")
    mon.add_argument("--interval", type=duration_s, default=None, help="scrape every ... (direct reading only)")
    mon.add_argument("--engine", choices=("vllm", "sglang", "tensorrt-llm", "llama.cpp"),
                     help="the engine's metric names to read (default: detected from the names; "
                          "with Prometheus the plan's engine is tried first)")
    mon.add_argument("--max-error-rate", type=positive_float, default=0.01, help="share of failed requests allowed")
    mon.add_argument("--no-replan", action="store_true", help="skip the calibrated replan")
    mon.add_argument("--alerts-dir", default=None, help="also write the plan's Prometheus rules and Grafana dashboard here")
    mon.add_argument("--json", action="store_true")
    mon.set_defaults(func=_monitor)

    qual = sub.add_parser("quality", help="send sample prompts with checks and report the pass rate",
                          description="Send each sample's prompt to an OpenAI-compatible endpoint, check the reply, "
                                      "and report the pass rate with a 95% Wilson interval, latency and failures.")
    qual.add_argument("--url", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    qual.add_argument("--samples", default=str(SAMPLES_SHIPPED),
                      help="JSONL sample file (default: the shipped data/quality_samples.jsonl)")
    qual.add_argument("--against", default=None, metavar="URL2", help="run the same samples here and compare")
    qual.add_argument("--model", default=None, help="model name (default: the first of /models)")
    qual.add_argument("--against-model", default=None, help="model name at URL2 (default: its first)")
    qual.add_argument("--api-key-env", default="PLANNER_PROBE_API_KEY", help="environment variable holding an API key")
    qual.add_argument("--concurrency", type=positive_int, default=4)
    qual.add_argument("--json", action="store_true")
    qual.set_defaults(func=_quality)


def _monitor(args: argparse.Namespace) -> int:
    from planner.monitor import MonitorError, load_plan, monitor
    from planner.monitor.alerts import monitoring_files

    plan = load_plan(args.plan)
    if args.alerts_dir:
        target = Path(args.alerts_dir)
        target.mkdir(parents=True, exist_ok=True)
        written = monitoring_files(plan)
        for name, text in written.items():
            (target / name).write_text(text, encoding="utf-8")
        names = ", ".join(str(target / n) for n in written) or "nothing: the plan's engine publishes no metrics"
        print(f"wrote {names}", file=sys.stderr)
    try:
        report = monitor(plan, metrics_urls=args.metrics_url, prometheus_url=args.prometheus, window_s=args.window,
                         interval_s=args.interval, engine=args.engine, max_error_rate=args.max_error_rate,
                         replan=not args.no_replan)
    except MonitorError as exc:
        if str(exc).startswith(("cannot read", "cannot query")) or "answered HTTP" in str(exc):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    if args.json:
        json.dump(report.to_json_dict(), sys.stdout, indent=2)
        print()
        return 0
    obs = report.observation
    print(f"{report.plan}: {obs.engine} via {obs.source}, {obs.window_s:.0f} s window")
    for check in report.checks:
        print(f"[{check.verdict}] {check.sentence}")
        if check.advice:
            print(f"    -> {check.advice}")
    if report.replan:
        print(f"replan: {report.replan}")
    return 0


def _quality(args: argparse.Namespace) -> int:
    from planner.quality import QualityError, compare, format_report, load_samples, run_quality
    from planner.quality.run import base_url

    for url in filter(None, (args.url, args.against)):
        base_url(url)  # a malformed URL is bad input (exit 2), not an unreachable endpoint
    samples = load_samples(args.samples)
    key = os.environ.get(args.api_key_env) or None
    try:
        first = run_quality(args.url, samples, model=args.model, api_key=key, concurrency=args.concurrency)
        second = (run_quality(args.against, samples, model=args.against_model, api_key=key, concurrency=args.concurrency)
                  if args.against else None)
    except QualityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    comparison = compare(first, second) if second else None
    if args.json:
        doc = comparison.model_dump(mode="json") if comparison else first.model_dump(mode="json")
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0
    print(format_report(first))
    if second and comparison:
        print(format_report(second))
        print(comparison.sentence)
    return 0
