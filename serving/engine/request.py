"""What the engine is asked to generate and what it hands back, token by token.

The HTTP layer turns an OpenAI request into one `GenerationRequest` per choice (`n` of them),
consumes the `TokenEvent`s of each, and handles text-level concerns itself (detokenising, stop
strings, usage). The engine deals only in token ids.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class FinishReason(StrEnum):
    """Why a sequence ended, named as OpenAI names it."""

    STOP = "stop"
    """The model produced its end-of-sequence token (or the caller aborted on a stop string)."""
    LENGTH = "length"
    """`max_tokens` reached, or the model's context is full."""
    ABORTED = "aborted"
    """The caller went away or cancelled; never shown to a client."""


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token. `temperature == 0` is greedy decoding."""

    max_tokens: int = 16
    min_tokens: int = 0
    """No end-of-sequence token before this many tokens (vLLM's `min_tokens`, transformers'
    `min_new_tokens`): benchmarks use it to give every system the same number of tokens."""
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    """Same seed, prompt, adapter and parameters give the same tokens."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0 <= self.min_tokens <= self.max_tokens:
            raise ValueError("min_tokens must be between 0 and max_tokens")
        if self.temperature < 0:
            raise ValueError("temperature must be at least 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


@dataclass(frozen=True)
class GenerationRequest:
    """One sequence to generate: a tokenised prompt, an adapter (None = base model) and sampling."""

    request_id: str
    prompt_ids: list[int]
    adapter_id: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class TokenEvent:
    """One generated token; the last event of a sequence carries its `finish_reason`."""

    token_id: int | None
    """None only on a final event that adds no token (e.g. aborted, or the context is full)."""
    finish_reason: FinishReason | None = None
