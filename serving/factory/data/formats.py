"""From one contribution's bytes to training examples: plain text, JSONL alpaca, JSONL chat.

The rules, exactly (lines are numbered from 1 and end at ``\\n``; a ``\\r`` before it is dropped):

- **Every format**: the bytes must be UTF-8 (a leading BOM is ignored).
- **text**: examples are paragraphs, i.e. runs of non-blank lines separated by one or more
  blank (empty or whitespace-only) lines. A paragraph of more than ``max_words``
  whitespace-separated words becomes several examples of at most ``max_words`` words each,
  cut between words, each keeping the original text (line breaks included) between its first
  and last word. Words, not tokens: the examples of a Datanet version are then the same whatever
  base model is trained on them; the trainer truncates to its own context. An example's line is
  the line of its first word. A contribution with no text at all is refused.
- **alpaca** (JSONL): one JSON object per non-blank line with ``instruction`` (non-empty
  string), optional ``input`` (string or null) and ``output`` (non-empty string); other keys are
  ignored. The prompt is one user message, the instruction followed by ``"\\n\\n"`` and the input
  when the input is not empty; the completion is the output.
- **chat** (JSONL): one JSON object per non-blank line with ``messages``, a non-empty list of
  ``{"role": "system" | "user" | "assistant", "content": string}``; assistant contents must not
  be empty and the last message must be the assistant's (so a row has at least one assistant
  turn and nothing after it is silently dropped). The prompt is every message before the last
  one, the completion the last assistant message: earlier assistant turns are context.

Detection (when no format is declared): the first non-blank line decides. If it parses as a
JSON object, the contribution is JSONL: chat if that object has ``messages``, alpaca if it has
``instruction``, refused otherwise; every later row must then be of the same kind. Anything
else is text.

One bad row refuses the whole contribution, and every bad row is listed with its line and the
reason (`DatasetError`): training data is never a silent subset of what was approved.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DEFAULT_MAX_WORDS = 512
MAX_LISTED_PROBLEMS = 20
"""Problems spelled out in an error's message; `DatasetError.problems` keeps them all."""
ROLES = frozenset({"system", "user", "assistant"})
WORD = re.compile(r"\S+")


class Format(StrEnum):
    TEXT = "text"
    ALPACA = "alpaca"
    CHAT = "chat"


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """One training example, traceable to the row of the contribution it came from.

    The prompt/completion split lets the trainer compute the loss on the completion only;
    a text example has no prompt.
    """

    contribution_id: int
    line: int
    """1-based line of the contribution where the example starts."""
    index: int
    """0-based position among the contribution's examples (a long line may give several)."""
    format: Format
    prompt: tuple[Message, ...]
    completion: str


@dataclass(frozen=True)
class Problem:
    """Why (part of) a contribution cannot be trained on; ``line`` is None for the whole."""

    contribution_id: int
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"contribution {self.contribution_id}: {where}{self.reason}"


