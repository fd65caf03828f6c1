"""The request bodies of `/v1/completions` and `/v1/chat/completions`, validated.

Fields follow OpenAI's API reference. Unknown fields are ignored (clients and SDK versions add
new ones all the time), but features that exist in OpenAI's API and that this service does not
implement (log probabilities, echo, penalties, tools, ...) are refused with 400 naming the
parameter, so that a client never silently gets something other than what it asked for.
"""

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from serving.api.errors import ApiError

MAX_STOP = 4
"""OpenAI's limit on stop sequences."""
MAX_SEED = 2**63 - 1


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class Sampling(BaseModel):
    """The fields both endpoints share."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1)] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: (
        str
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=MAX_STOP)]
        | None
    ) = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    min_tokens: Annotated[int, Field(ge=0)] = 0
    """vLLM's extension: no end-of-sequence token before this many tokens (stop strings still
    apply); the `openai` client sends it with `extra_body`."""
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def unsupported(self) -> dict[str, bool]:
        """{param: whether the request uses it} for features this service does not have."""
        return {
            "presence_penalty": bool(self.presence_penalty),
            "frequency_penalty": bool(self.frequency_penalty),
            "logit_bias": bool(self.logit_bias),
        }

    @model_validator(mode="after")
    def _check(self) -> "Sampling":
        if self.stop == "":
            raise ValueError("stop: must not be an empty string")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options: only allowed when stream is true")
        for param, used in self.unsupported().items():
            if used:
                raise ValueError(f"{param}: not supported by this service")
        return self


Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(Sampling):
    prompt: Prompt
    max_tokens: Annotated[int, Field(ge=1)] | None = 16
    logprobs: int | None = None
    echo: bool = False
    best_of: int | None = None
    suffix: str | None = None

    def unsupported(self) -> dict[str, bool]:
        return super().unsupported() | {
            "logprobs": self.logprobs is not None,
            "echo": self.echo,
            "best_of": self.best_of not in (None, self.n),
            "suffix": bool(self.suffix),
        }


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatCompletionRequest(Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None

    def unsupported(self) -> dict[str, bool]:
        return super().unsupported() | {
            "logprobs": bool(self.logprobs),
            "top_logprobs": self.top_logprobs is not None,
            "tools": bool(self.tools),
            "tool_choice": self.tool_choice not in (None, "none"),
            "response_format": (self.response_format or {}).get("type", "text") != "text",
        }

    def completion_limit(self) -> int | None:
        """`max_completion_tokens` (OpenAI's current name), else the deprecated `max_tokens`."""
        return self.max_completion_tokens or self.max_tokens


_TYPE_NAMES = {"str", "int", "float", "bool", "list", "dict", "none"}
Body = TypeVar("Body", bound=BaseModel)


def _param(loc: tuple[int | str, ...]) -> str | None:
    """OpenAI's way of naming a nested parameter: `messages.[0].content`.

    Pydantic puts the tried member of a union into the location (`prompt.list[int].0`); those
    parts are dropped.
    """
    parts = [
        f"[{p}]" if isinstance(p, int) else p
        for p in loc
        if isinstance(p, int) or not (p in _TYPE_NAMES or "[" in p or "-" in p)
    ]
    return ".".join(parts) or None


def parse_body(body: bytes, model: type[Body]) -> tuple[Body, Any]:
    """Validate a JSON request body; return the model and the decoded JSON (for hashing).

    Raises `ApiError(400)` naming the first offending parameter.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    try:
        return model.model_validate(data), data
    except ValidationError as exc:
        raise _bad_request(exc) from exc


def _bad_request(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    param = _param(first["loc"])
    if param is None and ": " in message:  # a model-level check names its parameter
        param, message = message.split(": ", 1)
    if first["type"] == "missing":
        return ApiError(400, f"Missing required parameter: '{param}'.", param=param)
    if param == "prompt":  # a union: pydantic's first complaint is about the string form only
        message = "must be a string, a list of strings, or token ids (a list or list of lists)"
    return ApiError(400, f"{param}: {message}" if param else message, param=param)
