"""Reasoning tokens: which models think before they answer, in which modes, and how many tokens that costs.

Two data files:
  data/reasoning_tokens.csv   one row per (model, mode) of every reasoning-capable catalogue model, and of the
                              closed APIs where a source measured their tokens: whether the mode writes reasoning
                              tokens, the published per-request figure and what it was measured on, and how to
                              switch reasoning off.
  data/reasoning_billing.csv  one row per closed API (an api_prices.csv id): reasoning tokens are billed as output,
                              with the provider's documentation as the source.

`typical_reasoning_tokens` is the figure the source publishes for one request in that mode: output tokens per
question on a named benchmark (DeepSeek-V3.2 report Table 3, Kimi K2.5 report Table 5, the R1-0528 card) or on one
named prompt (LRMTokenEconomy). The sources count everything the request writes, reasoning and answer together;
on these benchmarks the answer is a small part. A blank figure means none was published, never zero.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from planner.catalog.loading import DATA_DIR, read_records
from planner.catalog.records import Flag, OptStr, Record
from planner.errors import CatalogError, LookupFailed

REASONING_FILE = "reasoning_tokens.csv"
BILLING_FILE = "reasoning_billing.csv"


def _json_object(value: object) -> object:
    """A CSV cell holding a JSON object; a cell that is not one is refused with what was found."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ValueError("a JSON object like {\"enable_thinking\": false} is expected")
    return value


class ReasoningMode(Record):
    """One mode of one model: does it reason, how many tokens a request spends, how to turn reasoning off."""

    model_id: Annotated[str, Field(min_length=3)]  # a models.csv id, or an api_prices.csv id for a closed API
    mode: Annotated[str, Field(min_length=1)]  # e.g. default, thinking, non-thinking, low, medium, high
    default: Flag = False  # the mode a request gets when it names none (as the source documents it)
    reasons: Flag
    typical_reasoning_tokens: Annotated[int | None, Field(gt=0, le=1_000_000)] = None
    benchmark: OptStr = None  # what the figure was measured on
    can_disable: OptStr = None  # the switch to a non-reasoning mode, or why there is none
    # The chat-template arguments that select this mode where it is not the template's default, as the source names
    # them (Qwen3: {"enable_thinking": false}); the deployment files make them the server's default.
    chat_template_kwargs: Annotated[dict[str, bool | int | float | str] | None, BeforeValidator(_json_object)] = None

    @model_validator(mode="before")
    @classmethod
    def _blank_cells_are_absent(cls, values: object) -> object:
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @model_validator(mode="after")
    def _figure_needs_context(self) -> ReasoningMode:
        if self.typical_reasoning_tokens is not None and not self.reasons:
            raise ValueError("a mode that does not reason cannot carry a reasoning-token figure")
        if self.typical_reasoning_tokens is not None and not self.benchmark:
            raise ValueError("a reasoning-token figure needs the benchmark it was measured on")
        return self


class ReasoningBilling(Record):
    """How a closed API bills the reasoning tokens it writes."""

    api_id: Annotated[str, Field(min_length=3)]
    reasoning_billed_as: Literal["output"]


@functools.lru_cache(maxsize=4)
def load_reasoning_modes(data_dir: Path = DATA_DIR) -> dict[str, tuple[ReasoningMode, ...]]:
    """Modes keyed by lower-case model id, in file order; a bad, repeated or second-default row names file and row."""
    path = Path(data_dir) / REASONING_FILE
    if not path.exists():
        return {}
    out: dict[str, list[ReasoningMode]] = {}
    for row_number, record in enumerate(read_records(path, ReasoningMode), start=2):
        modes = out.setdefault(record.model_id.lower(), [])
        if any(m.mode.lower() == record.mode.lower() for m in modes):
            raise CatalogError(f"{REASONING_FILE}, row {row_number}, field 'mode': a second '{record.mode}' row for {record.model_id}.")
        if record.default and any(m.default for m in modes):
            raise CatalogError(f"{REASONING_FILE}, row {row_number}, field 'default': {record.model_id} already has a default mode.")
        modes.append(record)
    return {key: tuple(modes) for key, modes in out.items()}


