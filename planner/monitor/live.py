"""The Monitor page's state without Streamlit: a rolling window of scrapes, and one chart row per reading."""

from __future__ import annotations

from planner.monitor.report import MonitorReport
from planner.monitor.scrape import Scrape


def roll(history: list[Scrape], scrape: Scrape, window_s: float) -> list[Scrape]:
    """`history` with `scrape` added, less the scrapes older than the window (the last one before it is kept,
    so the window is always covered)."""
    kept = [*history, scrape]
    start = scrape.at_s - window_s
    while len(kept) > 2 and kept[1].at_s <= start:
        kept.pop(0)
    return kept


def chart_row(report: MonitorReport, at: str) -> dict:
    """The figures the Monitor page draws, at wall-clock time `at` (ISO 8601)."""
    obs = report.observation
    return {"at": at, "ttft_p90_s": obs.ttft_s.p90, "decode_tokens_per_s": obs.decode_tokens_per_s_per_stream,
            "requests_per_s": obs.requests_per_s, "kv_cache_usage": obs.kv_cache_usage_max,
            "requests_waiting": obs.requests_waiting_max, "error_rate": obs.error_rate}
