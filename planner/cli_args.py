"""Argument types shared by the command-line front ends: numbers with a lower bound, and a
message argparse prints as `argument --x: must be at least 1, got 0`."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def bounded(kind: type, minimum: float, *, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: `kind(text)` that is >= minimum (or > minimum when strict)."""
    noun = "a whole number" if kind is int else "a number"
    rule = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    parse.__name__ = f"{kind.__name__}_{'above' if strict else 'from'}_{minimum:g}"
    return parse


positive_int = bounded(int, 1)
non_negative_int = bounded(int, 0)
positive_float = bounded(float, 0, strict=True)
