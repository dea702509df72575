"""A rule that fired: what every layer reports to the plan, in plain words."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Effect = Literal["excluded", "preferred", "warning", "info"]


class Finding(BaseModel):
    """A rule that fired: its id, what it did, and a sentence a person understands."""

    model_config = ConfigDict(frozen=True)

    rule: str
    effect: Effect
    message: str
    subject: str | None = None
