"""ASGI middleware: body size limits, the in-flight limit, and the access log with metrics.

Pure ASGI (not Starlette's `BaseHTTPMiddleware`) so that streaming responses pass through
untouched and each middleware sees the end of a response, however the response ends.
"""

import logging
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.errors import ApiError
from serving.api.metrics import ApiMetrics

log = logging.getLogger("serving.api")


class BodyLimit:
    """413 for a body over the limit of its path: from `Content-Length` before anything is read,
    or while reading a body sent without one (chunked)."""

    def __init__(self, app: ASGIApp, default: int, by_path: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.by_path = by_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope["path"], self.default)
        too_large = ApiError(
            413, f"Request body too large: the limit is {limit} bytes.", code="request_too_large"
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await ApiError(400, "Invalid Content-Length header.").response()(
                    scope, receive, send
                )
                return
            if int(declared) > limit:
                await too_large.response()(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, limited, send)


class InFlight:
    """How many generation requests are being served; the event loop is the only writer."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0


class InFlightLimit:
    """429 for a `POST` to `paths` while `in_flight.limit` of them are being served (until the
    last byte of their response, streams included)."""

    def __init__(self, app: ASGIApp, in_flight: InFlight, paths: frozenset[str]) -> None:
        self.app = app
        self.in_flight = in_flight
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight.count >= self.in_flight.limit:
            busy = ApiError(
                429,
                f"Too many requests in flight (limit {self.in_flight.limit}), retry shortly.",
                code="rate_limit_exceeded",
            )
            await busy.response()(scope, receive, send)
            return
        self.in_flight.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight.count -= 1


class AccessLog:
    """One log line and the request metrics per HTTP request, once its response has ended.

    Endpoints put `model` and `tokens` on `request.state` for the line. Routes outside `routes`
    are counted as `other`, so that scanners cannot blow up the metrics' label sets.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it answers, the server answers 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            elapsed = time.perf_counter() - started
            route = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.requests.inc(1, route, str(status))
            self.metrics.request_duration.observe(elapsed, route)
            state = scope.get("state", {})
            log.info(
                "%s %s %d model=%s tokens=%s %.0fms",
                scope["method"],
                scope["path"],
                status,
                state.get("model", "-"),
                state.get("tokens", "-"),
                elapsed * 1000,
            )
