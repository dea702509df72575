"""Sample files for the quality check: one JSON object per line, a prompt and the check its answer must pass.

    {"id": "capital-fr", "prompt": "...", "check": {"type": "exact", "answer": "Paris"}}

Checks: `exact` (the answer, ignoring case, surrounding space and a final full stop; `case_sensitive`
to keep case), `regex` (`pattern` found anywhere; `ignore_case`), `choice` (`choices` and the right
`answer`: the first choice named in the reply must be it), `json_schema` (the reply, code fences
stripped, is JSON valid against `schema`), `numeric` (the last number in the reply within `tolerance`
of `answer`, absolute, or `relative_tolerance`). Optional: `system`, `max_tokens`, `source`, `licence`.
Every bad line is reported with its number, all at once, and nothing is sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from planner.quality.errors import SampleFileError

MAX_SAMPLES = 10_000


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExactCheck(_Check):
    type: Literal["exact"]
    answer: str = Field(min_length=1)
    case_sensitive: bool = False


class RegexCheck(_Check):
    type: Literal["regex"]
    pattern: str = Field(min_length=1)
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ChoiceCheck(_Check):
    type: Literal["choice"]
    choices: list[str] = Field(min_length=2)
    answer: str

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> ChoiceCheck:
        if self.answer not in self.choices:
            raise ValueError(f"answer {self.answer!r} is not one of the choices {self.choices}")
        return self


class JsonSchemaCheck(_Check):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON schema: {exc.message}") from None
        return value


class NumericCheck(_Check):
    type: Literal["numeric"]
    answer: float
    tolerance: float = Field(default=0.0, ge=0)
    relative_tolerance: float | None = Field(default=None, ge=0)


Check = Annotated[ExactCheck | RegexCheck | ChoiceCheck | JsonSchemaCheck | NumericCheck, Field(discriminator="type")]


class Sample(BaseModel):
    """One prompt and its check."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    check: Check
    system: str | None = None
    max_tokens: int = Field(default=64, ge=1, le=32_768)
    source: str | None = None
    licence: str | None = None


def parse_samples(text: str, *, name: str = "the sample file") -> list[Sample]:
    """Every sample of a JSONL text; SampleFileError listing each bad line with its number."""
    samples: list[Sample] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        try:
            sample = Sample.model_validate(doc)
        except ValidationError as exc:
            problems.append(f"line {number}: {_first_error(exc)}")
            continue
        if sample.id in seen:
            problems.append(f"line {number}: id {sample.id!r} repeats line {seen[sample.id]}")
            continue
        seen[sample.id] = number
        samples.append(sample)
    if problems:
        raise SampleFileError(name, problems)
    if not samples:
        raise SampleFileError(name, ["no samples: give one JSON object per line"])
    if len(samples) > MAX_SAMPLES:
        raise SampleFileError(name, [f"{len(samples):,} samples; at most {MAX_SAMPLES:,} are allowed"])
    return samples


def load_samples(path: str | Path) -> list[Sample]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SampleFileError(str(path), ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleFileError(str(path), [f"cannot be read: {exc}"]) from None
    return parse_samples(text, name=str(path))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in _CHECK_TAGS)) or "the line"
    where = where.replace("schema_", "schema")
    if err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
        return f"field '{where}.type' must be one of {', '.join(sorted(_CHECK_TAGS))}"
    if err["type"] == "missing":
        return f"field '{where}' is missing"
    if err["type"] == "extra_forbidden":
        return f"field '{where}' is not allowed (allowed: id, prompt, check, system, max_tokens, source, licence)"
    message = err["msg"].removeprefix("Value error, ")
    return f"field '{where}': {message}"


_CHECK_TAGS = {"exact", "regex", "choice", "json_schema", "numeric"}
