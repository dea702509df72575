"""Plain-text rendering of a ProbeResult for the terminal, and a progress line."""

from __future__ import annotations

from typing import TextIO

from planner.probe.results import LevelResult, ProbeResult, ProgressEvent


def _s(value: float | None) -> str:
    """Seconds, or '-' when not measured."""
    if value is None:
        return "-"
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _r(value: float | None) -> str:
    """A rate, or '-' when not measured."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


_COLUMNS = ("conc", "ok/req", "errors", "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50", "ITL p90",
            "tok/s/stream", "agg tok/s", "req/s")


_RATE_COLUMNS = ("offered/s", "in flight", "ok/req", "errors", "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50",
                 "ITL p90", "tok/s/stream", "agg tok/s", "req/s", "SLO met", "goodput/s")


def _pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _level_row(level: LevelResult) -> tuple[str, ...]:
    if level.mode == "rate":
        slo = level.slo
        return (f"{level.request_rate_rps:.3g}", str(level.max_in_flight), *_level_row_common(level)[1:],
                _pct_text(slo.attainment if slo else None),
                "-" if slo is None or slo.goodput_rps is None else f"{slo.goodput_rps:.3g}")
    return _level_row_common(level)


def _level_row_common(level: LevelResult) -> tuple[str, ...]:
    return (
        str(level.concurrency),
        f"{level.succeeded}/{level.requests}",
        str(level.errors),
        _s(level.ttft_s.p50), _s(level.ttft_s.p90), _s(level.ttft_s.p99),
        _s(level.inter_token_s.p50), _s(level.inter_token_s.p90),
        _r(level.output_tokens_per_s_per_stream.p50),
        _r(level.aggregate_output_tokens_per_s),
        "-" if level.requests_per_s is None else f"{level.requests_per_s:.2f}",
    )


def format_table(result: ProbeResult) -> str:
    """A readable multi-line report: header, level table, errors, telemetry, comparison."""
    lines = [f"Probe of {result.url} ({result.api}, {result.endpoint}) model {result.model or '?'}"]
    prompt = result.prompt or {}
    lines.append(f"Prompt ≈ {prompt.get('measured_tokens') or prompt.get('target_tokens')} tokens "
                 f"({prompt.get('method', '?')}), max {result.settings.get('max_tokens')} output tokens")
    if result.source != "probe":
        lines.append(f"Imported from {result.source}: {result.settings.get('file', '')}")
    if result.levels:
        columns = _RATE_COLUMNS if result.mode == "rate" else _COLUMNS
        rows = [columns] + [_level_row(level) for level in result.levels]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        lines.append("")
        for row in rows:
            lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        for level in result.levels:
            if level.errors:
                kinds = ", ".join(f"{kind} ×{n}" for kind, n in level.errors_by_kind.items())
                example = next(iter(level.error_examples.values()), "")
                lines.append(f"Errors at concurrency {level.concurrency}: {kinds}"
                             + (f" — e.g. {example}" if example else ""))
        saturated = [level.concurrency for level in result.levels if level.client_saturated]
        if saturated:
            lines.append(f"Note: the probe itself was CPU-bound at concurrency {', '.join(map(str, saturated))}; "
                         "throughput there may be limited by this client, not the server.")
    lines.append("")
    if result.client_cpu_s_per_token is not None:
        lines.append(f"Client CPU: {result.client_cpu_s_per_token * 1e6:.0f} µs per token "
                     f"({result.client_cpu_s:.2f} s over the run)")
    telemetry = result.gpu_telemetry
    if telemetry.available:
        for gpu in telemetry.gpus:
            lines.append(f"GPU {gpu.index} ({gpu.name or '?'}): utilisation {gpu.utilisation_pct.mean:.0f}% mean "
                         f"({gpu.utilisation_pct.max:.0f}% max), memory {gpu.memory_used_mib.max:,.0f} MiB max")
    else:
        lines.append(f"GPU telemetry: not available ({telemetry.reason})")
    partial = sum(level.partial_output_tokens for level in result.levels)
    partial += result.warmup.output_tokens if result.warmup is not None and not result.warmup.succeeded else 0
    if partial:
        lines.append(f"Kept: {partial:,} output tokens from requests a fault, a limit or the run timeout ended "
                     "(in the request log, not in the percentiles)")
    waits = sum(level.backoff_waits for level in result.levels)
    if waits:
        lines.append(f"Backed off {waits} times: the server asked to retry later (429/503, Retry-After)")
    if result.stopped_reason:
        lines.append(f"Stopped early: {result.stopped_reason}")
    if result.fatal_error:
        lines.append(f"Error: {result.fatal_error.kind}: {result.fatal_error.message}")
    queued = [level for level in result.levels if level.server_queue_s is not None]
    for level in queued:
        lines.append(f"Server queue wait at {level.concurrency} streams: p50 {_s(level.server_queue_s.p50)}, "
                     f"p90 {_s(level.server_queue_s.p90)} of TTFT p90 {_s(level.ttft_s.p90)} "
                     "(waiting for one of Ollama's OLLAMA_NUM_PARALLEL slots)")
    if result.comparison:
        lines.append("")
        lines.append("Compared with the plan:")
        for row in result.comparison:
            lines.append(f"  [{row.verdict}] {row.sentence}")
    verification = result.verification
    if verification:
        lines.append("")
        lines.append(f"Verify the plan [{verification['verdict']}]: {verification['sentence']}")
        for advice in verification.get("advice") or []:
            lines.append(f"  - {advice}")
    return "\n".join(lines)


class ProgressLine:
    """Writes a single carriage-return progress line (for a terminal) or one line per level."""

    def __init__(self, stream: TextIO, *, interactive: bool):
        self.stream = stream
        self.interactive = interactive
        self._width = 0

    def _write_line(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "finished":
            if self.interactive and self._width:
                self.stream.write("\n")
                self.stream.flush()
            return
        if event.kind == "warmup":
            if self.interactive:
                self._write_line(f"warm-up {event.done}/{event.total}  {event.elapsed_s:.1f} s")
            return
        level = event.level
        errors = level.errors if level else 0
        what = (f"{event.request_rate_rps:g} requests/s" if event.request_rate_rps is not None
                else f"concurrency {event.concurrency}")
        text = (f"level {(event.level_index or 0) + 1}/{event.level_count} ({what}): "
                f"{event.done}/{event.total} requests, {errors} errors, {event.elapsed_s:.1f} s")
        if self.interactive:
            self._write_line(text)
        elif event.kind == "level":
            self.stream.write(text + "\n")
            self.stream.flush()
