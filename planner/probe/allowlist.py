"""Which hosts the dashboard's probe may send requests to: an allow-list the operator sets.

A shared dashboard must not send load to any address a visitor types, so the Probe page only
probes targets on this list. The operator sets it, in this order:

1. the environment variable PLANNER_PROBE_ALLOW (or the older PLANNER_PROBE_ALLOWED_HOSTS):
   comma-separated entries;
2. a file named by PLANNER_PROBE_ALLOW_FILE, else `.streamlit/probe-allow.txt` beside the app:
   one entry a line, `#` starts a comment;
3. otherwise loopback only (localhost, 127.0.0.0/8, ::1).

An entry is a host name (`gpu-box`), a wildcard domain (`*.lab.example.com`), an IP address or a
network in CIDR form (`10.0.0.0/8`), optionally with a port (`gpu-box:8000`); `*` alone allows
every host. A host name that is not listed itself is allowed when every address it resolves to
lies in a listed network, so `localhost` passes the loopback default. The CLI, run by whoever
owns the machine, does not use this list.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ALLOW_ENV = "PLANNER_PROBE_ALLOW"
LEGACY_ENV = "PLANNER_PROBE_ALLOWED_HOSTS"  # the probe's older host list (planner.probe.endpoint), still honoured
ALLOW_FILE_ENV = "PLANNER_PROBE_ALLOW_FILE"
DEFAULT_FILE = Path(__file__).resolve().parents[2] / ".streamlit" / "probe-allow.txt"
LOOPBACK = ("localhost", "127.0.0.0/8", "::1")


class TargetNotAllowed(PermissionError):
    """The probe target is not on the operator's allow-list."""


@dataclass(frozen=True)
class AllowList:
    """The entries in force and where they came from (for the page to say)."""

    entries: tuple[str, ...]
    origin: str  # "environment", "file" or "default"
    variable: str = ALLOW_ENV  # the environment variable that set it

    @property
    def allows_any(self) -> bool:
        return "*" in self.entries

    def describe(self) -> str:
        """One sentence for the Probe page; no server paths."""
        where = {"environment": f"set by the operator in {self.variable}",
                 "file": "set by the operator in the allow-list file",
                 "default": f"the default, this machine only; the operator can widen it with {ALLOW_ENV}"}[self.origin]
        if self.allows_any:
            return f"Probe targets: any host — {where}."
        return f"Probe targets allowed: {', '.join(self.entries)} — {where}."

    def check(self, url: str) -> None:
        """Return when the URL's host (and port) may be probed; raise TargetNotAllowed otherwise."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        if not host:
            raise TargetNotAllowed("the URL names no host")
        if self.allows_any or any(_matches(entry, host, port) for entry in self.entries):
            return
        addresses = _resolve(host)
        networks = [n for n in (_network(e) for e in self.entries) if n is not None]
        if addresses and networks and all(any(a in n for n in networks) for a in addresses):
            return
        raise TargetNotAllowed(f"host '{host}' is not on the probe allow-list ({', '.join(self.entries)})")


def current() -> AllowList:
    """The allow-list in force now (read on every call, so a changed file applies without a restart)."""
    for name in (ALLOW_ENV, LEGACY_ENV):
        entries = _entries(os.environ.get(name, "").split(","))
        if entries:
            return AllowList(entries, "environment", name)
    path = Path(os.environ.get(ALLOW_FILE_ENV) or DEFAULT_FILE)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    entries = _entries(line.split("#", 1)[0] for line in lines)
    if entries:
        return AllowList(entries, "file")
    return AllowList(LOOPBACK, "default")


def check(url: str) -> None:
    """Raise TargetNotAllowed unless the operator's allow-list admits this URL's host."""
    current().check(url)


def _entries(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip().lower() for i in items if i.strip()))


def _matches(entry: str, host: str, port: int | None) -> bool:
    name, want_port = _split_port(entry)
    if want_port is not None and want_port != port:
        return False
    network = _network(name)
    if network is not None:
        try:
            return ipaddress.ip_address(host.strip("[]")) in network
        except ValueError:
            return False
    return fnmatch.fnmatchcase(host, name) if "*" in name else host == name


def _split_port(entry: str) -> tuple[str, int | None]:
    """'gpu-box:8000' -> ('gpu-box', 8000); IPv6 and CIDR entries keep their colons."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _network(entry: str):
    try:
        return ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return None


def _resolve(host: str) -> list:
    try:
        return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, None)]
    except (OSError, UnicodeError, ValueError):
        return []
