"""The API key must never appear in results, reprs, logs, stdout or stderr."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from planner.probe import Endpoint, ProbeConfig, run_probe
from planner.probe.factory import make_client
from planner.probe.redaction import Redactor, display_url

KEY = "sk-probe-TOPSECRET-0123456789abcdef"


def _auth_headers_seen(server) -> list[str]:
    return [h.get("Authorization", "") for _, _, h, _ in server.requests_seen]


def test_key_from_env_is_sent_but_never_shown(fake_server, monkeypatch, caplog, capsys):
    monkeypatch.setenv("PLANNER_PROBE_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines at DEBUG
    before = len(fake_server.requests_seen)
    ok = run_probe(ProbeConfig(url=fake_server.url("ok") + f"?api_key={KEY}", model="fake-model",
                               concurrency=(1, 2), requests_per_level=2, max_tokens=4, prompt_tokens=16))
    # A careless server that echoes the Authorization header in its error body.
    bad = run_probe(ProbeConfig(url=fake_server.url("401echo"), model="fake-model", concurrency=(1,),
                                requests_per_level=1, warmup_requests=0, max_tokens=4, prompt_tokens=16))
    assert f"Bearer {KEY}" in _auth_headers_seen(fake_server)[before:]  # it really was sent

    assert bad.levels[0].errors_by_kind == {"auth": 1}
    assert "bad key: Bearer ***" in bad.levels[0].error_examples["auth"]
    for result in (ok, bad):
        assert KEY not in json.dumps(result.to_dict())
        assert KEY not in repr(result)
    assert "api_key=%2A%2A%2A" in ok.url or "api_key=***" in ok.url
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err
    assert "api_key=***" in caplog.text, "expected urllib3's DEBUG request lines, redacted"
    assert KEY not in caplog.text


def test_key_not_in_config_or_client_repr(fake_server):
    config = ProbeConfig(url=fake_server.url("ok"), api_key=KEY)
    assert KEY not in repr(config)
    assert KEY not in str(config)
    assert KEY not in config.model_dump_json()
    assert config.resolved_api_key() == KEY
    client = make_client(Endpoint.parse(config.url), model="m", api_key=KEY)
    assert KEY not in repr(client)
    assert client.headers()["Authorization"] == f"Bearer {KEY}"


def test_url_credentials_are_not_displayed():
    url = f"https://user:{KEY}@gw.example.com:8443/openai/v1?token={KEY}&api-version=2024-01"
    shown = display_url(url)
    assert KEY not in shown
    assert shown.startswith("https://gw.example.com:8443/openai/v1?")
    assert "api-version=2024-01" in shown
    assert KEY not in repr(Endpoint.parse(url))


def test_redactor_masks_every_occurrence():
    redact = Redactor([KEY, None, ""])
    assert redact(f"a {KEY} b {KEY}") == "a *** b ***"
    assert redact("nothing secret") == "nothing secret"


def test_connection_error_messages_are_redacted(monkeypatch):
    # The URL's query carries a key; the refused connection's message would quote it.
    monkeypatch.setenv("PLANNER_PROBE_API_KEY", KEY)
    result = run_probe(ProbeConfig(url=f"http://127.0.0.1:9/v1?key={KEY}", model="m", warmup_requests=1,
                                   use_tokenizer=False))
    assert result.fatal_error is not None
    assert KEY not in json.dumps(result.to_dict())


def test_cli_with_key_prints_no_key(fake_server, subprocess_env):
    env = dict(subprocess_env, PLANNER_PROBE_API_KEY=KEY)
    for mode in ("ok", "401echo"):
        proc = subprocess.run(
            [sys.executable, "-m", "planner.probe", "--url", fake_server.url(mode), "--model", "fake-model",
             "--concurrency", "1", "--requests", "2", "--max-tokens", "4", "--prompt-tokens", "16", "--json"],
            capture_output=True, text=True, env=env, timeout=60)
        assert KEY not in proc.stdout
        assert KEY not in proc.stderr
    # And the key did reach the server.
    assert any(KEY in h for h in _auth_headers_seen(fake_server))
