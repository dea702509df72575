"""Build prompts of roughly N tokens.

Filler is made of common short English words, each about one token in the
usual BPE/SentencePiece vocabularies. When the server can count tokens
(`/tokenize`), the word count is corrected until the length is close.
Each request gets a unique tag at the START of its prompt, so servers with
prefix caching (vLLM, SGLang, llama.cpp) cannot skip prefill for repeats and
make TTFT look better than real traffic would see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but "
    "have an they you were her she there one all we their has been if more when will would who so no "
    "time can than them some what out other into only its new two may first then do any like my now "
    "over such our man me even most made after also did many off before must well back through years "
    "much where your way down should because long each just those people how too little state good "
    "very make world still own see men work here between both life being under never day same another "
    "know while last might us great old year came since against go come right used take three"
).split()

_INSTRUCTION = "\nContinue the list of words above."
_MAX_ROUNDS = 5
_OVERHEAD_TOKENS = 12  # the unique tag and the instruction


def filler_words(n_words: int) -> str:
    """`n_words` words of deterministic filler text."""
    n_words = max(0, n_words)
    # Step by a number co-prime with the list length, so word pairs vary.
    return " ".join(_WORDS[(i * 7) % len(_WORDS)] for i in range(n_words))


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt body sized to `target_tokens`; `method` says how it was sized."""

    body: str
    target_tokens: int
    measured_tokens: int | None  # by the server's tokenizer, when it has one
    method: str  # "tokenizer" or "approx (1 word ≈ 1 token)"

    def render(self, request_id: int) -> str:
        """The prompt for one request: a unique tag first (defeats prefix caching), then the body."""
        return f"[{request_id:06d}] {self.body}"

    def render_tokens(self, request_id: int, tokens: int) -> str:
        """A prompt of about `tokens` tokens (for per-request lengths drawn around the target),
        at the words-per-token ratio the sizing found."""
        if tokens == self.target_tokens:
            return self.render(request_id)
        words = len(self.body.split()) - len(_INSTRUCTION.split())
        per_token = words / max(1, (self.measured_tokens or self.target_tokens) - _OVERHEAD_TOKENS)
        n_words = max(1, round(per_token * (tokens - _OVERHEAD_TOKENS)))
        return f"[{request_id:06d}] {filler_words(n_words)}{_INSTRUCTION}"

    def describe(self) -> dict[str, object]:
        return {"target_tokens": self.target_tokens, "measured_tokens": self.measured_tokens,
                "method": self.method}


def build_prompt(target_tokens: int, count_tokens: Callable[[str], int | None] | None = None) -> PromptTemplate:
    """A prompt template of about `target_tokens` tokens (the unique tag adds a few)."""
    target_tokens = max(1, target_tokens)
    # The tag and the instruction take a handful of tokens of the budget.
    overhead = _OVERHEAD_TOKENS
    n_words = max(1, target_tokens - overhead)

    def text_for(n: int) -> str:
        return filler_words(n) + _INSTRUCTION

    if count_tokens is None:
        return PromptTemplate(text_for(n_words), target_tokens, None, "approx (1 word ≈ 1 token)")
    count = count_tokens(f"[000000] {text_for(n_words)}")
    if count is None:
        return PromptTemplate(text_for(n_words), target_tokens, None, "approx (1 word ≈ 1 token)")
    best = (abs(count - target_tokens), n_words, count)
    for _ in range(_MAX_ROUNDS):
        if count == target_tokens:
            break
        # Scale the word count by the observed tokens-per-word ratio.
        per_word = max(0.05, count / n_words)
        new_n = max(1, round(n_words + (target_tokens - count) / per_word))
        if new_n == n_words:
            new_n = n_words + (1 if count < target_tokens else -1)
            new_n = max(1, new_n)
        n_words = new_n
        count = count_tokens(f"[000000] {text_for(n_words)}")
        if count is None:
            break
        best = min(best, (abs(count - target_tokens), n_words, count))
    _, n_words, count = best
    return PromptTemplate(text_for(n_words), target_tokens, count, "tokenizer")
