"""What the architect asks for, validated, with defaults that give a real plan at once.

`parse_constraints` turns a dict (a JSON file, a page's widgets, URL parameters) into
`Constraints`, or raises `ConstraintError` with one sentence naming the field and what is allowed.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from planner.catalog.input_limits import CONSTRAINTS_LIMITS, load_json_file, shown
from planner.errors import CONTROL_OR_SPACE, ConstraintError

Privacy = Literal["any", "no-third-party-api", "on-prem", "offline"]
Task = Literal["chat", "code", "reasoning", "multilingual", "long-context", "summarization", "extraction", "edge"]
FineTuning = Literal["none", "lora", "qlora", "full"]
Priority = Literal["quality", "balanced", "cost"]
Deployment = Literal["datacenter", "office", "edge"]

PRIVACY_LEVELS: tuple[str, ...] = Privacy.__args__  # type: ignore[attr-defined]
TASKS: tuple[str, ...] = Task.__args__  # type: ignore[attr-defined]
FINE_TUNING: tuple[str, ...] = FineTuning.__args__  # type: ignore[attr-defined]
PRIORITIES: tuple[str, ...] = Priority.__args__  # type: ignore[attr-defined]
DEPLOYMENTS: tuple[str, ...] = Deployment.__args__  # type: ignore[attr-defined]
# From this many requests a day a plan is a production service: two replicas by default, so one can fail.
PRODUCTION_REQUESTS_PER_DAY = 1_000
# Requests vary: the deployment accepts up to this many times the average input and output by default.
MAX_REQUEST_MULTIPLE = 4
# Below one request in 1,000 days a volume is a typing slip, and cost per token divides by it (5e-324 gave
# Infinity $/Mtok): traffic is 0 (no service) or at least this.
MIN_REQUESTS_PER_DAY = 0.001
# Ids a constraints file lists (models, owned GPUs): the catalogue holds ~120 models and ~60 devices, so a
# list of every model with its aliases fits; longer lists are a generated file, not a choice.
MAX_LISTED_MODELS = 1_000
MAX_OWNED_GPU_KINDS = 64


def _printable(text: str) -> str:
    """No control characters (an escape sequence would reach a terminal or the PDF) nor lone surrogates."""
    if bad := CONTROL_OR_SPACE.search(text):
        raise ValueError(f"contains U+{ord(bad.group()):04X} (a control character or lone surrogate); only printable text is allowed")
    return text


Id = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]


def _fine_tuning(value: object) -> object:
    if value is True:
        return "lora"
    if value is False or value is None:
        return "none"
    return value


def _once_each(ids: object) -> object:
    """Each id once, in first-mention order (case aside): a repeated entry adds nothing to the plan (10,000
    repeats took 2 GB and listed one alternative several times). Not-a-string entries stay for validation."""
    if not isinstance(ids, list):
        return ids
    seen: set[str] = set()
    return [i for i in ids if not isinstance(i, str) or not (i.lower() in seen or seen.add(i.lower()))]


class GpuCount(BaseModel):
    """GPUs the architect already owns (or may use): a device id and how many."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    gpu: Id
    count: Annotated[int, Field(ge=1, le=1024)] = 1


