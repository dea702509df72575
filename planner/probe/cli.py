"""The `probe` subcommand: `python -m planner probe ...` or `python -m planner.probe ...`.

Exit codes: 0 measured (even with some failed requests: faults are results);
1 the endpoint could not be used at all (one line on stderr names why);
2 bad arguments, an unreadable plan, or a host refused by the allow-list.
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
from planner.probe.compare import plan_parts, with_comparison
from planner.probe.config import DEFAULT_API_KEY_ENV, ProbeConfig
from planner.probe.endpoint import Endpoint, check_host_allowed
from planner.probe.faults import HostNotAllowedError, ProbeConfigError, RequestFailed
from planner.probe.redaction import Redactor
from planner.probe.report import ProgressLine, format_table
from planner.probe.runner import build_redactor, run_probe

EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2


def _concurrency_list(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give levels like 1,2,4,8")
    levels = tuple(positive_int(p) for p in parts)
    if max(levels) > 1024:
        raise argparse.ArgumentTypeError("concurrency above 1024 is not supported")
    return levels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The probe's options, shared by the `probe` subcommand and `python -m planner.probe`."""
    parser.add_argument("--url", required=True, help="endpoint URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api", choices=("openai", "ollama"),
                        help="API type (default: from the URL: port 11434 or /api → ollama, else openai)")
    parser.add_argument("--model", help="model name (default: the first model the server lists)")
    parser.add_argument("--endpoint", choices=("chat", "completions"), default="chat",
                        help="chat or plain completions (default: chat)")
    parser.add_argument("--concurrency", type=_concurrency_list, default=(1, 2, 4, 8),
                        help="comma-separated concurrency levels (default: 1,2,4,8)")
    parser.add_argument("--requests", type=positive_int, default=16,
                        help="requests per level, at least the level's concurrency (default: 16)")
    parser.add_argument("--prompt-tokens", type=positive_int, default=256,
                        help="prompt length in tokens (default: 256)")
    parser.add_argument("--max-tokens", type=positive_int, default=128,
                        help="output tokens per request (default: 128)")
    parser.add_argument("--timeout-s", type=positive_float, default=60.0,
                        help="per-request read timeout in seconds (default: 60)")
    parser.add_argument("--run-timeout-s", type=positive_float, default=None,
                        help="stop the whole run after this many seconds, keeping partial results")
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
    plan_parts(plan)  # fails early, before any load is sent
    return plan


def _list_models(config: ProbeConfig) -> int:
    import requests

    from planner.probe.factory import make_client

    endpoint = Endpoint.parse(config.url, config.api)
    check_host_allowed(endpoint.host)
    redact = build_redactor(config)
    client = make_client(endpoint, model=None, api_key=config.resolved_api_key(), redactor=redact)
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
    try:
        plan = _load_plan(args.plan) if args.plan is not None else None
        config = ProbeConfig(
            url=args.url, api=args.api, model=args.model, endpoint=args.endpoint,
            concurrency=args.concurrency, requests_per_level=args.requests,
            prompt_tokens=args.prompt_tokens, max_tokens=args.max_tokens, timeout_s=args.timeout_s,
            run_timeout_s=args.run_timeout_s, warmup_requests=args.warmup, api_key_env=args.api_key_env,
        )
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
        result = run_probe(config, on_progress=progress if show_progress else None)
    except (ProbeConfigError, HostNotAllowedError) as exc:
        return _fail(redact(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)

    if plan is not None:
        result = with_comparison(result, plan)
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
    elif result.reached_endpoint:
        print(format_table(result))
    if calibration_note:
        print(f"probe: {calibration_note}", file=sys.stderr)

    if not result.reached_endpoint:
        err = result.fatal_error
        if err is not None:
            reason = f"{err.kind} ({err.message})" if err.message else err.kind
        else:
            reason = result.stopped_reason or "no request succeeded"
        return _fail(f"cannot use {result.url}: {reason}", EXIT_UNREACHABLE)
    return EXIT_UNREACHABLE if calibration_failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m planner.probe` (also accepts a leading `probe` word)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["probe"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m planner.probe", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(args)
