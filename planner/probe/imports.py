"""Results of the load tools people already run, read into the probe's result model.

Each becomes a `ProbeResult` (`source` says which tool), so it is compared with a plan, verified
and fed into calibration exactly like a probe run. Metrics keep the definitions of the tool that
measured them, mapped onto the probe's fields:

| probe field | GuideLLM (benchmarks JSON) | vLLM `bench serve --save-result` | AIPerf / GenAI-Perf profile export |
| --- | --- | --- | --- |
| ttft_s | time_to_first_token_ms | *_ttft_ms | time_to_first_token |
| inter_token_s | inter_token_latency_ms (per request: (E2E − TTFT) ÷ (output − 1)) | *_itl_ms (every gap) | inter_token_latency (per request, as GuideLLM) |
| tpot_s | time_per_output_token_ms (E2E ÷ output) | *_tpot_ms ((E2E − TTFT) ÷ (output − 1)) | — |
| e2e_s | request_latency | *_e2el_ms | request_latency |
| output_tokens_per_s_per_stream p50 | 1 ÷ ITL p50 | 1 ÷ TPOT p50 | output_token_throughput_per_user |
| aggregate tokens/s, requests/s | output_tokens_per_second, requests_per_second (mean) | output_throughput, request_throughput | output_token_throughput, request_throughput |
| errors | request_totals.errored (+ incomplete as cancelled) | failed | error_request_count |

Latency percentiles are the tools' percentiles of successful requests; errors are counted apart.
A file that is none of these gets one line naming what was looked for (ProbeConfigError, exit 2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from planner.probe.faults import ProbeConfigError
from planner.probe.results import GpuTelemetry, LevelResult, Percentiles, ProbeResult

MAX_BYTES = 200_000_000
FORMATS = "a GuideLLM benchmarks JSON ('benchmarks'), a vLLM `bench serve --save-result` JSON " \
          "('request_throughput', 'mean_ttft_ms') or an AIPerf / GenAI-Perf profile export ('time_to_first_token')"


def import_result_file(path: Path) -> ProbeResult:
    """Read `path` (JSON) as one of the supported formats."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ProbeConfigError(f"{path} is over {MAX_BYTES // 1_000_000} MB; a result file is far smaller")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProbeConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ProbeConfigError(f"{path} is not valid JSON: {exc}") from None
    try:
        return import_result(doc, name=path.name)
    except ProbeConfigError as exc:
        raise ProbeConfigError(f"{path}: {exc}") from None


def detect_format(doc: Any) -> str:
    """guidellm | vllm-bench | aiperf | genai-perf; ProbeConfigError when it is none of them."""
    if isinstance(doc, Mapping):
        if isinstance(doc.get("benchmarks"), list):
            return "guidellm"
        if "request_throughput" in doc and any(k.endswith("_ttft_ms") for k in doc):
            return "vllm-bench"
        if isinstance(doc.get("time_to_first_token"), Mapping):
            return "aiperf" if "aiperf_version" in doc or "schema_version" in doc else "genai-perf"
    if isinstance(doc, list) and doc and all(isinstance(d, Mapping) and detect_format(d) == "vllm-bench" for d in doc):
        return "vllm-bench"
    kind = type(doc).__name__ if not isinstance(doc, Mapping) else "object with fields " + ", ".join(list(doc)[:6])
    raise ProbeConfigError(f"not a result this probe reads (found a JSON {kind}); expected {FORMATS}")


def import_result(doc: Any, *, name: str = "") -> ProbeResult:
    """A peer tool's result document as a ProbeResult."""
    fmt = detect_format(doc)
    if fmt == "guidellm":
        levels, info = _guidellm(doc)
    elif fmt == "vllm-bench":
        levels, info = _vllm_many(doc if isinstance(doc, list) else [doc])
    else:
        levels, info = _aiperf(doc)
    if not levels:
        raise ProbeConfigError("the file holds no benchmark to read")
    return ProbeResult(
        url=str(info.get("url") or ""), api="openai", model=info.get("model"), endpoint=str(info.get("endpoint") or "chat"),
        started_at=str(info.get("started_at") or datetime.now(timezone.utc).isoformat(timespec="seconds")),
        settings={"file": name, "format": fmt}, levels=levels,
        mode="rate" if all(lv.request_rate_rps is not None for lv in levels) else "concurrency",
        gpu_telemetry=GpuTelemetry(available=False, reason=f"imported from {fmt}"), source=fmt,
        wall_s=sum(lv.wall_s for lv in levels),
    )


# -- helpers ---------------------------------------------------------------------------------

def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(part)
    return doc


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def _inverse(value: float | None, scale: float = 1.0) -> float | None:
    """tokens/s from a time per token (ms → scale 1000)."""
    return None if value is None or value <= 0 else scale / value


def _level(**fields: Any) -> LevelResult:
    base: dict[str, Any] = dict(concurrency=0, requests=0, succeeded=0, errors=0, errors_by_kind={}, complete=True,
                                ttft_s=Percentiles(), inter_token_s=Percentiles(),
                                output_tokens_per_s_per_stream=Percentiles(), aggregate_output_tokens_per_s=None,
                                requests_per_s=None, wall_s=0.0, usage_source="imported")
    base.update(fields)
    return LevelResult(**base)


# -- vLLM bench serve ------------------------------------------------------------------------

def _vllm_pcts(doc: Mapping[str, Any], metric: str) -> Percentiles:
    """vLLM writes median_, and p{P}_ for each --metric-percentiles value (default 99), in ms."""
    def at(p: str) -> float | None:
        return _scaled(_num(doc.get(f"p{p}_{metric}_ms")), 1e-3)

    median = _scaled(_num(doc.get(f"median_{metric}_ms")), 1e-3)
    return Percentiles(p50=median if median is not None else at("50"), p90=at("90"), p99=at("99"))


def _vllm_many(docs: list[Mapping[str, Any]]) -> tuple[list[LevelResult], dict[str, Any]]:
    levels = [_vllm(doc) for doc in docs]
    first = docs[0]
    return levels, {"model": first.get("model_id"), "started_at": _vllm_date(first.get("date")),
                    "endpoint": "chat" if "chat" in str(first.get("endpoint_type") or first.get("backend")) else
                    "completions"}


def _vllm_date(text: Any) -> str | None:
    try:
        return datetime.strptime(str(text), "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc).isoformat()
    except ValueError:
        return None


def _vllm(doc: Mapping[str, Any]) -> LevelResult:
    completed = int(_num(doc.get("completed")) or 0)
    total = int(_num(doc.get("num_prompts")) or completed + int(_num(doc.get("failed")) or 0))
    failed = int(_num(doc.get("failed")) if _num(doc.get("failed")) is not None else total - completed)
    rate = doc.get("request_rate")
    rate_rps = _num(rate) if not isinstance(rate, str) else None  # "inf": every request at once
    tpot = _vllm_pcts(doc, "tpot")
    concurrency = _num(doc.get("max_concurrency")) or _num(doc.get("max_concurrent_requests")) or 0
    errors = [e for e in doc.get("errors") or [] if e]
    return _level(
        concurrency=int(concurrency), mode="rate" if rate_rps is not None else "concurrency",
        request_rate_rps=rate_rps,
        arrival=None if rate_rps is None else ("poisson" if _num(doc.get("burstiness")) in (None, 1.0)
                                              else f"gamma (burstiness {doc.get('burstiness')})"),
        requests=total, succeeded=completed, errors=failed,
        errors_by_kind={"server_error": failed} if failed else {},
        error_examples={"server_error": str(errors[0])[:300]} if failed and errors else {},
        ttft_s=_vllm_pcts(doc, "ttft"), inter_token_s=_vllm_pcts(doc, "itl"), tpot_s=tpot, e2e_s=_vllm_pcts(doc, "e2el"),
        # Per-stream decode as vLLM counts it is 1 / TPOT: the median's reciprocal is the median's.
        output_tokens_per_s_per_stream=Percentiles(p50=_inverse(tpot.p50)),
        aggregate_output_tokens_per_s=_num(doc.get("output_throughput")),
        requests_per_s=_num(doc.get("request_throughput")), wall_s=_num(doc.get("duration")) or 0.0,
        prompt_tokens=(_num(doc.get("total_input_tokens")) or 0) / completed if completed else None,
        output_tokens=int(_num(doc.get("total_output_tokens")) or 0),
        max_in_flight=int(_num(doc.get("max_concurrent_requests")) or 0),
    )


# -- AIPerf / GenAI-Perf ---------------------------------------------------------------------

_TIME_SCALE = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "us": 1e-6, "ns": 1e-9}


def _ai_pcts(metric: Any) -> Percentiles:
    if not isinstance(metric, Mapping):
        return Percentiles()
    scale = _TIME_SCALE.get(str(metric.get("unit", "ms")).lower(), 1e-3)
    return Percentiles(**{p: _scaled(_num(metric.get(p)), scale) for p in ("p50", "p90", "p99")})


def _ai_value(doc: Mapping[str, Any], tag: str, key: str = "avg") -> float | None:
    metric = doc.get(tag)
    return _num(metric.get(key)) if isinstance(metric, Mapping) else None


def _aiperf(doc: Mapping[str, Any]) -> tuple[list[LevelResult], dict[str, Any]]:
    count = _ai_value(doc, "request_count")
    errors = int(_ai_value(doc, "error_request_count") or 0)
    config = doc.get("input_config") or {}
    concurrency = _num(_get(config, "loadgen.concurrency")) or _num(config.get("concurrency"))
    rate = _num(_get(config, "loadgen.request_rate")) or _num(config.get("request_rate"))
    duration = _ai_value(doc, "benchmark_duration")
    duration_scale = _TIME_SCALE.get(str(_get(doc, "benchmark_duration.unit") or "sec").lower(), 1.0)
    per_user = doc.get("output_token_throughput_per_user")
    succeeded = int(count) if count is not None else 0
    level = _level(
        concurrency=int(concurrency or 0), mode="rate" if rate else "concurrency", request_rate_rps=rate,
        arrival="poisson" if rate else None, requests=succeeded + errors, succeeded=succeeded, errors=errors,
        errors_by_kind={"server_error": errors} if errors else {},
        ttft_s=_ai_pcts(doc.get("time_to_first_token")), inter_token_s=_ai_pcts(doc.get("inter_token_latency")),
        e2e_s=_ai_pcts(doc.get("request_latency")),
        output_tokens_per_s_per_stream=Percentiles(**{p: _num(per_user.get(p)) for p in ("p50", "p90", "p99")})
        if isinstance(per_user, Mapping) else Percentiles(p50=_inverse(_ai_pcts(doc.get("inter_token_latency")).p50)),
        aggregate_output_tokens_per_s=_ai_value(doc, "output_token_throughput"),
        requests_per_s=_ai_value(doc, "request_throughput"),
        wall_s=(duration or 0.0) * duration_scale,
        prompt_tokens=_ai_value(doc, "input_sequence_length"),
        output_tokens=int((_ai_value(doc, "output_sequence_length") or 0) * succeeded),
    )
    model = _get(config, "endpoint.model_names") or _get(config, "model_names") or config.get("model")
    if isinstance(model, list):
        model = model[0] if model else None
    url = _get(config, "endpoint.url") or config.get("url")
    if isinstance(url, list):
        url = url[0] if url else None
    return [level], {"model": model, "url": url, "started_at": doc.get("start_time")}


# -- GuideLLM --------------------------------------------------------------------------------

def _gl_dist(metrics: Mapping[str, Any], name: str, status: str = "successful") -> Mapping[str, Any]:
    block = metrics.get(name)
    dist = block.get(status) if isinstance(block, Mapping) else None
    return dist if isinstance(dist, Mapping) else {}


def _gl_pcts(dist: Mapping[str, Any], scale: float = 1e-3) -> Percentiles:
    pcts = dist.get("percentiles") or {}
    return Percentiles(p50=_scaled(_num(pcts.get("p50", dist.get("median"))), scale),
                       p90=_scaled(_num(pcts.get("p90")), scale), p99=_scaled(_num(pcts.get("p99")), scale))


def _guidellm(doc: Mapping[str, Any]) -> tuple[list[LevelResult], dict[str, Any]]:
    levels = []
    info: dict[str, Any] = {}
    for bench in doc["benchmarks"]:
        if not isinstance(bench, Mapping) or not isinstance(bench.get("metrics"), Mapping):
            raise ProbeConfigError("field 'benchmarks' must hold GuideLLM benchmarks, each with 'metrics'")
        metrics = bench["metrics"]
        totals = metrics.get("request_totals") or {}
        ok, errored = int(_num(totals.get("successful")) or 0), int(_num(totals.get("errored")) or 0)
        incomplete = int(_num(totals.get("incomplete")) or 0)
        strategy = _get(bench, "config.strategy") or _get(bench, "scheduler.strategy") or {}
        kind = str(strategy.get("type_") or strategy.get("type") or "")
        rate = _num(strategy.get("rate")) if kind in ("constant", "poisson", "async") else None
        streams = _num(strategy.get("streams")) or (1 if kind == "synchronous" else None)
        itl = _gl_pcts(_gl_dist(metrics, "inter_token_latency_ms"))
        duration = _num(bench.get("duration")) or (
            (_num(bench.get("end_time")) or 0) - (_num(bench.get("start_time")) or 0))
        levels.append(_level(
            concurrency=int(streams or _gl_dist(metrics, "request_concurrency").get("max") or 0),
            mode="rate" if rate is not None else "concurrency", request_rate_rps=rate,
            arrival=kind if rate is not None else None, requests=ok + errored + incomplete, succeeded=ok,
            errors=errored, cancelled=incomplete, errors_by_kind={"server_error": errored} if errored else {},
            ttft_s=_gl_pcts(_gl_dist(metrics, "time_to_first_token_ms")), inter_token_s=itl,
            tpot_s=_gl_pcts(_gl_dist(metrics, "time_per_output_token_ms")),
            e2e_s=_gl_pcts(_gl_dist(metrics, "request_latency"), 1.0),
            output_tokens_per_s_per_stream=Percentiles(p50=_inverse(itl.p50)),
            aggregate_output_tokens_per_s=_num(_gl_dist(metrics, "output_tokens_per_second").get("mean")),
            requests_per_s=_num(_gl_dist(metrics, "requests_per_second").get("mean")),
            wall_s=duration or 0.0,
            prompt_tokens=_num(_gl_dist(metrics, "prompt_token_count").get("mean")),
            output_tokens=int(_num(_gl_dist(metrics, "output_token_count").get("total_sum")) or 0),
            max_in_flight=int(_num(_gl_dist(metrics, "request_concurrency").get("max")) or 0),
        ))
    backend = _get(doc, "config.spec.backend") or {}
    fmt = str(backend.get("request_format") or "")
    return levels, {"url": backend.get("target"), "model": backend.get("model"),
                    "endpoint": "completions" if fmt.endswith("/completions") and "chat" not in fmt else "chat"}
