"""Server-sent events, and noticing that the client has gone.

Starlette's `StreamingResponse` only notices a disconnect when it next writes (ASGI 2.4) and
leaves its iterator unclosed when it does, so an engine request could run on for a client that
left long ago. `EventStreamResponse` watches for `http.disconnect` while it streams and always
runs its `on_close` callback, whatever ends the stream.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was complete."""


async def unless_disconnected(receive: Receive, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work`, cancelled if the client disconnects first (then `ClientDisconnected`).

    Call it only once the request body has been read: it consumes `receive`.
    """
    results: list[T] = []
    errors: list[Exception] = []
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            results.append(await work())
        except Exception as exc:  # raised outside the group, which would wrap it in a group
            errors.append(exc)
        group.cancel_scope.cancel()
    if errors:
        raise errors[0]
    if not results:
        raise ClientDisconnected
    return results[0]


def sse(data: dict[str, Any] | str) -> bytes:
    """One event: `data: <json>` and a blank line (`[DONE]` is sent as a bare string)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


class EventStreamResponse(Response):
    """A `text/event-stream` response of `events`; `on_close` runs once the stream ends, the
    client disconnects, or sending fails."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[bytes],
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str] | None = None,
    ) -> None:
        self.events = events
        self.on_close = on_close
        self.status_code = 200
        self.background = None
        self.init_headers(
            {"cache-control": "no-cache", "x-accel-buffering": "no"} | (headers or {})
        )

    async def _send_all(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async for event in self.events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await unless_disconnected(receive, lambda: self._send_all(send))
        except (ClientDisconnected, OSError):
            pass  # nobody to tell; on_close gives back what the request held
        finally:
            with anyio.CancelScope(shield=True):
                aclose = getattr(self.events, "aclose", None)
                if aclose is not None:
                    await aclose()
                await self.on_close()