@functools.lru_cache(maxsize=4)
def load_reasoning_billing(data_dir: Path = DATA_DIR) -> dict[str, ReasoningBilling]:
    """Billing rows keyed by lower-case api id."""
    path = Path(data_dir) / BILLING_FILE
    if not path.exists():
        return {}
    out: dict[str, ReasoningBilling] = {}
    for row_number, record in enumerate(read_records(path, ReasoningBilling), start=2):
        if record.api_id.lower() in out:
            raise CatalogError(f"{BILLING_FILE}, row {row_number}, field 'api_id': a second row for {record.api_id}.")
        out[record.api_id.lower()] = record
    return out


def reasoning_modes(model_id: str, data_dir: Path = DATA_DIR) -> tuple[ReasoningMode, ...]:
    """Every recorded mode of the model; empty for a model that never reasons (or is not recorded)."""
    return load_reasoning_modes(data_dir).get(model_id.lower(), ())


def is_reasoning_model(model_id: str, data_dir: Path = DATA_DIR) -> bool:
    """True when some mode of the model writes reasoning tokens."""
    return any(m.reasons for m in reasoning_modes(model_id, data_dir))


def non_thinking_mode(model_id: str, data_dir: Path = DATA_DIR) -> str | None:
    """The name of the model's mode that writes no reasoning tokens; None for a reasoning-only or unrecorded model."""
    return next((m.mode for m in reasoning_modes(model_id, data_dir) if not m.reasons), None)


def expected_reasoning_tokens(model_id: str, mode: str | None = None, data_dir: Path = DATA_DIR) -> tuple[int, str] | None:
    """Published reasoning tokens per request and their source, or None where nothing is published.

    A named mode gives that mode's figure (0 for a mode that does not reason: the mode itself is the source).
    With no mode: the model's default mode if the source names one, else the largest published figure among
    its reasoning modes, so a plan errs towards more tokens rather than fewer. An unknown mode name raises
    LookupFailed listing the modes there are.
    """
    modes = reasoning_modes(model_id, data_dir)
    if not modes:
        return None
    if mode is not None:
        chosen = next((m for m in modes if m.mode.lower() == mode.strip().lower()), None)
        if chosen is None:
            raise LookupFailed(f"reasoning mode '{mode}' for {model_id}: use one of {', '.join(m.mode for m in modes)}.")
        return _figure(chosen)
    default = next((m for m in modes if m.default), None)
    if default is not None:
        return _figure(default)
    published = [m for m in modes if m.reasons and m.typical_reasoning_tokens is not None]
    if not published:
        return None
    return _figure(max(published, key=lambda m: m.typical_reasoning_tokens or 0))


def reasoning_billed_as(api_id: str, data_dir: Path = DATA_DIR) -> tuple[str, str] | None:
    """('output', source) for a closed API whose provider bills reasoning tokens as output; None if not recorded."""
    found = load_reasoning_billing(data_dir).get(api_id.lower())
    return (found.reasoning_billed_as, found.source) if found else None


def _figure(mode: ReasoningMode) -> tuple[int, str] | None:
    if not mode.reasons:
        return 0, mode.source
    if mode.typical_reasoning_tokens is None:
        return None
    return mode.typical_reasoning_tokens, mode.source


def chat_template_kwargs(model_id: str, mode: str | None, data_dir: Path = DATA_DIR) -> dict | None:
    """The chat-template arguments that select `mode` of the model (None where the template's default is that mode,
    or where the source names no such argument)."""
    found = next((m for m in reasoning_modes(model_id, data_dir) if mode and m.mode.lower() == mode.lower()), None)
    return dict(found.chat_template_kwargs) if found and found.chat_template_kwargs else None
