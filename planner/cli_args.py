"""Argument types shared by the command-line front ends: finite numbers within bounds, and a message
argparse prints as `argument --x: must be at least 1, got '0'` (the text echoed at most 40 characters)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

_ECHO_CHARS = 40


def bounded(kind: type, minimum: float, *, strict: bool = False, maximum: float | None = None) -> Callable[[str], float]:
    """An argparse type: `kind(text)` that is finite, >= minimum (or > minimum when strict) and <= maximum."""
    noun = "a whole number" if kind is int else "a number"
    rule = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
    if maximum is not None:
        rule += f" and at most {maximum:,}" if kind is int else f" and at most {maximum:g}"

    def parse(text: str):
        shown = ascii(text if len(text) <= _ECHO_CHARS else text[: _ECHO_CHARS - 3] + "...")  # escapes control characters
        if len(text) > 100:  # int() of 4,300+ digits is refused by Python itself; no number needs 100 characters
            raise argparse.ArgumentTypeError(f"expected {noun} ({rule}), got {len(text):,} characters: {shown}")
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {shown}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {shown}")
        return value

    parse.__name__ = f"{kind.__name__}_{'above' if strict else 'from'}_{minimum:g}"
    return parse


positive_int = bounded(int, 1)
non_negative_int = bounded(int, 0)
positive_float = bounded(float, 0, strict=True)