class Constraints(BaseModel):
    """The architect's constraints. Token counts are per request; money is US dollars."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: Annotated[str, Field(max_length=200), AfterValidator(_printable)] = "Untitled plan"
    privacy: Privacy = "any"
    requests_per_day: Annotated[float, Field(ge=0, le=1e10)] = 20_000
    input_tokens: Annotated[int, Field(ge=1, le=10_000_000)] = 1_000
    output_tokens: Annotated[int, Field(ge=1, le=1_000_000)] = 300
    peak_to_average: Annotated[float, Field(ge=1, le=100)] = 3.0
    max_ttft_s: Annotated[float | None, Field(gt=0, le=600)] = 2.0
    min_tokens_per_s: Annotated[float | None, Field(gt=0, le=10_000)] = 20.0
    context_tokens: Annotated[int | None, Field(ge=1, le=10_485_760)] = None
    gpus_available: Annotated[list[GpuCount] | None, Field(max_length=MAX_OWNED_GPU_KINDS)] = None
    budget_usd_per_month: Annotated[float | None, Field(ge=0)] = None
    task: Task = "chat"
    fine_tuning: Annotated[FineTuning, BeforeValidator(_fine_tuning)] = "none"
    commercial_use: bool = True
    # The fine-tuning data set, when fine_tuning is planned: tokens per epoch, and epochs.
    fine_tuning_tokens: Annotated[float, Field(gt=0, le=1e13)] = 100_000_000
    fine_tuning_epochs: Annotated[float, Field(gt=0, le=100)] = 3
    # Optional narrowing and cost assumptions (None = the catalogue's default).
    models: Annotated[list[Id] | None, Field(max_length=MAX_LISTED_MODELS), BeforeValidator(_once_each)] = None
    kv_cache_dtype: Literal["auto", "fp16", "fp8", "q8_0"] = "auto"
    gpu_usd_per_hour: Annotated[float | None, Field(ge=0, le=1000)] = None
    gpu_price_for: Id | None = None  # the device gpu_usd_per_hour prices; None = every rented device
    utilisation: Annotated[float, Field(gt=0, le=1)] = 1.0
    amortisation_months: Annotated[float | None, Field(gt=0, le=240)] = None
    power_usd_per_kwh: Annotated[float | None, Field(ge=0, le=10)] = None
    # The objective: what to maximise among the plans that meet every hard rule.
    priority: Priority = "balanced"
    min_capability: Annotated[float | None, Field(ge=0, le=5000)] = None  # on the task's benchmark
    max_capability_gap: Annotated[float | None, Field(ge=0, le=5000)] = None  # vs the best closed model, same benchmark
    needs_max_capability: bool = False  # the seed guide's "maximum capability needed"
    rapid_development: bool = False  # the seed guide's "rapid development": a hosted API is quicker to start
    embedded_in_product: bool = False  # the seed guide's "product embedding": the model ships inside your product
    deployment: Deployment | None = None  # None: office for GeForce/Apple/edge devices you own, edge for the edge task, else datacenter
    min_replicas: Annotated[int | None, Field(ge=1, le=1024)] = None
    # Hidden reasoning tokens per request for models run in a reasoning mode (None: the published figure per model).
    expected_reasoning_tokens: Annotated[int | None, Field(ge=0, le=1_000_000)] = None
    # Plan formats nobody published (you quantize the checkpoint yourself); off: only published checkpoints.
    allow_self_quantization: bool = False
    # The longest request the service must accept (the deployment's per-request limits); None: MAX_REQUEST_MULTIPLE
    # times the average input and output, never below them.
    max_input_tokens: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    max_output_tokens: Annotated[int | None, Field(ge=1, le=1_000_000)] = None  # None: 2 for a datacenter service of 1,000+ requests/day, else 1

    @field_validator("requests_per_day")
    @classmethod
    def _traffic_is_none_or_some(cls, value: float) -> float:
        if 0 < value < MIN_REQUESTS_PER_DAY:
            raise ValueError(f"must be 0 or at least {MIN_REQUESTS_PER_DAY:g} (one request in 1,000 days)")
        return value

    @model_validator(mode="after")
    def _context_covers_request(self) -> Constraints:
        if self.context_tokens is not None and self.context_tokens < self.input_tokens + self.output_tokens:
            raise ValueError(
                f"context_tokens ({self.context_tokens}) must hold input_tokens + output_tokens "
                f"({self.input_tokens + self.output_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _longest_covers_average(self) -> Constraints:
        for field, longest, average in (("max_input_tokens", self.max_input_tokens, self.input_tokens),
                                        ("max_output_tokens", self.max_output_tokens, self.output_tokens)):
            if longest is not None and longest < average:
                raise ValueError(f"{field} ({longest:,}) must be at least the average ({average:,})")
        return self

    @model_validator(mode="after")
    def _owned_gpus_listed_once(self) -> Constraints:
        if self.gpus_available is not None:
            if not self.gpus_available:
                raise ValueError("gpus_available is empty: list the GPUs you own, or leave it out (null) to rent or buy")
            ids = [g.gpu.lower() for g in self.gpus_available]
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"gpus_available lists {shown(repeated[0])} more than once: give each GPU once, with its count")
        return self

    @property
    def longest_request_tokens(self) -> int:
        """Input + output of the longest request the deployment must accept: as stated, else MAX_REQUEST_MULTIPLE
        times each average (and at least the stated context)."""
        longest = ((self.max_input_tokens or MAX_REQUEST_MULTIPLE * self.input_tokens)
                   + (self.max_output_tokens or MAX_REQUEST_MULTIPLE * self.output_tokens))
        return max(longest, self.context_tokens or 0)

    @property
    def context_needed(self) -> int:
        """Tokens one sequence must hold: the stated context, else one request's input + output."""
        return self.context_tokens or self.input_tokens + self.output_tokens

    @property
    def renting(self) -> bool:
        return self.gpus_available is None

    @property
    def api_allowed(self) -> bool:
        return self.privacy == "any"


