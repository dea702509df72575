"""Does a reply pass its sample's check? (passed, why) — the why is shown for every failure."""

from __future__ import annotations

import json
import math
import re

import jsonschema

from planner.quality.samples import ChoiceCheck, ExactCheck, JsonSchemaCheck, NumericCheck, RegexCheck, Sample

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def check_reply(sample: Sample, reply: str) -> tuple[bool, str]:
    c = sample.check
    if isinstance(c, ExactCheck):
        got = _normalise(reply, c.case_sensitive)
        want = _normalise(c.answer, c.case_sensitive)
        return (got == want, "exact match" if got == want else f"expected {c.answer!r}")
    if isinstance(c, RegexCheck):
        found = re.search(c.pattern, reply, re.IGNORECASE if c.ignore_case else 0)
        return (bool(found), "pattern found" if found else f"pattern {c.pattern!r} not found")
    if isinstance(c, ChoiceCheck):
        named = _first_choice(reply, c.choices)
        if named is None:
            return False, f"named none of the choices {c.choices}"
        return (named == c.answer, f"chose {named!r}" + ("" if named == c.answer else f", expected {c.answer!r}"))
    if isinstance(c, JsonSchemaCheck):
        try:
            doc = json.loads(_FENCE.sub("", reply.strip()))
        except ValueError:
            return False, "the reply is not JSON"
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(c.schema_).iter_errors(doc))
        return (error is None, "valid against the schema" if error is None else f"schema: {error.message}")
    if isinstance(c, NumericCheck):
        numbers = _NUMBER.findall(reply)
        if not numbers:
            return False, f"no number in the reply, expected {c.answer:g}"
        value = float(numbers[-1].replace(",", ""))
        allowed = max(c.tolerance, (c.relative_tolerance or 0.0) * abs(c.answer))
        ok = math.isclose(value, c.answer, rel_tol=0.0, abs_tol=allowed) if allowed else value == c.answer
        return ok, f"answered {value:g}" + ("" if ok else f", expected {c.answer:g} ± {allowed:g}")
    raise TypeError(f"unknown check {type(c).__name__}")  # pragma: no cover - the model admits only these


def _normalise(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.strip().split()).rstrip(".").strip()
    return text if case_sensitive else text.casefold()


def _first_choice(reply: str, choices: list[str]) -> str | None:
    best: tuple[int, str] | None = None
    for choice in choices:
        # a one-letter choice (A–D) keeps its case, or the article "a" would read as choice A
        found = re.search(rf"(?<!\w){re.escape(choice)}(?!\w)", reply, 0 if len(choice) == 1 else re.IGNORECASE)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), choice)
    return best[1] if best else None
