"""OpenAI's error object, the HTTP status of each failure, and the one place exceptions turn
into responses.

Every endpoint is wrapped by `handle_errors`, so the middleware (access log, metrics) sees a
status for every request, and nothing unexpected leaks its message to a client: those are
logged with their traceback and answered with a generic 500.
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openledger.contracts.exceptions import RpcFailed
from serving.api.ports import PaymentRequired, Unauthorized, UnknownModel
from serving.api.streaming import ClientDisconnected
from serving.lora.manager import AdapterNotReady, AdapterSlotsExhausted, UnknownAdapter
from serving.lora.slots import AdapterError

log = logging.getLogger("serving.api")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class ApiError(Exception):
    """A failure with its HTTP status and the fields of OpenAI's error object."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": _TYPES.get(self.status, "invalid_request_error"),
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


INTERNAL_ERROR = "The server had an error while processing your request."


def to_api_error(exc: Exception) -> ApiError:
    """The client-facing form of `exc`; unexpected exceptions are logged here."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, HTTPException):  # Starlette's, e.g. a malformed multipart body
        return ApiError(exc.status_code, str(exc.detail))
    if isinstance(exc, ClientDisconnected):  # nginx's 499: only the access log will see it
        return ApiError(499, "Client closed the request.")
    if isinstance(exc, UnknownModel | UnknownAdapter):
        return ApiError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, Unauthorized):
        return ApiError(401, str(exc), code="invalid_api_key")
    if isinstance(exc, PaymentRequired):
        return ApiError(402, str(exc), code="payment_required")
    if isinstance(exc, AdapterSlotsExhausted | AdapterNotReady):
        # Transient: every slot is pinned by running requests; a retry soon will likely pass.
        return ApiError(503, "The model is busy, please retry shortly.", code="overloaded")
    if isinstance(exc, RpcFailed):
        # The chain node behind the cashier or catalogue is down or refusing: not the client's
        # fault and not ours for long, so a retry is the right advice.
        log.error("chain node unavailable: %s", exc)
        return ApiError(
            503, "The chain node cannot be reached, please retry shortly.", code="chain_unavailable"
        )
    if isinstance(exc, AdapterError):
        log.error("adapter cannot be served: %s", exc)
        return ApiError(503, "The model cannot be served right now.", code="model_unavailable")
    log.exception("unexpected error", exc_info=exc)
    return ApiError(500, INTERNAL_ERROR)


Endpoint = Callable[[Request], Awaitable[Response]]


def handle_errors(endpoint: Endpoint) -> Endpoint:
    """Answer every exception of `endpoint` with OpenAI's error object."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            return to_api_error(exc).response()

    return wrapped


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no such route) and 405 (wrong method), in OpenAI's shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    else:
        message = str(exc.detail)
    response = ApiError(exc.status_code, message).response()
    response.headers.update(exc.headers or {})
    return response
