"""The `probe` subcommand: `python -m planner probe ...` or `python -m planner.probe ...`.

Exit codes: 0 measured (even with some failed requests: faults are results, and a run the run
limit stopped early keeps what it measured, `stopped_reason` "run_timeout");
1 the endpoint could not be used at all (one line on stderr names why);
2 bad arguments, an unreadable plan, or a host refused by the allow-list;
3 the run limit (--run-timeout-s) ended the run before any request finished: the result is printed
all the same, with the tokens received so far (`partial_output_tokens`, the warm-up's `output_tokens`).
The API key is read from an environment variable only, never from the
command line, where other users could see it in the process list.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.cli_args import non_negative_int, positive_float, positive_int
from planner.probe.calibration import calibration_entry, save_calibration
from planner.probe.compare import with_comparison
from planner.probe.config import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_CONCURRENCY,
    DEFAULT_RUN_TIMEOUT_S,
    MAX_STREAMS,
    ProbeConfig,
)
from planner.probe.endpoint import Endpoint, check_host_allowed
from planner.probe.faults import HostNotAllowedError, ProbeConfigError, RequestFailed
from planner.probe.redaction import Redactor
from planner.probe.report import ProgressLine, format_table
from planner.probe.results import ProbeResult
from planner.probe.runner import build_redactor, run_probe
from planner.probe.verify import DEFAULT_ATTAINMENT, MULTIPLES, plan_document, verification, verify_config, \
    workload_from_plan

EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _concurrency_list(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give levels like 1,2,4,8")
    levels = tuple(positive_int(p) for p in parts)
    if max(levels) > MAX_STREAMS:
        raise argparse.ArgumentTypeError(f"concurrency above {MAX_STREAMS:,} is not supported")
    return levels


def _rate_list(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give rates like 0.5,1,2")
    return tuple(positive_float(p) for p in parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The probe's options, shared by the `probe` subcommand and `python -m planner.probe`."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="endpoint URL, e.g. http://127.0.0.1:8000/v1")
    target.add_argument("--import", dest="import_file", type=Path, metavar="FILE",
                        help="read a GuideLLM, vLLM bench (--save-result), AIPerf or GenAI-Perf result instead of "
                             "measuring (compare it with --plan, store it with --calibrate)")
    parser.add_argument("--api", choices=("openai", "ollama"),
                        help="API type (default: from the URL: port 11434 or /api → ollama, else openai)")
    parser.add_argument("--model", help="model name (default: the first model the server lists)")
    parser.add_argument("--endpoint", choices=("chat", "completions"), default="chat",
                        help="chat or plain completions (default: chat)")
    parser.add_argument("--concurrency", type=_concurrency_list, default=None,
                        help="comma-separated closed-loop concurrency levels (default: 1,2,4,8; with --plan and "
                             "no --concurrency or --rates, the plan's rate sweep is run instead)")
    parser.add_argument("--rates", type=_rate_list, default=None,
                        help="open-loop request rates to sweep, requests/s, e.g. 0.5,1,2 (instead of --concurrency)")
    parser.add_argument("--arrival", choices=("poisson", "constant"), default="poisson",
                        help="open-loop arrivals: poisson (default) or constant rate")
    parser.add_argument("--burstiness", type=positive_float, default=1.0,
                        help="gamma shape of arrival gaps as vLLM bench's --burstiness (1 = Poisson; <1 burstier)")
    parser.add_argument("--level-duration-s", type=positive_float, default=None,
                        help="open loop: seconds of arrivals per level (requests = rate × this; else --requests)")
    parser.add_argument("--max-in-flight", type=positive_int, default=None,
                        help="open loop: cap on streams in flight (default: none, as real users)")
    parser.add_argument("--lengths", choices=("fixed", "normal", "lognormal"), default="fixed",
                        help="per-request prompt and output lengths around the means (default: fixed)")
    parser.add_argument("--length-cv", type=float, default=0.25,
                        help="std ÷ mean of drawn lengths (default 0.25)")
    parser.add_argument("--seed", type=int, default=0, help="seed of arrivals and lengths (default 0)")
    parser.add_argument("--slo-ttft-s", type=positive_float, default=None,
                        help="target TTFT for goodput (default: the plan's max_ttft_s)")
    parser.add_argument("--slo-tokens-per-s", type=positive_float, default=None,
                        help="target per-stream tokens/s for goodput (default: the plan's min_tokens_per_s)")
    parser.add_argument("--slo-attainment", type=float, default=None,
                        help="share of requests that must meet both targets (default 0.9)")
    parser.add_argument("--multiples", type=_rate_list, default=None,
                        help="verify: multiples of the plan's peak to sweep (default 0.25,0.5,1,1.5,2)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="client processes, each with its own event loop (default 1; more when one core "
                             "cannot take in the streams: see bench/probe_overhead.py)")
    parser.add_argument("--locust-workers", type=positive_int, default=None,
                        help="run each --concurrency level on Locust's distributed mode: a master and this many "
                             "workers on this machine (planner/probe/locust_load.py; start more on other machines)")
    parser.add_argument("--locust-run-time-s", type=positive_float, default=20.0,
                        help="seconds each Locust level runs (default 20)")
    parser.add_argument("--per-replica", action="store_true",
                        help="verify: the URL is one replica, so it gets the plan's peak ÷ its replicas")
    parser.add_argument("--requests", type=positive_int, default=16,
                        help="requests per level, at least the level's concurrency (default: 16)")
    parser.add_argument("--prompt-tokens", type=positive_int, default=256,
                        help="prompt length in tokens (default: 256)")
    parser.add_argument("--max-tokens", type=positive_int, default=128,
                        help="output tokens per request (default: 128)")
    parser.add_argument("--timeout-s", type=positive_float, default=60.0,
                        help="per-request read timeout: seconds without a data line; keep-alive comments do not "
                             "count (default: 60)")
    parser.add_argument("--request-timeout-s", type=positive_float, default=None,
                        help="most seconds one request may last, however the server keeps sending (default: "
                             "--timeout-s + 1 s per output token asked)")
    parser.add_argument("--run-timeout-s", type=positive_float, default=DEFAULT_RUN_TIMEOUT_S,
                        help=f"stop the whole run after this many seconds, keeping partial results "
                             f"(default: {DEFAULT_RUN_TIMEOUT_S:g})")
    parser.add_argument("--warmup", type=non_negative_int, default=1,
                        help="warm-up requests before measuring (default: 1)")
    parser.add_argument("--api-key-env", default=DEFAULT_API_KEY_ENV,
                        help=f"environment variable holding the API key (default: {DEFAULT_API_KEY_ENV})")
    parser.add_argument("--plan", type=Path, help="plan JSON (from `planner plan --json`) to compare with")
    parser.add_argument("--calibrate", action="store_true",
                        help="store the measured decode efficiency for this engine+GPU (needs --plan)")
    parser.add_argument("--list-models", action="store_true", help="list the server's models and exit")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `probe` subcommand to an argparse subparsers object; its `func` is run_cli."""
    parser = subparsers.add_parser(
        "probe", help="load-test a running LLM endpoint and compare with a plan",
        description="Load-test a running OpenAI-compatible or Ollama endpoint: warm up, sweep "
                    "concurrency levels, and report TTFT, inter-token latency and throughput.")
    add_arguments(parser)
    parser.set_defaults(func=run_cli)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"probe: {message}", file=sys.stderr)
    return code


