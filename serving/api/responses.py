"""The JSON shapes of answers and stream chunks, as OpenAI's API (and its client) define them.

`CompletionFormat` is `/v1/completions` (`text_completion`), `ChatFormat` is
`/v1/chat/completions` (`chat.completion`, streamed as `chat.completion.chunk`).
"""

from dataclasses import dataclass
from typing import Any

from serving.api.text import ChoiceText


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(frozen=True)
class Header:
    """What every object of one answer shares."""

    id: str
    created: int
    model: str

    def json(self, object_type: str) -> dict[str, Any]:
        return {"id": self.id, "object": object_type, "created": self.created, "model": self.model}


class CompletionFormat:
    id_prefix = "cmpl"

    def response(self, header: Header, choices: list[ChoiceText], usage: Usage) -> dict[str, Any]:
        return header.json("text_completion") | {
            "choices": [
                {
                    "index": c.index,
                    "text": c.text,
                    "logprobs": None,
                    "finish_reason": c.finish_reason,
                }
                for c in choices
            ],
            "usage": usage.json(),
        }

    def opening_chunk(self, header: Header, index: int) -> dict[str, Any] | None:
        return None

    def chunk(
        self, header: Header, index: int, text: str, finish_reason: str | None
    ) -> dict[str, Any]:
        choice = {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return header.json("text_completion") | {"choices": [choice]}

    def usage_chunk(self, header: Header, usage: Usage) -> dict[str, Any]:
        return header.json("text_completion") | {"choices": [], "usage": usage.json()}


class ChatFormat:
    id_prefix = "chatcmpl"

    def response(self, header: Header, choices: list[ChoiceText], usage: Usage) -> dict[str, Any]:
        return header.json("chat.completion") | {
            "choices": [
                {
                    "index": c.index,
                    "message": {"role": "assistant", "content": c.text},
                    "logprobs": None,
                    "finish_reason": c.finish_reason,
                }
                for c in choices
            ],
            "usage": usage.json(),
        }

    def _chunk(
        self, header: Header, index: int, delta: dict[str, str], finish_reason: str | None
    ) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return header.json("chat.completion.chunk") | {"choices": [choice]}

    def opening_chunk(self, header: Header, index: int) -> dict[str, Any] | None:
        """OpenAI's first chunk of each choice names the role, with empty content."""
        return self._chunk(header, index, {"role": "assistant", "content": ""}, None)

    def chunk(
        self, header: Header, index: int, text: str, finish_reason: str | None
    ) -> dict[str, Any]:
        return self._chunk(header, index, {"content": text} if text else {}, finish_reason)

    def usage_chunk(self, header: Header, usage: Usage) -> dict[str, Any]:
        return header.json("chat.completion.chunk") | {"choices": [], "usage": usage.json()}


Format = CompletionFormat | ChatFormat
