"""What a fine-tuning plan is asked: the method, LoRA's rank and target modules, the GPUs and the data.

    FineTuneRequest               the validated input of planner.finetune.planner.plan_finetune
    resolve_target_modules(value) a preset name, a comma-separated string or a list -> module names
    validated_request(**values)   a FineTuneRequest, or ConstraintError naming the bad field
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner.errors import ConstraintError
from planner.units import MILLION

Method = Literal["lora", "qlora", "full"]
METHODS: tuple[str, ...] = ("lora", "qlora", "full")
METHOD_NAMES = {"lora": "LoRA", "qlora": "QLoRA", "full": "Full fine-tuning"}

# The linear layers of a Llama-style decoder block, as Hugging Face names them.
LINEAR_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MLP_MODULES = frozenset({"gate_proj", "up_proj", "down_proj"})
TARGET_PRESETS: dict[str, tuple[str, ...]] = {
    "all-linear": LINEAR_MODULES,  # peft's "all-linear": every linear layer but the output head
    "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qv": ("q_proj", "v_proj"),  # the LoRA paper's choice (Hu et al. 2021, section 7.1)
}

MAX_GPUS_SEARCHED = 1024


class FineTuneRequest(BaseModel):
    """What to plan; validated so a bad value names its field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method
    rank: Annotated[int, Field(ge=1, le=4096)] = 16
    alpha: Annotated[float, Field(gt=0)] = 32.0
    target_modules: tuple[str, ...] = TARGET_PRESETS["all-linear"]
    gpus: Annotated[int, Field(ge=1, le=MAX_GPUS_SEARCHED)] = 1
    seq_len: Annotated[int, Field(ge=1, le=10_485_760)] = 2048
    micro_batch: Annotated[int, Field(ge=1, le=4096)] = 1
    gradient_checkpointing: bool = True
    flash_attention: bool = True
    zero_stage: Annotated[int, Field(ge=0, le=3)] = 0
    pure_bf16: bool = False
    tokens: Annotated[float, Field(ge=0, le=1e15)] = 10 * MILLION
    epochs: Annotated[float, Field(gt=0, le=1000)] = 1.0

    @field_validator("target_modules", mode="before")
    @classmethod
    def _targets(cls, value: object) -> object:
        return resolve_target_modules(value)


def resolve_target_modules(value: object) -> tuple[str, ...]:
    """A preset name ("all-linear", "attention", "qv"), a comma-separated string, or a list of module names."""
    if isinstance(value, str):
        preset = TARGET_PRESETS.get(value.strip().lower())
        if preset is not None:
            return preset
        value = value.replace(";", ",").split(",")
    names = [str(v).strip() for v in value or [] if str(v).strip()]  # type: ignore[union-attr]
    unknown = [n for n in names if n not in LINEAR_MODULES]
    if unknown or not names:
        raise ValueError(f"unknown module '{unknown[0] if unknown else ''}'; use one of {', '.join(TARGET_PRESETS)} "
                         f"or names from {', '.join(LINEAR_MODULES)}")
    return tuple(m for m in LINEAR_MODULES if m in names)  # canonical order, no duplicates


def validated_request(**values) -> FineTuneRequest:
    try:
        return FineTuneRequest(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "input"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "literal_error" and field == "method":
            message = f"must be one of {', '.join(METHODS)}"
        got = first.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and not isinstance(got, bool) else ""
        raise ConstraintError(f"Field '{field}': {message}{shown}.", field=field) from None


__all__ = [
    "LINEAR_MODULES",
    "MAX_GPUS_SEARCHED",
    "METHODS",
    "METHOD_NAMES",
    "TARGET_PRESETS",
    "FineTuneRequest",
    "Method",
    "resolve_target_modules",
    "validated_request",
]