def _load_plan(path: Path) -> dict[str, Any]:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProbeConfigError(f"cannot read plan {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ProbeConfigError(f"plan {path} is not valid JSON: {exc}") from None
    try:
        return plan_document(plan)  # fails early, before any load is sent
    except ProbeConfigError as exc:
        raise ProbeConfigError(f"plan {path}: {exc}") from None


def _list_models(config: ProbeConfig) -> int:
    import requests

    from planner.probe.factory import client_for

    endpoint = Endpoint.parse(config.url, config.api)
    check_host_allowed(endpoint.host)
    client = client_for(config, model=None, redactor=build_redactor(config), endpoint=endpoint)
    with requests.Session() as session:
        try:
            models = client.list_models(session)
        except RequestFailed as exc:
            return _fail(f"cannot list models at {endpoint.display_url}: {exc.kind.value} ({exc.message})",
                         EXIT_UNREACHABLE)
    for name in models:
        print(name)
    return EXIT_OK


def run_cli(args: argparse.Namespace) -> int:
    """Run the probe from parsed arguments; returns the process exit code."""
    if args.calibrate and args.plan is None:
        return _fail("--calibrate needs --plan (the plan says which engine and GPU to calibrate)", EXIT_USAGE)
    if args.concurrency is not None and args.rates is not None:
        return _fail("give --concurrency (closed loop) or --rates (open loop), not both", EXIT_USAGE)
    attainment = DEFAULT_ATTAINMENT if args.slo_attainment is None else args.slo_attainment
    if not 0 < attainment <= 1:
        return _fail(f"--slo-attainment must be a share between 0 and 1, got {attainment:g}", EXIT_USAGE)
    verify = args.plan is not None and args.concurrency is None and args.rates is None
    workload = None
    try:
        plan = _load_plan(args.plan) if args.plan is not None else None
        if args.import_file is not None:
            return _run_import(args, plan, attainment)
        if verify:
            workload = workload_from_plan(plan, per_replica=args.per_replica)
        config = ProbeConfig(
            url=args.url, api=args.api, model=args.model, endpoint=args.endpoint,
            concurrency=args.concurrency or DEFAULT_CONCURRENCY, rates=args.rates, requests_per_level=args.requests,
            prompt_tokens=args.prompt_tokens, max_tokens=args.max_tokens, timeout_s=args.timeout_s,
            run_timeout_s=args.run_timeout_s, request_timeout_s=args.request_timeout_s,
            warmup_requests=args.warmup, api_key_env=args.api_key_env,
            arrival=args.arrival, burstiness=args.burstiness, level_duration_s=args.level_duration_s,
            max_in_flight=args.max_in_flight, lengths=args.lengths, length_cv=args.length_cv, seed=args.seed,
            slo_ttft_s=args.slo_ttft_s, slo_tokens_per_s=args.slo_tokens_per_s, workers=args.workers,
        )
        if workload is not None:
            targets = {k: v for k, v in (("slo_ttft_s", args.slo_ttft_s), ("slo_tokens_per_s", args.slo_tokens_per_s))
                       if v is not None}
            config = verify_config(config, workload, multiples=args.multiples or MULTIPLES, **targets)
    except ProbeConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _fail(f"invalid setting {where}: {first.get('msg')}", EXIT_USAGE)

    redact: Redactor = build_redactor(config)
    if args.list_models:
        try:
            return _list_models(config)
        except (ProbeConfigError, HostNotAllowedError) as exc:
            return _fail(redact(exc), EXIT_USAGE)

    progress = ProgressLine(sys.stderr, interactive=sys.stderr.isatty())
    show_progress = progress.interactive or not args.json
    try:
        if args.locust_workers:
            if config.open_loop or workload is not None:
                return _fail("--locust-workers runs closed-loop --concurrency levels only", EXIT_USAGE)
            from planner.probe.distributed import run_locust

            result = run_locust(config, workers=args.locust_workers, run_time_s=args.locust_run_time_s)
            if not result.reached_endpoint and not result.levels:
                return _fail(f"Locust sent no request: {'; '.join(result.settings.get('notes') or [])}",
                             EXIT_UNREACHABLE)
        else:
            result = run_probe(config, on_progress=progress if show_progress else None)
    except (ProbeConfigError, HostNotAllowedError) as exc:
        return _fail(redact(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)

    if plan is not None and workload is None:
        result = with_comparison(result, plan)
    if workload is not None and result.reached_endpoint:
        result = result.model_copy(update={"verification": verification(result, workload, plan,
                                                                        attainment=attainment)})
    calibration_note = None
    calibration_failed = False
    if args.calibrate and result.reached_endpoint:
        try:
            path = save_calibration(calibration_entry(plan, result))
            calibration_note = f"calibration saved to {path}"
        except ProbeConfigError as exc:
            calibration_note, calibration_failed = f"not calibrated: {exc}", True

    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif result.reached_endpoint or result.stopped_reason == "run_timeout":
        print(format_table(result))
    if calibration_note:
        print(f"probe: {calibration_note}", file=sys.stderr)

    if not result.reached_endpoint and result.stopped_reason == "run_timeout":
        return _fail(f"the run limit ({config.run_timeout_s:g} s, --run-timeout-s) ended the run before any "
                     f"request finished; {_tokens_received(result)} output tokens received are in the result",
                     EXIT_PARTIAL)
    if not result.reached_endpoint:
        err = result.fatal_error
        if err is not None:
            reason = f"{err.kind} ({err.message})" if err.message else err.kind
        else:
            reason = result.stopped_reason or "no request succeeded"
        return _fail(f"cannot use {result.url}: {reason}", EXIT_UNREACHABLE)
    return EXIT_UNREACHABLE if calibration_failed else EXIT_OK


def _tokens_received(result: ProbeResult) -> int:
    """Output tokens the run received, failed and cancelled requests and the warm-up included."""
    warm = result.warmup.output_tokens if result.warmup is not None else 0
    return warm + sum(level.output_tokens + level.partial_output_tokens for level in result.levels)


def _run_import(args: argparse.Namespace, plan: dict[str, Any] | None, attainment: float) -> int:
    """--import: a peer tool's result in the probe's model, compared and calibrated like a run."""
    from planner.probe.imports import import_result_file

    result = import_result_file(args.import_file)  # ProbeConfigError (exit 2) when it is not one
    if plan is not None:
        result = with_comparison(result, plan)
        if any(level.request_rate_rps is not None for level in result.levels):
            workload = workload_from_plan(plan, per_replica=args.per_replica)
            result = result.model_copy(update={"verification": verification(result, workload, plan,
                                                                            attainment=attainment)})
    note, failed = None, False
    if args.calibrate:
        try:
            note = f"calibration saved to {save_calibration(calibration_entry(plan, result))}"
        except ProbeConfigError as exc:
            note, failed = f"not calibrated: {exc}", True
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_table(result))
    if note:
        print(f"probe: {note}", file=sys.stderr)
    return EXIT_UNREACHABLE if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m planner.probe` (also accepts a leading `probe` word)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["probe"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m planner.probe", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(args)
