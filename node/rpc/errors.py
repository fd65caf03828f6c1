"""JSON-RPC errors with the codes of the Ethereum execution-apis spec.

This module and :mod:`node.rpc.dispatch` are the only places that turn exceptions into wire
errors: handlers raise :class:`RpcError` (or a domain error that dispatch translates).
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
"""geth's code for every transaction or execution failure that is not a revert."""
EXECUTION_REVERTED = 3
"""EIP-1474 / geth: a revert, with the revert data in ``error.data``."""
LIMIT_EXCEEDED = -32005


class RpcError(Exception):
    """An error returned to the client as ``{"code", "message", "data"?}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)
