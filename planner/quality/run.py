"""Send the samples to an OpenAI-compatible endpoint and report the pass rate, latency and failures.

Each sample is one chat completion at temperature 0 (non-streaming: the check reads the whole reply),
timed from send to the last byte. A request that fails counts as a failed sample with its reason, never
as a latency. `compare` runs the same samples on two endpoints and tests the difference (stats.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict

from planner.quality.checks import check_reply
from planner.quality.errors import QualityError
from planner.quality.samples import Sample
from planner.quality.stats import mcnemar_exact_p, percentile, wilson_interval

SIGNIFICANCE = 0.05


class SampleResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    passed: bool
    reason: str
    reply: str | None
    latency_s: float | None  # None when the request failed


class QualityReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    model: str
    samples: int
    passed: int
    pass_rate: float
    pass_rate_interval_95: tuple[float, float]
    latency_p50_s: float | None
    latency_p90_s: float | None
    request_errors: int
    results: list[SampleResult]

    @property
    def failures(self) -> list[SampleResult]:
        return [r for r in self.results if not r.passed]


class QualityComparison(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    a: QualityReport
    b: QualityReport
    difference: float  # b's pass rate − a's
    only_a_passed: int
    only_b_passed: int
    p_value: float  # McNemar's exact test
    significant: bool
    sentence: str


def base_url(url: str) -> str:
    """The OpenAI base URL (…/v1): a URL with no path gets /v1; QualityError for one that is not http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise QualityError(f"--url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}")
    return url.rstrip("/") if parts.path.strip("/") else url.rstrip("/") + "/v1"


def first_model(url: str, session: requests.Session, timeout_s: float = 10.0) -> str:
    try:
        data = session.get(f"{url}/models", timeout=timeout_s).json().get("data") or []
    except (requests.RequestException, ValueError, AttributeError):
        data = []
    if not data or not isinstance(data[0], dict) or not data[0].get("id"):
        raise QualityError(f"{url}/models names no model: give --model")
    return str(data[0]["id"])


def run_quality(url: str, samples: Sequence[Sample], *, model: str | None = None, api_key: str | None = None,
                concurrency: int = 4, timeout_s: float = 120.0) -> QualityReport:
    url = base_url(url)
    session = requests.Session()
    if api_key:
        session.headers["Authorization"] = f"Bearer {api_key}"
    model = model or first_model(url, session)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(pool.map(lambda s: _one(session, url, model, s, timeout_s), samples))
    if all(r.latency_s is None for r in results):
        raise QualityError(f"every request to {url} failed ({results[0].reason}): is the server up, and is "
                           f"'{model}' its model?")
    passed = sum(r.passed for r in results)
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    return QualityReport(url=url, model=model, samples=len(results), passed=passed, pass_rate=passed / len(results),
                         pass_rate_interval_95=wilson_interval(passed, len(results)),
                         latency_p50_s=percentile(latencies, 0.5), latency_p90_s=percentile(latencies, 0.9),
                         request_errors=sum(r.latency_s is None for r in results), results=results)


def _one(session: requests.Session, url: str, model: str, sample: Sample, timeout_s: float) -> SampleResult:
    messages = ([{"role": "system", "content": sample.system}] if sample.system else []) + [
        {"role": "user", "content": sample.prompt}]
    body = {"model": model, "messages": messages, "temperature": 0, "max_tokens": sample.max_tokens, "stream": False}
    start = time.perf_counter()
    try:
        response = session.post(f"{url}/chat/completions", json=body, timeout=timeout_s)
        elapsed = time.perf_counter() - start
        response.raise_for_status()
        reply = response.json()["choices"][0]["message"]["content"] or ""
    except requests.HTTPError as exc:
        return SampleResult(id=sample.id, passed=False, reason=f"request failed: HTTP {exc.response.status_code}",
                            reply=None, latency_s=None)
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
        return SampleResult(id=sample.id, passed=False, reason=f"request failed: {type(exc).__name__}", reply=None,
                            latency_s=None)
    passed, why = check_reply(sample, reply)
    return SampleResult(id=sample.id, passed=passed, reason=why, reply=reply, latency_s=elapsed)


def compare(a: QualityReport, b: QualityReport) -> QualityComparison:
    """b against a on the same samples (matched by id)."""
    by_id = {r.id: r.passed for r in a.results}
    pairs = [(by_id[r.id], r.passed) for r in b.results if r.id in by_id]
    if len(pairs) != len(a.results):
        raise QualityError("the two runs did not answer the same samples")
    only_a = sum(1 for x, y in pairs if x and not y)
    only_b = sum(1 for x, y in pairs if y and not x)
    p = mcnemar_exact_p(only_a, only_b)
    diff = b.pass_rate - a.pass_rate
    verdict = ("a significant difference" if p < SIGNIFICANCE else
               "not a significant difference (it may be chance)")
    sentence = (f"{b.url} passed {b.passed}/{b.samples} ({b.pass_rate:.0%}) against {a.passed}/{a.samples} "
                f"({a.pass_rate:.0%}) for {a.url}: {diff:+.0%}; {only_b} sample(s) only it passed, {only_a} only the "
                f"other did; McNemar's exact p = {p:.3g}, {verdict} at {SIGNIFICANCE:.0%}.")
    return QualityComparison(a=a, b=b, difference=diff, only_a_passed=only_a, only_b_passed=only_b, p_value=p,
                             significant=p < SIGNIFICANCE, sentence=sentence)


def format_report(report: QualityReport, *, max_failures: int = 10) -> str:
    low, high = report.pass_rate_interval_95
    lines = [f"{report.url} ({report.model}): {report.passed}/{report.samples} passed = {report.pass_rate:.0%} "
             f"(95% Wilson interval {low:.0%}–{high:.0%})"]
    if report.latency_p50_s is not None:
        lines.append(f"latency p50 {report.latency_p50_s:.2f} s, p90 {report.latency_p90_s:.2f} s; "
                     f"{report.request_errors} request(s) failed")
    for r in report.failures[:max_failures]:
        shown = "" if r.reply is None else f": {r.reply.strip()[:80]!r}"
        lines.append(f"  FAIL {r.id}: {r.reason}{shown}")
    if len(report.failures) > max_failures:
        lines.append(f"  ... and {len(report.failures) - max_failures} more failure(s)")
    return "\n".join(lines)
