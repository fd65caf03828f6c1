"""Token ids to client text, one token at a time: incremental detokenising and stop strings.

Two things must never reach a streaming client: half of a multi-byte character (byte-level BPE
splits UTF-8 characters across tokens) and the beginning of a stop string that later completes
(OpenAI's contract is that the stop string and everything after it are not returned). So text
is released only once it is final, and a choice's whole text is exactly what was streamed.
"""

from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from serving.engine.request import FinishReason, TokenEvent

PROMPT_CONTEXT = 5
"""Prompt tokens decoded along with the output: tokenizers such as SentencePiece render a
token's leading space only after another token, so the first output token needs a left context."""
REPLACEMENT = "\ufffd"


class IncrementalDetokenizer:
    """Text deltas of a growing token sequence, released only when they are complete.

    The method of Hugging Face's text-generation-inference (also vLLM's): decode a short window
    before and after the newest token and emit the difference, unless it ends in U+FFFD, the
    mark of an incomplete UTF-8 sequence, in which case wait for the next token.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_ids: list[int]) -> None:
        self._tokenizer = tokenizer
        self._ids = list(prompt_ids[-PROMPT_CONTEXT:])
        self._prefix = 0  # start of the window decoded for context
        self._read = len(self._ids)  # end of what has been emitted

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _delta(self) -> str:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        return after[len(before) :]

    def push(self, token_id: int) -> str:
        """Add one token; return the text that became final (often all of it, maybe none)."""
        self._ids.append(token_id)
        delta = self._delta()
        if not delta or delta.endswith(REPLACEMENT):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return delta

    def flush(self) -> str:
        """The sequence is over: return what was held back, incomplete characters as U+FFFD."""
        delta = self._delta()
        self._prefix = self._read = len(self._ids)
        return delta


class StopBuffer:
    """Cuts text at the first stop string, holding back any tail that could begin one."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = stops
        self._pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Add text; return what is safe to release and whether a stop string was found.

        The stop string completed first ends the text, as if generation had stopped there (of
        two completed at once, the one starting first): the text before it is released and
        nothing more follows. Only the unreleased text needs searching, since released text
        never ends in a stop prefix.
        """
        self._pending += text
        found = [
            (start + len(stop), start)
            for stop in self._stops
            if (start := self._pending.find(stop)) >= 0
        ]
        if found:
            released, self._pending = self._pending[: min(found)[1]], ""
            return released, True
        keep = self._possible_stop_start()
        cut = len(self._pending) - keep
        released, self._pending = self._pending[:cut], self._pending[cut:]
        return released, False

    def flush(self) -> str:
        """The text is over without a stop string: release what was held back."""
        released, self._pending = self._pending, ""
        return released

    def _possible_stop_start(self) -> int:
        """Length of the longest tail of the pending text that is a proper prefix of a stop."""
        longest = max((len(stop) for stop in self._stops), default=1)
        for size in range(min(len(self._pending), longest - 1), 0, -1):
            tail = self._pending[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0


@dataclass
class ChoiceText:
    """One choice's text as it grows, with its token count and, at the end, finish reason."""

    index: int
    detokenizer: IncrementalDetokenizer
    stops: StopBuffer
    tokens: int = 0
    finish_reason: str | None = None
    stopped_early: bool = False
    """A stop string ended the choice while the engine was still generating it."""
    _parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, event: TokenEvent) -> str:
        """Take one engine event (not ABORTED); return the text it releases to the client."""
        released = ""
        if event.token_id is not None:
            self.tokens += 1
            released = self.detokenizer.push(event.token_id)
        if event.finish_reason is not None:
            released += self.detokenizer.flush()
        released, stopped = self.stops.push(released)
        if stopped:
            self.finish_reason = FinishReason.STOP.value
            self.stopped_early = event.finish_reason is None
        elif event.finish_reason is not None:
            released += self.stops.flush()
            self.finish_reason = event.finish_reason.value
        self._parts.append(released)
        return released


def choice_text(
    index: int, tokenizer: PreTrainedTokenizerBase, prompt_ids: list[int], stops: list[str]
) -> ChoiceText:
    return ChoiceText(index, IncrementalDetokenizer(tokenizer, prompt_ids), StopBuffer(stops))
