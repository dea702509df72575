"""Errors the planner raises, each with a message a person can act on.

    PlannerError
    ├── CatalogError      a data file or row is invalid (names the file, row and field)
    ├── LookupFailed      an id or alias names nothing in the catalogue
    └── ConstraintError   the architect's input is invalid (names the field and what is allowed)

A message quotes what it was given through `shown` (at most 80 characters, control characters escaped),
and `one_line` is the last guard before a message reaches a terminal.
"""

import re

SHOWN_CHARS = 80  # of a value quoted in a message
MESSAGE_CHARS = 2_000  # of a whole message line (the constraints' allowed fields take ~700)
# C0 controls (tab and newline too), DEL, C1 controls (0x9b is a one-byte CSI), lone surrogates.
CONTROL_OR_SPACE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_LONG_WORD = re.compile(r"\S{%d,}" % (2 * SHOWN_CHARS))


class PlannerError(Exception):
    """Base of every error the planner raises on purpose."""


class CatalogError(PlannerError):
    """A data file or one of its rows failed validation."""


class LookupFailed(PlannerError, KeyError):
    """An id or alias matched nothing in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConstraintError(PlannerError, ValueError):
    """The constraints are invalid; `field` names the offending input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def shown(value: object, limit: int = SHOWN_CHARS, quote: bool = True) -> str:
    """A value as a message quotes it: text in single quotes, control characters (ESC too) escaped, at most
    `limit` characters (a 10 MB value is not echoed whole)."""
    text = value if isinstance(value, str) else repr(value)
    text = CONTROL_OR_SPACE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    if len(text) > limit:
        text = f"{text[: limit - 1]}…"
    return f"'{text}'" if quote and isinstance(value, str) else text


def one_line(message: object, limit: int = MESSAGE_CHARS) -> str:
    """A message fit for a terminal: escape sequences and control characters out, one line, no word over
    160 characters, at most `limit` characters."""
    text = CONTROL_OR_SPACE.sub(" ", _ANSI.sub("", str(message)))
    text = _LONG_WORD.sub(lambda m: m.group()[: SHOWN_CHARS - 1] + "…", text)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
