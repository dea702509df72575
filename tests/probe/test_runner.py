"""run_probe's programmatic API: progress events, stopping, protocol fallbacks."""

from __future__ import annotations

import threading

import pytest

from planner.probe import ProbeConfig, ProbeResult, run_probe


def _config(url: str, **overrides) -> ProbeConfig:
    settings = dict(url=url, model="fake-model", concurrency=(1, 2), requests_per_level=3, max_tokens=4,
                    prompt_tokens=16)
    settings.update(overrides)
    return ProbeConfig(**settings)


def test_progress_events_in_order(fake_server):
    events = []
    result = run_probe(_config(fake_server.url("ok")), on_progress=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] == "warmup" and kinds[-1] == "finished"
    assert kinds.count("level") == 2 and kinds.count("request") >= 2
    first_level_requests = [e for e in events if e.kind == "request" and e.concurrency == 1]
    assert [e.done for e in first_level_requests] == [1, 2, 3]  # one event per finished request
    assert first_level_requests[-1].level.succeeded == 3  # a live snapshot for charts
    level_events = [e for e in events if e.kind == "level"]
    assert [e.level for e in level_events] == result.levels
    assert isinstance(result, ProbeResult) and result.model_dump()["levels"]


def test_stop_event_keeps_partial_results(fake_server):
    stop = threading.Event()

    def on_progress(event):
        if event.kind == "request" and event.done == 1:
            stop.set()

    result = run_probe(_config(fake_server.url("slow"), max_tokens=10, requests_per_level=5),
                       on_progress=on_progress, stop_event=stop)
    assert result.stopped_reason == "stopped"
    assert len(result.levels) == 1 and not result.levels[0].complete
    assert result.levels[0].succeeded >= 1


def test_requests_are_at_least_the_concurrency(fake_server):
    result = run_probe(_config(fake_server.url("ok"), concurrency=(4,), requests_per_level=1))
    assert result.levels[0].requests == 4 and result.levels[0].succeeded == 4


def test_no_usage_chunk_falls_back_to_counting_chunks(fake_server):
    result = run_probe(_config(fake_server.url("nousage"), max_tokens=6))
    for level in result.levels:
        assert level.usage_source == "chunks"
        assert level.output_tokens == 6 * level.succeeded
        assert level.prompt_tokens is None


def test_server_rejecting_stream_options_is_retried_without(fake_server):
    result = run_probe(_config(fake_server.url("rejectstreamoptions")))
    assert result.warmup.succeeded == 1 and "stream_options" in result.warmup.note
    assert result.settings["stream_options_include_usage"] is False
    assert all(level.errors == 0 and level.usage_source == "chunks" for level in result.levels)


def test_completions_endpoint_and_extra_body(fake_server):
    before = len(fake_server.requests_seen)
    result = run_probe(_config(fake_server.url("ok"), endpoint="completions", concurrency=(1,),
                               extra_body={"ignore_eos": True}))
    assert result.levels[0].succeeded == 3 and result.levels[0].usage_source == "usage"
    bodies = [b for _, path, _, b in fake_server.requests_seen[before:] if path == "/v1/completions"]
    assert bodies and all(b["ignore_eos"] is True and "prompt" in b for b in bodies)
    # Every prompt is unique, so prefix caches cannot hide prefill time.
    assert len({b["prompt"] for b in bodies}) == len(bodies)


def test_model_defaults_to_first_listed(fake_server):
    result = run_probe(_config(fake_server.url("ok"), model=None, concurrency=(1,)))
    assert result.model == "fake-model"


def test_tokenizer_endpoint_sizes_the_prompt(fake_server):
    result = run_probe(_config(fake_server.url("ok"), prompt_tokens=100, concurrency=(1,)))
    # The fake /tokenize counts words.
    assert result.prompt["method"] == "tokenizer" and result.prompt["measured_tokens"] == 100
    result = run_probe(_config(fake_server.url("notokenize"), prompt_tokens=100, concurrency=(1,)))
    assert result.prompt["method"].startswith("approx")


def test_split_shape_deals_streams_rates_and_schedules():
    from planner.probe.engine import LoadShape, arrival_offsets_s
    from planner.probe.workers import split_shape

    closed = split_shape(LoadShape(requests=10, concurrency=5), 2)
    assert [(s.concurrency, s.requests) for s in closed] == [(3, 5), (2, 5)]
    constant = split_shape(LoadShape(requests=6, rate_rps=10.0, arrival="constant"), 2)
    assert [s.rate_rps for s in constant] == [5.0, 5.0]
    # Interleaved: together the two schedules are the one at 10/s.
    merged = sorted(t for s in constant for t in arrival_offsets_s(s))
    assert merged == pytest.approx(arrival_offsets_s(LoadShape(requests=6, rate_rps=10.0, arrival="constant")))


def test_two_worker_processes_run_one_level(fake_server):
    result = run_probe(_config(fake_server.url("ok"), concurrency=(1,), rates=(20.0,), requests_per_level=12,
                               workers=2, warmup_requests=1))
    (level,) = result.levels
    assert level.mode == "rate" and level.succeeded == 12 and level.errors == 0
    assert result.settings["workers"] == 2 and level.output_tokens == 12 * 4
