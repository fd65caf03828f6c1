"""The JSON-RPC endpoint: HTTP POST and WebSocket on the same port and path.

HTTP bodies are bounded before they are parsed; a WebSocket connection may also subscribe
(``eth_subscribe``) and then receives ``eth_subscription`` notifications pushed by
:class:`~node.rpc.subscriptions.SubscriptionHub`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from node.rpc.dispatch import Dispatcher, error_response
from node.rpc.errors import INVALID_REQUEST, PARSE_ERROR, RpcError
from node.rpc.metrics import Metrics
from node.rpc.subscriptions import Connection, SubscriptionHub

log = logging.getLogger(__name__)

WS_QUEUE_LIMIT = 10_000
"""Notifications buffered per WebSocket before a slow client is disconnected."""


class BodyTooLarge(Exception):
    """The request body exceeded the configured limit."""


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class RpcServer:
    """Builds the ASGI application around a :class:`Dispatcher` and a subscription hub."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        hub: SubscriptionHub,
        metrics: Metrics,
        max_body_bytes: int,
    ) -> None:
        self.dispatcher = dispatcher
        self.hub = hub
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    def uvicorn_server(self, host: str, port: int) -> uvicorn.Server:
        """The HTTP + WebSocket server for this app, as the sequencer and the full node run it
        (WebSocket frames bounded like HTTP bodies; no lifespan: the caller owns start-up)."""
        return uvicorn.Server(
            uvicorn.Config(
                self.app(),
                host=host,
                port=port,
                log_level="warning",
                ws_max_size=self.max_body_bytes,
                lifespan="off",
            )
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self.http, methods=["POST", "GET"]),
                Route("/metrics", self.metrics_endpoint, methods=["GET"]),
                WebSocketRoute("/", self.websocket),
            ]
        )

    async def metrics_endpoint(self, request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    def _handle_text(self, text: bytes | str) -> Any:
        try:
            payload = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            return error_response(None, RpcError(PARSE_ERROR, "parse error"))
        self.metrics.count_requests(payload)
        return self.dispatcher.handle_payload(payload)

    async def http(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(
                error_response(None, RpcError(INVALID_REQUEST, "send JSON-RPC with POST"))
            )
        try:
            body = await _read_body(request, self.max_body_bytes)
        except BodyTooLarge:
            return JSONResponse(
                error_response(
                    None,
                    RpcError(
                        INVALID_REQUEST, f"request body too large: limit {self.max_body_bytes}"
                    ),
                ),
                status_code=413,
            )
        except ClientDisconnect:
            return Response(status_code=400)
        response = self._handle_text(body)
        if response is None:
            return Response(status_code=200)
        return Response(_dumps(response), media_type="application/json")

    async def websocket(self, socket: WebSocket) -> None:
        await socket.accept()
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=WS_QUEUE_LIMIT)
        connection = Connection(queue)
        sender = asyncio.create_task(self._pump(socket, queue))
        try:
            while True:
                frame = await socket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                # Clients send text or binary frames (web3.py v8 sends binary); geth takes both.
                message = frame.get("text")
                if message is None:
                    message = (frame.get("bytes") or b"").decode("utf-8", errors="replace")
                if len(message) > self.max_body_bytes:
                    response: Any = error_response(
                        None, RpcError(INVALID_REQUEST, "message too large")
                    )
                else:
                    response = self._handle_ws(connection, message)
                if response is not None:
                    await queue.put(_dumps(response))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.hub.drop_connection(connection)
            sender.cancel()

    def _handle_ws(self, connection: Connection, message: str) -> Any:
        try:
            payload = json.loads(message)
        except ValueError:
            return error_response(None, RpcError(PARSE_ERROR, "parse error"))
        if isinstance(payload, dict) and payload.get("method") in (
            "eth_subscribe",
            "eth_unsubscribe",
        ):
            return self.hub.handle(connection, payload)
        self.metrics.count_requests(payload)
        return self.dispatcher.handle_payload(payload)

    @staticmethod
    async def _pump(socket: WebSocket, queue: asyncio.Queue[str]) -> None:
        try:
            while True:
                await socket.send_text(await queue.get())
        except (WebSocketDisconnect, RuntimeError):
            return
