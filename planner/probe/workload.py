"""Per-request prompt and output lengths: fixed, or drawn around the means with a seed.

`normal` draws N(mean, cv × mean); `lognormal` draws a log-normal with that mean and coefficient
of variation (σ² = ln(1 + cv²), μ = ln(mean) − σ²/2), the right-skewed shape of real chat
traffic. Both are rounded, kept at least 1 token, and clipped so a request fits the context
(prompt + output ≤ context_tokens; the output is kept, the prompt shortened).
"""

from __future__ import annotations

import math
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LengthDistribution = Literal["fixed", "normal", "lognormal"]


class Lengths(BaseModel):
    """Token lengths of a workload's requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_tokens: int = Field(ge=1, description="mean prompt length, tokens")
    output_tokens: int = Field(ge=1, description="mean output length, tokens")
    distribution: LengthDistribution = "fixed"
    cv: float = Field(0.25, ge=0, le=3, description="coefficient of variation (std ÷ mean) when drawn")
    context_tokens: int | None = Field(None, ge=2, description="prompt + output must fit this")
    seed: int = 0

    def sample(self, n: int, *, offset: int = 0) -> list[tuple[int, int]]:
        """(prompt, output) tokens for requests offset … offset + n − 1 (the same seed, the same list)."""
        rng = random.Random(self.seed)
        pairs = [(self._draw(rng, self.prompt_tokens), self._draw(rng, self.output_tokens))
                 for _ in range(offset + n)]
        return [self._fit(p, o) for p, o in pairs[offset:]]

    def describe(self) -> dict[str, object]:
        return self.model_dump()

    def _draw(self, rng: random.Random, mean: int) -> int:
        if self.distribution == "fixed" or self.cv == 0:
            return mean
        if self.distribution == "normal":
            value = rng.gauss(mean, self.cv * mean)
        else:
            sigma2 = math.log1p(self.cv**2)
            value = rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
        return max(1, round(value))

    def _fit(self, prompt: int, output: int) -> tuple[int, int]:
        if self.context_tokens is None:
            return prompt, output
        output = min(output, self.context_tokens - 1)
        return max(1, min(prompt, self.context_tokens - output)), output
