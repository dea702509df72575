"""A probe result without secrets, for printing: keys named like api_key, authorization or token are
dropped, their values masked wherever else they appear, URL credentials removed, and bearer tokens
and key-like strings masked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

_SECRET_PARTS = ("api_key", "apikey", "authorization", "authorisation", "password", "passwd", "secret", "cookie",
                 "credential", "bearer", "private_key")
_SECRET_NAMES = {"token", "auth", "key", "headers", "header", "access_key"}
_TOKEN_LIKE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+|\b(sk|hf|pk|rk|gsk|xai)[-_][A-Za-z0-9._-]{6,}")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def sanitize_probe(probe: dict) -> dict:
    """A copy of a probe result without secrets: secret-named keys dropped (their values masked
    wherever else they appear), URL credentials removed, bearer tokens and key-like strings masked."""
    found: set[str] = set()
    stripped = _drop_secret_keys(probe, found)
    return _mask(stripped, sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


def is_secret_key(name: object) -> bool:
    """True for keys that name a credential (api_key, Authorization, hf_token, ...), not token counts."""
    key = str(name).lower().replace("-", "_").strip()
    if key in _SECRET_NAMES or any(part in key for part in _SECRET_PARTS):
        return True
    return key.endswith("_token") or key.endswith("_key") or key.startswith("x_api")


def _drop_secret_keys(value: Any, found: set[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if is_secret_key(k):
                found.update(_strings(v))
                continue
            out[k] = _drop_secret_keys(v, found)
        return out
    if isinstance(value, list | tuple):
        return [_drop_secret_keys(v, found) for v in value]
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
        # "Bearer sk-..." leaks "sk-..." too
        yield from value.split()
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _mask(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, dict):
        return {str(_mask_text(str(k), secrets)): _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, secrets) for v in value]
    if isinstance(value, str):
        return _mask_text(value, secrets)
    return value


def _mask_text(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: _display_url(m.group(0)), text)
    return _TOKEN_LIKE.sub(lambda m: (m.group(1) + " " + MASK) if m.group(1) else MASK, text)


def _display_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        query = urlencode([(k, MASK if is_secret_key(k) or "token" in k.lower() else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return MASK

