"""A web3.py provider that talks to this process's own dispatcher, on its event loop.

Why: the devnet deploys its contracts with the same web3 code every client uses, but before the
HTTP port opens, so no outside client can race it for dev account 0's nonces or see a network
without its contracts. Requests are JSON-encoded and decoded exactly as over HTTP, and each one
runs on the server's event loop (handlers are not thread-safe), while the caller - a worker
thread - blocks on the answer, leaving the loop free to build the blocks it waits for.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from node.rpc.dispatch import Dispatcher

REQUEST_TIMEOUT_S = 60.0


class InProcessProvider(JSONBaseProvider):
    """Call from a thread other than ``loop``'s; the loop must be running."""

    def __init__(self, dispatcher: Dispatcher, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.dispatcher = dispatcher
        self.loop = loop
        self.endpoint_uri = "in-process"

    async def _handle(self, request: bytes) -> bytes:
        answer: Any = self.dispatcher.handle_payload(json.loads(request))
        return json.dumps(answer).encode()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        request = self.encode_rpc_request(method, params)
        future = asyncio.run_coroutine_threadsafe(self._handle(request), self.loop)
        return self.decode_rpc_response(future.result(timeout=REQUEST_TIMEOUT_S))

    def is_connected(self, show_traceback: bool = False) -> bool:
        return self.loop.is_running()