class DatasetError(Exception):
    """Contributions that cannot be trained on, with every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        shown = [str(p) for p in self.problems[:MAX_LISTED_PROBLEMS]]
        hidden = len(self.problems) - len(shown)
        if hidden:
            shown.append(f"... and {hidden} more")
        super().__init__("; ".join(shown))


def parse_contribution(
    contribution_id: int,
    data: bytes,
    declared: Format | None = None,
    max_words: int = DEFAULT_MAX_WORDS,
) -> tuple[Format, list[Example]]:
    """The contribution's format (`declared`, else detected) and its examples, or a
    `DatasetError` listing every bad row."""
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    text = _decode(contribution_id, data)
    lines = text.replace("\r\n", "\n").split("\n")  # not splitlines(): JSON may hold U+2028
    fmt = declared or _detect(contribution_id, lines)
    if fmt is Format.TEXT:
        examples = list(_paragraphs(contribution_id, lines, max_words))
        if not examples:
            raise DatasetError([Problem(contribution_id, None, "no text")])
        return fmt, examples
    return fmt, _jsonl(contribution_id, lines, fmt)


def _decode(contribution_id: int, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = Problem(contribution_id, line, f"not UTF-8 (byte {exc.start})")
        raise DatasetError([problem]) from None


def _detect(contribution_id: int, lines: list[str]) -> Format:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            return Format.TEXT
        if not isinstance(row, dict):
            return Format.TEXT
        if "messages" in row:
            return Format.CHAT
        if "instruction" in row:
            return Format.ALPACA
        reason = "a JSON object with neither 'messages' (chat) nor 'instruction' (alpaca)"
        raise DatasetError([Problem(contribution_id, number, reason)])
    raise DatasetError([Problem(contribution_id, None, "no text")])


def _paragraphs(contribution_id: int, lines: list[str], max_words: int) -> Iterator[Example]:
    """Blank-line separated paragraphs, cut every `max_words` words."""
    paragraph: list[tuple[int, str]] = []
    index = 0
    for number, line in [*enumerate(lines, 1), (len(lines) + 1, "")]:
        if line.strip():
            paragraph.append((number, line))
            continue
        if not paragraph:
            continue
        # Words with their line, and their span in the paragraph joined by "\n".
        joined = "\n".join(text for _, text in paragraph)
        starts = [0]
        for _, text in paragraph:
            starts.append(starts[-1] + len(text) + 1)
        words = [(m.start(), m.end()) for m in WORD.finditer(joined)]
        for first in range(0, len(words), max_words):
            chunk = words[first : first + max_words]
            start, end = chunk[0][0], chunk[-1][1]
            row = bisect.bisect_right(starts, start) - 1
            yield Example(
                contribution_id, paragraph[row][0], index, Format.TEXT, (), joined[start:end]
            )
            index += 1
        paragraph = []


def _jsonl(contribution_id: int, lines: list[str], fmt: Format) -> list[Example]:
    examples: list[Example] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            problems.append(Problem(contribution_id, number, f"not JSON ({exc})"))
            continue
        try:
            if not isinstance(row, dict):
                raise _RowError("not a JSON object")
            prompt, completion = _alpaca(row) if fmt is Format.ALPACA else _chat(row)
        except _RowError as exc:
            problems.append(Problem(contribution_id, number, str(exc)))
            continue
        examples.append(Example(contribution_id, number, len(examples), fmt, prompt, completion))
    if problems:
        raise DatasetError(problems)
    if not examples:
        raise DatasetError([Problem(contribution_id, None, "no rows")])
    return examples


class _RowError(Exception):
    """One row's reason, turned into a `Problem` with its line by `_jsonl`."""


def _alpaca(row: dict[str, Any]) -> tuple[tuple[Message, ...], str]:
    instruction = _text(row, "instruction", required=True)
    given = _text(row, "input", required=False)
    output = _text(row, "output", required=True)
    user = f"{instruction}\n\n{given}" if given else instruction
    return (Message("user", user),), output


def _text(row: dict[str, Any], key: str, required: bool) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _RowError(f"'{key}' must be a string" if key in row else f"missing '{key}'")
    if required and not value.strip():
        raise _RowError(f"'{key}' is empty")
    return value


def _chat(row: dict[str, Any]) -> tuple[tuple[Message, ...], str]:
    raw = row.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _RowError("'messages' must be a non-empty list")
    messages = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise _RowError(f"messages[{i}] is not an object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise _RowError(f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}")
        if not isinstance(content, str):
            raise _RowError(f"messages[{i}].content must be a string")
        if role == "assistant" and not content.strip():
            raise _RowError(f"messages[{i}] is an empty assistant message")
        messages.append(Message(role, content))
    if messages[-1].role != "assistant":
        if not any(m.role == "assistant" for m in messages):
            raise _RowError("no assistant message")
        raise _RowError("the last message must be the assistant's")
    return tuple(messages[:-1]), messages[-1].content
