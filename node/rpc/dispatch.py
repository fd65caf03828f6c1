"""JSON-RPC 2.0 request handling: method table, parameter arity, batches, error translation.

Handlers are plain synchronous functions taking positional parameters. Dispatch checks the
arity against the handler's signature, calls it, and turns every exception into a wire error
here and nowhere else ("raise deep, catch once").
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.exceptions import BlockNotFound, ExecutionReverted, InvalidTransaction
from node.rpc.codec import data
from node.rpc.errors import (
    EXECUTION_REVERTED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    SERVER_ERROR,
    RpcError,
)
from openledger.errors import OpenLedgerError

log = logging.getLogger(__name__)

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Method:
    handler: Handler
    required: int
    """Parameters the caller must give."""
    maximum: int
    """Parameters the handler accepts; trailing optional ones may be omitted."""


def _arity(handler: Handler) -> tuple[int, int]:
    parameters = list(inspect.signature(handler).parameters.values())
    required = sum(1 for p in parameters if p.default is inspect.Parameter.empty)
    return required, len(parameters)


def error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _translate(exc: Exception) -> RpcError:
    """The one place where domain errors become JSON-RPC errors."""
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, ExecutionReverted):
        return RpcError(EXECUTION_REVERTED, str(exc), data(exc.data))
    if isinstance(exc, InvalidTransaction | BlockNotFound | OpenLedgerError):
        return RpcError(SERVER_ERROR, str(exc))
    log.exception("internal error while handling a request")
    return RpcError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}")


class Dispatcher:
    """Routes decoded JSON-RPC payloads (single or batch) to registered handlers."""

    def __init__(self, max_batch_size: int) -> None:
        self._methods: dict[str, Method] = {}
        self.max_batch_size = max_batch_size

    def register(self, name: str, handler: Handler) -> None:
        required, maximum = _arity(handler)
        self._methods[name] = Method(handler, required, maximum)

    def register_all(self, handlers: dict[str, Handler]) -> None:
        for name, handler in handlers.items():
            self.register(name, handler)

    @property
    def method_names(self) -> list[str]:
        return sorted(self._methods)

    def call(self, name: str, params: Any) -> Any:
        """Invoke one method; raises :class:`RpcError` on any failure."""
        method = self._methods.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"the method {name} does not exist/is not available")
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "invalid params: expected a positional array")
        if len(params) < method.required:
            raise RpcError(INVALID_PARAMS, f"missing value for required argument {len(params)}")
        if len(params) > method.maximum:
            raise RpcError(
                INVALID_PARAMS,
                f"too many arguments, want at most {method.maximum}",
            )
        try:
            return method.handler(*params)
        except Exception as exc:
            raise _translate(exc) from exc

    def handle_one(self, request: Any) -> dict[str, Any] | None:
        """Answer one request object; ``None`` for a notification (no ``id``)."""
        if not isinstance(request, dict):
            return error_response(None, RpcError(INVALID_REQUEST, "invalid request"))
        request_id = request.get("id")
        name = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(name, str):
            return error_response(request_id, RpcError(INVALID_REQUEST, "invalid request"))
        try:
            result = self.call(name, request.get("params"))
        except RpcError as error:
            if "id" not in request:
                return None
            return error_response(request_id, error)
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def handle_payload(self, payload: Any) -> Any:
        """A decoded body: one request or a batch (a list). ``None`` means "send nothing"."""
        if isinstance(payload, list):
            if not payload:
                return error_response(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(payload) > self.max_batch_size:
                return error_response(
                    None,
                    RpcError(INVALID_REQUEST, f"batch too large: limit {self.max_batch_size}"),
                )
            responses = [self.handle_one(item) for item in payload]
            answered = [response for response in responses if response is not None]
            return answered or None
        return self.handle_one(payload)
