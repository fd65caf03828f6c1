"""Running the engine requests of one HTTP request: one per choice, concurrently.

Each choice has a pump task that reads its engine events, turns them into text (`ChoiceText`)
and puts the released text on one queue, so that `n` choices stream interleaved as the engine
produces them. `start` returns once every choice has its first event, which is when the engine
has accepted the request (it raises `UnknownAdapter`/`AdapterError` before that): the HTTP
status can still reflect a refusal, and the time to first token is known.

Engine requests are aborted at once when a stop string ends a choice, and by `close` for every
choice still running (the client left, another choice failed).
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from serving.api.ports import GenerationEngine
from serving.api.text import ChoiceText
from serving.engine.request import FinishReason, GenerationRequest


class GenerationFailed(Exception):
    """The engine ended a sequence without finishing it (aborted on its side, or just ended)."""


@dataclass
class Choice:
    request: GenerationRequest
    text: ChoiceText


_END = None  # a pump's last item on the queue


class Generation:
    """The choices of one request, from `start` to `close`."""

    def __init__(self, engine: GenerationEngine, choices: list[Choice]) -> None:
        self.engine = engine
        self.choices = choices
        self.first_token_at: float | None = None
        """`time.monotonic()` of the first engine event of any choice."""
        self._queue: asyncio.Queue[tuple[ChoiceText, str] | Exception | None] = asyncio.Queue()
        self._live = {c.request.request_id for c in choices}  # the engine is still generating
        self._started: list[asyncio.Future[None]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Submit every choice; return once each has its first event. Raises the engine's error
        (after closing everything) if it refuses a choice."""
        loop = asyncio.get_running_loop()
        for choice in self.choices:
            started: asyncio.Future[None] = loop.create_future()
            self._started.append(started)
            self._tasks.append(asyncio.create_task(self._pump(choice, started)))
        try:
            await asyncio.gather(*self._started)
        except BaseException:
            await self.close()
            raise

    async def deltas(self) -> AsyncIterator[tuple[ChoiceText, str]]:
        """(choice, released text) as produced, until every choice has finished; a choice's
        last item has its `finish_reason` set. Raises the first failure of any choice."""
        running = len(self.choices)
        while running:
            item = await self._queue.get()
            if item is _END:
                running -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield item

    async def close(self) -> None:
        """Abort every choice still generating and stop the pumps; safe to call again."""
        for request_id in sorted(self._live):
            self.engine.abort(request_id)
        self._live.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for started in self._started:  # mark refusals nobody awaited as seen
            if started.done() and not started.cancelled():
                started.exception()

    @property
    def completion_tokens(self) -> int:
        return sum(choice.text.tokens for choice in self.choices)

    async def _pump(self, choice: Choice, started: asyncio.Future[None]) -> None:
        request_id = choice.request.request_id
        try:
            events = self.engine.generate(choice.request)
            try:
                async for event in events:
                    if not started.done():
                        started.set_result(None)
                        self.first_token_at = self.first_token_at or time.monotonic()
                    if event.finish_reason is FinishReason.ABORTED:
                        raise GenerationFailed(f"the engine aborted {request_id}")
                    released = choice.text.feed(event)
                    if choice.text.finish_reason is not None:
                        if choice.text.stopped_early:
                            self.engine.abort(request_id)
                        self._live.discard(request_id)
                        self._queue.put_nowait((choice.text, released))
                        return
                    if released:
                        self._queue.put_nowait((choice.text, released))
                raise GenerationFailed(f"the engine ended {request_id} without a finish reason")
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
        except Exception as exc:
            self._live.discard(request_id)  # the engine is done with it, one way or another
            if started.done():
                self._queue.put_nowait(exc)
            else:
                started.set_exception(exc)
        finally:
            if not started.done():
                started.cancel()
            self._queue.put_nowait(_END)
