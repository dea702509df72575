"""Keep secrets (API keys, URL passwords, key-like query values) out of every output.

The key travels only in the Authorization header. Everything the probe
writes (error messages, logs, JSON results, the displayed URL) passes through
a `Redactor` first, and while a run is active a logging filter rewrites
records of the probe's and urllib3's loggers, because urllib3 logs request
URLs at DEBUG level and a URL can carry `?api_key=...`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Query parameter names whose values are treated as secrets.
_SECRET_QUERY_NAMES = ("key", "token", "secret", "password", "passwd", "auth", "sig", "signature",
                       "credential")


def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_QUERY_NAMES)


def url_secrets(url: str) -> list[str]:
    """Secret values embedded in a URL: the userinfo password/user and key-like query values."""
    parts = urlsplit(url)
    found = [v for v in (parts.password, parts.username) if v]
    if parts.password or parts.username:  # as sent: decoded, and in the Basic header's base64
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        found += [v for v in (user, password) if v]
        found.append(base64.b64encode(f"{user}:{password}".encode()).decode("ascii"))
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=False) if _is_secret_name(k) and v]
    return found


def display_url(url: str) -> str:
    """The URL without credentials: userinfo dropped, key-like query values masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # drop user:password@
    query = urlencode([(k, MASK if _is_secret_name(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Redactor:
    """Replaces each known secret string with `***` in any text."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        # Longest first, so a secret containing another is masked whole.
        # Very short values (< 4 chars) are skipped: masking "a" would mangle every message.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            if secret in out:
                out = out.replace(secret, MASK)
        return out

    @property
    def active(self) -> bool:
        return bool(self._secrets)


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor):
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        # Render once, redact, and freeze the result so handlers cannot re-insert args.
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = self._redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor(record.exc_text)
        record.exc_info = None  # the redacted exc_text stands in for it
        return True


#: Loggers that can see request details during a run.
REDACTED_LOGGERS = ("planner.probe", "urllib3.connectionpool", "urllib3.connection", "urllib3",
                    "requests")


@contextlib.contextmanager
def redacting_logs(redactor: Redactor, logger_names: Iterable[str] = REDACTED_LOGGERS) -> Iterator[None]:
    """Install a redacting filter on the given loggers for the duration of the block."""
    if not redactor.active:
        yield
        return
    flt = _RedactingFilter(redactor)
    loggers = [logging.getLogger(name) for name in logger_names]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)
