"""Where the probe sends requests: base URL, API type, host policy.

Accepts what people paste: `http://host:8000`, `http://host:8000/v1`,
`http://host:8000/v1/chat/completions`, `http://host:11434`,
`http://host:11434/api/chat`, and keeps any path prefix a proxy needs
(`https://gw.example/openai/v1`).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from planner.probe.faults import HostNotAllowedError, ProbeConfigError
from planner.probe.redaction import display_url

ApiType = Literal["openai", "ollama"]

ALLOWED_HOSTS_ENV = "PLANNER_PROBE_ALLOWED_HOSTS"
OLLAMA_DEFAULT_PORT = 11434

# Suffixes people paste that name an operation rather than the API root.
_OPENAI_SUFFIXES = ("/chat/completions", "/completions", "/models")
_OLLAMA_SUFFIXES = ("/api/chat", "/api/generate", "/api/tags", "/api")

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def detect_api(url: str) -> ApiType:
    """Guess the API type from a URL: `/v1` → openai; port 11434 or `/api` → ollama; else openai.

    `/v1` wins because Ollama also serves an OpenAI-compatible API under
    `:11434/v1`, and hosted gateways use `/api/v1`.
    """
    parts = urlsplit(url)
    segs = _segments(parts.path)
    if "v1" in segs:
        return "openai"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == OLLAMA_DEFAULT_PORT or "api" in segs:
        return "ollama"
    return "openai"


def is_local_host(host: str) -> bool:
    """True for loopback hosts (localhost, 127.0.0.0/8, ::1), where GPU telemetry makes sense."""
    host = host.strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts() -> frozenset[str] | None:
    """Hosts from PLANNER_PROBE_ALLOWED_HOSTS (lower-case), or None when any host is allowed."""
    raw = os.environ.get(ALLOWED_HOSTS_ENV, "")
    hosts = frozenset(h.strip().strip("[]").lower() for h in raw.split(",") if h.strip())
    return hosts or None


def check_host_allowed(host: str) -> None:
    """Raise HostNotAllowedError when an allow-list is set and `host` is not on it."""
    hosts = allowed_hosts()
    if hosts is None:
        return
    if host.strip("[]").lower() not in hosts:
        raise HostNotAllowedError(
            f"host {host!r} is not allowed: {ALLOWED_HOSTS_ENV} permits only {', '.join(sorted(hosts))}"
        )


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint. `base_url` may hold credentials, so it is left out of repr."""

    api: ApiType
    host: str
    root_url: str  # scheme://netloc/prefix — the API root without /v1 or /api
    base_url: str  # the URL as given (may contain userinfo or a key in the query)

    def __repr__(self) -> str:
        return f"Endpoint(api={self.api!r}, url={self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The URL as given, without credentials."""
        return display_url(self.base_url)

    @property
    def query(self) -> str:
        return urlsplit(self.base_url).query

    @property
    def is_local(self) -> bool:
        return is_local_host(self.host)

    def url_for(self, path: str) -> str:
        """Absolute URL of an API path such as `/v1/chat/completions` or `/api/chat`.

        The original query (some gateways need `?api-version=`) is kept; any `user:password@` is
        not (planner.probe.credentials sends it as a header, so no HTTP library adds its own).
        """
        parts = urlsplit(self.root_url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + path, self.query, ""))

    @classmethod
    def parse(cls, url: str, api: str | None = None) -> Endpoint:
        """Parse a user-supplied URL; `api` ("openai"/"ollama") overrides detection."""
        url = (url or "").strip()
        if "://" not in url:
            # "localhost:8000" is a common paste; assume plain HTTP like curl does.
            url = "http://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ProbeConfigError(f"unsupported URL scheme {parts.scheme!r}: use http:// or https://")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ProbeConfigError(f"bad port in URL {display_url(url)!r}") from exc
        if not parts.hostname:
            raise ProbeConfigError(f"no host in URL {display_url(url)!r}")
        if api is None:
            api_type: ApiType = detect_api(url)
        elif api in ("openai", "ollama"):
            api_type = api  # type: ignore[assignment]
        else:
            raise ProbeConfigError(f"unknown API type {api!r}: use 'openai' or 'ollama'")

        path = parts.path.rstrip("/")
        suffixes = _OPENAI_SUFFIXES if api_type == "openai" else _OLLAMA_SUFFIXES
        for suffix in suffixes:
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
        if api_type == "openai" and _segments(path)[-1:] == ["v1"]:
            path = path[:-3]
        root = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        return cls(api=api_type, host=parts.hostname, root_url=root, base_url=url)
