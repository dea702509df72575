"""URL parsing, API type detection and the host allow-list."""

from __future__ import annotations

import pytest

from planner.probe import (
    Endpoint,
    HostNotAllowedError,
    ProbeConfig,
    ProbeConfigError,
    detect_api,
    run_probe,
)
from planner.probe.endpoint import check_host_allowed, is_local_host


@pytest.mark.parametrize(("url", "api"), [
    ("http://127.0.0.1:11434", "ollama"),
    ("http://gpu-box:11434/api/chat", "ollama"),
    ("http://gpu-box:8080/api", "ollama"),
    ("http://gpu-box:11434/v1", "openai"),  # Ollama's OpenAI-compatible API
    ("https://openrouter.example/api/v1", "openai"),
    ("http://127.0.0.1:8000/v1/chat/completions", "openai"),
    ("http://127.0.0.1:8080", "openai"),
])
def test_detect_api(url, api):
    assert detect_api(url) == api


@pytest.mark.parametrize(("url", "api", "expected"), [
    ("http://h:8000", None, "http://h:8000/v1/chat/completions"),
    ("http://h:8000/v1", None, "http://h:8000/v1/chat/completions"),
    ("http://h:8000/v1/chat/completions", None, "http://h:8000/v1/chat/completions"),
    ("https://gw.example/openai/v1/", None, "https://gw.example/openai/v1/chat/completions"),
    ("localhost:8000", None, "http://localhost:8000/v1/chat/completions"),
    ("http://h:11434/api/chat", None, "http://h:11434/api/chat"),
    ("http://h:11434", None, "http://h:11434/api/chat"),
    ("http://h:9999", "ollama", "http://h:9999/api/chat"),
])
def test_endpoint_urls(url, api, expected):
    endpoint = Endpoint.parse(url, api)
    path = "/api/chat" if endpoint.api == "ollama" else "/v1/chat/completions"
    assert endpoint.url_for(path) == expected


def test_query_is_kept_for_requests():
    endpoint = Endpoint.parse("https://gw.example/openai/v1?api-version=2024-06")
    assert endpoint.url_for("/v1/models") == "https://gw.example/openai/v1/models?api-version=2024-06"


@pytest.mark.parametrize("url", ["ftp://h/v1", "http://:80/v1", "http://h:notaport/v1"])
def test_bad_urls_are_config_errors(url):
    with pytest.raises(ProbeConfigError):
        Endpoint.parse(url)


def test_bad_api_type():
    with pytest.raises(ProbeConfigError):
        Endpoint.parse("http://h", "grpc")


@pytest.mark.parametrize(("host", "local"), [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("10.0.0.5", False), ("gpu-box", False),
])
def test_is_local_host(host, local):
    assert is_local_host(host) is local


def test_allow_list_unset_allows_any(monkeypatch):
    monkeypatch.delenv("PLANNER_PROBE_ALLOWED_HOSTS", raising=False)
    check_host_allowed("anything.example")
    monkeypatch.setenv("PLANNER_PROBE_ALLOWED_HOSTS", " , ")
    check_host_allowed("anything.example")


def test_allow_list_refuses_other_hosts(monkeypatch):
    monkeypatch.setenv("PLANNER_PROBE_ALLOWED_HOSTS", "LocalHost, 127.0.0.1,::1")
    check_host_allowed("localhost")
    check_host_allowed("127.0.0.1")
    check_host_allowed("::1")
    with pytest.raises(HostNotAllowedError, match="not allowed"):
        check_host_allowed("api.example.com")


def test_run_probe_refuses_disallowed_host_without_sending_anything(monkeypatch, fake_server):
    monkeypatch.setenv("PLANNER_PROBE_ALLOWED_HOSTS", "localhost")
    before = len(fake_server.requests_seen)
    with pytest.raises(HostNotAllowedError) as info:
        run_probe(ProbeConfig(url=fake_server.url("ok"), model="m"))
    assert "127.0.0.1" in str(info.value) and "localhost" in str(info.value)
    assert len(fake_server.requests_seen) == before


def test_run_probe_allowed_host_runs(monkeypatch, fake_server):
    monkeypatch.setenv("PLANNER_PROBE_ALLOWED_HOSTS", "127.0.0.1")
    result = run_probe(ProbeConfig(url=fake_server.url("ok"), model="m", concurrency=(1,), requests_per_level=1,
                                   max_tokens=2, prompt_tokens=8))
    assert result.levels[0].succeeded == 1


def test_config_validation():
    assert ProbeConfig(url="http://h", concurrency="1, 3").concurrency == (1, 3)
    with pytest.raises(ValueError):
        ProbeConfig(url="http://h", concurrency=())
    with pytest.raises(ValueError):
        ProbeConfig(url="http://h", concurrency=(0,))
    with pytest.raises(ValueError):
        ProbeConfig(url="http://h", max_tokens=0)
