"""Secrets in a probe result: credential-named keys dropped, their values masked elsewhere, URL
credentials removed, key-like strings masked; token counts kept."""

from __future__ import annotations

import pytest

from planner.report.sanitize import MASK, is_secret_key, sanitize_probe

KEY = "sk-test-0123456789abcdef"


@pytest.mark.parametrize("name", ["api_key", "Authorization", "hf_token", "X-API-Key", "password", "headers", "token"])
def test_credential_names(name):
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ["output_tokens", "prompt_tokens", "tokens_per_s", "model", "url"])
def test_not_credential_names(name):
    assert not is_secret_key(name)


def test_sanitize_probe():
    clean = sanitize_probe({
        "url": "https://user:pw@api.example.com/v1?access_token=abc&page=2", "api_key": "plain-secret-value",
        "note": "the key was plain-secret-value", "error": f"Bearer {KEY} refused", "output_tokens": 300,
        "levels": [{"log": f"sent {KEY}"}],
    })
    assert clean["url"] == f"https://api.example.com/v1?access_token={MASK}&page=2"
    assert "api_key" not in clean and clean["note"] == f"the key was {MASK}"
    assert clean["error"] == f"Bearer {MASK} refused" and clean["levels"][0]["log"] == f"sent {MASK}"
    assert clean["output_tokens"] == 300
