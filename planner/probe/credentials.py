"""Who the probe says it is: an API key (Bearer) or the URL's user:password (Basic), never both.

Both travel in the one Authorization header. Sent as they came, a URL with `user:pass@` and an API
key failed every streamed request (aiohttp: "Cannot combine AUTHORIZATION header with AUTH argument
or credentials encoded in URL"), and requests put the Basic credentials in the key's place (so
`/v1/models` sent them instead of the key). So the pair is refused with one line naming both, and
otherwise the probe writes the header itself and sends every request to the URL without its
userinfo, the same on both transports.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote, urlsplit, urlunsplit

from planner.probe.faults import ProbeConfigError


def url_credentials(url: str) -> tuple[str, str] | None:
    """The URL's (user, password), percent-decoded, or None when it has no userinfo."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return None
    return unquote(parts.username or ""), unquote(parts.password or "")


def basic_token(user: str, password: str) -> str:
    """The base64 of `user:password` (RFC 7617), as a Basic Authorization header carries it."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def authorization(url: str, api_key: str | None, key_source: str = "the API key") -> str | None:
    """The Authorization header's value for `url` and `api_key`, or None for neither.

    Raises ProbeConfigError when the URL carries credentials and a key is set too.
    """
    creds = url_credentials(url)
    if creds is not None and api_key:
        raise ProbeConfigError(f"the URL carries user:password@ and {key_source} is set: both would be the "
                               "Authorization header; remove the credentials from the URL or unset the key")
    if api_key:
        return f"Bearer {api_key}"
    if creds is not None:
        return f"Basic {basic_token(*creds)}"
    return None


def without_userinfo(url: str) -> str:
    """`url` with any `user:password@` removed (the credentials go in the header instead)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
