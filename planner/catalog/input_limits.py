"""Limits at the door for what a person or a file hands the planner: a constraints file, a model's
config.json or params.json, a price list, a command-line value.

Every entry point reads its JSON through `load_json_file` / `load_json`, which refuse, with one line
naming the field, what no honest input holds and what would cost the planner memory or a traceback:
a file over its size limit, text that is not UTF-8, nesting deeper than `MAX_DEPTH`, a whole number of
more than `MAX_INT_DIGITS` digits, NaN or Infinity, a list or object of more than `max_items` entries,
a string of more than `max_string_chars`, and control characters (ESC starts a terminal escape
sequence; a lone surrogate cannot be written as UTF-8). Messages show a value through
`planner.errors.shown`: at most 80 characters, control characters escaped.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import CONTROL_OR_SPACE, PlannerError, shown

# Nesting: a constraints file nests 3 deep, a Hugging Face config.json 3 (text_config, rope_scaling), LiteLLM's
# price list 3. Python's JSON parser recurses once per level and fails near 1,000; 32 is far from both.
MAX_DEPTH = 32
# A whole number of 19 digits reaches 10**18, beyond every count the planner reads (tokens, parameters,
# requests); longer ones are refused before Python converts them (4,300+ digits raise ValueError there).
MAX_INT_DIGITS = 19
# Control characters (planner.errors.CONTROL_OR_SPACE), except that tab, newline and carriage return are
# allowed inside string values (whitespace, not escape sequences); never in keys or ids.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class JsonLimits:
    """How much one kind of JSON file may hold."""

    max_bytes: int
    max_items: int = 10_000  # entries of one list or object
    max_string_chars: int = 10_000
    # Lists and objects in the whole file, counted before parsing ('[' and '{' bytes, an upper bound): an empty
    # list is 3 bytes of text and ~64 bytes of memory, so a file of them would cost 20 times its size.
    max_containers: int = 10_000
    # Values in the whole file, counted before parsing (',' bytes, an upper bound): 16 MB of "ab", strings would
    # otherwise take ~330 MB of memory before the walk could refuse them.
    max_values: int = 100_000


CONSTRAINTS_LIMITS = JsonLimits(max_bytes=1 << 20, max_items=1_000, max_string_chars=1_000, max_containers=2_000,
                                max_values=10_000)  # a constraints file is ~1 KB
# A config.json is 1-6 KB (data/configs); params.json smaller. Layer lists (layer_types) hold one entry per layer.
CONFIG_LIMITS = JsonLimits(max_bytes=1 << 20, max_items=10_000, max_string_chars=10_000)
# LiteLLM's model_prices_and_context_window.json was 1.6 MB (1,642,422 characters) in 2026, a few thousand entries
# with a list or two each: ten times that.
PRICE_LIST_LIMITS = JsonLimits(max_bytes=16 << 20, max_items=100_000, max_string_chars=100_000, max_containers=200_000,
                               max_values=1_000_000)
MAX_CONFIG_FILES = 256  # in one add-model folder


class _Refused:
    """A JSON literal the parser met that the planner refuses; reported with its field by the walk."""

    def __init__(self, why: str):
        self.why = why


def load_json_file(path: str | Path, what: str, limits: JsonLimits, error: type[PlannerError]) -> Any:
    """Read and parse a JSON file within `limits`; `what` names it in messages (e.g. "--constraints")."""
    return load_json(read_limited(path, what, limits.max_bytes, error), what, limits, error)


def read_limited(path: str | Path, what: str, max_bytes: int, error: type[PlannerError]) -> bytes:
    """A file's bytes, refused when larger than `max_bytes` (read no further than that)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{what}: cannot read {shown(str(path))}: {exc.strerror or exc.__class__.__name__}.") from None
    if len(raw) > max_bytes:
        raise error(f"{what}: the file is larger than {_size(max_bytes)}, the most this planner reads for it.")
    return raw


def load_json(raw: bytes | str, what: str, limits: JsonLimits, error: type[PlannerError]) -> Any:
    """Parse JSON text within `limits`; one line naming the field (a path such as `models[3]`) on refusal."""
    if isinstance(raw, bytes):
        if len(raw) > limits.max_bytes:
            raise error(f"{what}: the file is larger than {_size(limits.max_bytes)}, the most this planner reads for it.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise error(f"{what}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8.") from None
    else:
        text = raw
        if len(text) > limits.max_bytes:
            raise error(f"{what}: the text is longer than {_size(limits.max_bytes)}, the most this planner reads for it.")
    containers = text.count("[") + text.count("{")
    if containers > limits.max_containers:
        raise error(f"{what}: {containers:,} lists and objects; at most {limits.max_containers:,} are allowed in this file.")
    if text.count(",") >= limits.max_values:
        raise error(f"{what}: more than {limits.max_values:,} values; at most that many are allowed in this file.")
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        raise error(f"{what}: nested more than {MAX_DEPTH} levels deep; a planner file is a few levels deep.") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    _walk(data, what, limits, error)
    return data


def _parse_int(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Refused(f"a whole number of {len(text.lstrip('-')):,} digits; at most {MAX_INT_DIGITS} digits are allowed")
    return int(text)


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"{shown(text)} is beyond the largest number a float holds; give a finite number")
    return value


def _parse_constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows; give a finite number")


def _walk(data: Any, what: str, limits: JsonLimits, error: type[PlannerError]) -> None:
    """Depth, sizes, refused literals and control characters, without recursion; the first fault is raised."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise error(f"{what}: nested more than {MAX_DEPTH} levels deep (at {_where(path)}); a planner file is a few levels deep.")
        if isinstance(value, _Refused):
            raise error(f"{what}: field '{_where(path)}': {value.why}.")
        if isinstance(value, str):
            if len(value) > limits.max_string_chars:
                raise error(f"{what}: field '{_where(path)}': a text of {len(value):,} characters; at most "
                            f"{limits.max_string_chars:,} are allowed.")
            if bad := _CONTROL.search(value):
                raise error(f"{what}: field '{_where(path)}': contains U+{ord(bad.group()):04X} (a control character or lone surrogate); "
                            "only printable text is allowed.")
        elif isinstance(value, dict | list):
            if len(value) > limits.max_items:
                raise error(f"{what}: field '{_where(path)}': {len(value):,} entries; at most {limits.max_items:,} are allowed.")
            if isinstance(value, dict):
                for key, item in value.items():
                    if bad := CONTROL_OR_SPACE.search(key):
                        raise error(f"{what}: the field name {shown(key)} contains U+{ord(bad.group()):04X} (a control "
                                    "character or lone surrogate); field names are printable text.")
                    if len(key) > 200:
                        raise error(f"{what}: the field name {shown(key)} is {len(key):,} characters long; at most 200 are allowed.")
                    stack.append((item, f"{path}.{key}" if path else key, depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _where(path: str) -> str:
    return shown(path or "(top level)", quote=False)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def check_text(value: str, field: str, error: type[PlannerError], max_chars: int = 200) -> str:
    """A name or id from the command line: printable, one line, at most `max_chars`."""
    if len(value) > max_chars:
        raise error(f"{field}: {len(value):,} characters; at most {max_chars} are allowed ({shown(value)}).")
    if bad := CONTROL_OR_SPACE.search(value):
        raise error(f"{field}: contains U+{ord(bad.group()):04X} (a control character or lone surrogate); only printable "
                    "text is allowed.")
    return value