def parse_constraints(data: dict[str, Any]) -> Constraints:
    """Validate a dict into `Constraints`; one clear sentence on failure."""
    if not isinstance(data, dict):
        raise ConstraintError("The constraints must be a JSON object of field names to values.")
    unknown = sorted(set(data) - set(Constraints.model_fields))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(Constraints.model_fields), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConstraintError(
            f"Unknown field {shown(unknown[0])}.{hint} Allowed fields: {', '.join(Constraints.model_fields)}.", field=unknown[0]
        )
    try:
        return Constraints.model_validate(data)
    except ValidationError as exc:
        raise _friendly(exc) from None


def load_constraints(path: str | Path) -> Constraints:
    """Read a constraints JSON file, within the door's limits (planner.catalog.input_limits)."""
    return parse_constraints(load_json_file(path, f"The constraints file {shown(str(path))}", CONSTRAINTS_LIMITS, ConstraintError))


_ALLOWED = {
    "privacy": f"one of {', '.join(PRIVACY_LEVELS)}",
    "task": f"one of {', '.join(TASKS)}",
    "fine_tuning": f"one of {', '.join(FINE_TUNING)} (or true/false)",
    "gpus_available": "a list of {\"gpu\": id, \"count\": n} objects, or null to rent",
    "kv_cache_dtype": "one of auto, fp16, fp8, q8_0",
    "priority": f"one of {', '.join(PRIORITIES)}",
    "deployment": f"one of {', '.join(DEPLOYMENTS)} (or null to infer it)",
}


def _friendly(exc: ValidationError) -> ConstraintError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    field = loc[0] if loc else "constraints"
    where = ".".join(loc) if loc else "constraints"
    message = first["msg"].removeprefix("Value error, ")
    allowed = _ALLOWED.get(field)
    if first["type"] in {"literal_error", "enum"} and allowed:
        message = f"must be {allowed}"
    elif first["type"] == "too_long" and "max_length" in first.get("ctx", {}):
        message = f"at most {first['ctx']['max_length']:,} entries are allowed (each id once)"
    got = first.get("input")
    got_text = f" (got {shown(got)})" if isinstance(got, str | int | float | bool) and not loc == [] else ""
    if not loc:
        return ConstraintError(f"Invalid constraints: {message}.", field=_field_in(message))
    return ConstraintError(f"Field {shown(where)}: {message}{got_text}.", field=field)


def _field_in(message: str) -> str | None:
    for name in Constraints.model_fields:
        if message.startswith(name):
            return name
    return None
