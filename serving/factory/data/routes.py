"""``POST /v1/contributions`` and ``GET /v1/contributions/<sha256>``: contribution bytes over HTTP.

A contributor uploads the bytes first, then registers the answered ``sha256`` and ``bytes`` on
chain (``openledger datanet contribute <datanet> --hash 0x<sha256> --size <bytes> --uri ...``,
or ``--file`` with the same file): the chain never sees the bytes, only their hash, and this
store is where trainers find them. Uploads are a raw body (any content type but multipart) or a
multipart form whose ``file`` field holds the bytes. Both are bounded by the store's
``max_bytes`` while they are read (413), whatever ``Content-Length`` claims.

Mounting on the AI service (``build_app``): add ``*contribution_routes(store)`` to its routes and
``{CONTRIBUTIONS_PATH: multipart_limit(store)}`` to the ``BodyLimit`` middleware's ``by_path``
(its default of 1 MiB would otherwise refuse larger contributions first).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message

from serving.api.errors import ApiError, handle_errors
from serving.factory.data.store import (
    ContentCorrupted,
    ContentMissing,
    ContributionStore,
    InvalidContentHash,
    normalize_sha256,
)

log = logging.getLogger("serving.factory")

CONTRIBUTIONS_PATH = "/v1/contributions"
MULTIPART_OVERHEAD = 64 << 10
"""Room for a multipart body's boundaries and part headers around a file of ``max_bytes``."""
FILE_FIELD = "file"


def multipart_limit(store: ContributionStore) -> int:
    """The largest request body an upload may need: a file of ``max_bytes`` in a form."""
    return store.max_bytes + MULTIPART_OVERHEAD


def contribution_routes(store: ContributionStore) -> list[Route]:
    """The two routes, bound to `store`, with OpenAI-shaped errors."""

    async def upload(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = bounded_request(request, multipart_limit(store))
            data = await _form_file(form, store.max_bytes)
        else:
            data = await bounded_request(request, store.max_bytes).body()
        if not data:
            raise ApiError(400, "The contribution is empty.", param=FILE_FIELD)
        sha256 = await run_in_threadpool(store.put, data)  # within max_bytes: checked above
        return JSONResponse(
            {"sha256": sha256, "bytes": len(data)},
            status_code=201,
            headers={"Location": f"{CONTRIBUTIONS_PATH}/{sha256}"},
        )

    async def download(request: Request) -> Response:
        try:
            sha256 = normalize_sha256(request.path_params["sha256"])
            data = await run_in_threadpool(store.get, sha256)
        except InvalidContentHash as exc:
            raise ApiError(400, str(exc), param="sha256") from exc
        except ContentMissing as exc:
            raise ApiError(404, str(exc), code="contribution_not_found") from exc
        except ContentCorrupted as exc:
            # The operator's fault, not the client's; uploading the original bytes repairs it.
            log.error("%s", exc)
            raise ApiError(500, str(exc), code="contribution_corrupted") from exc
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"ETag": f'"{sha256}"', "Cache-Control": "public, max-age=31536000, immutable"},
        )

    return [
        Route(CONTRIBUTIONS_PATH, handle_errors(upload), methods=["POST"]),
        Route(f"{CONTRIBUTIONS_PATH}/{{sha256}}", handle_errors(download), methods=["GET"]),
    ]


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"Contribution too large: the limit is {limit} bytes.", code="request_too_large"
    )


def bounded_request(request: Request, limit: int) -> Request:
    """`request` whose body reading fails with 413 once more than `limit` bytes arrived, so a
    chunked body or a lying ``Content-Length`` is cut off as early as an honest one."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    return Request(request.scope, receive)


async def _form_file(request: Request, limit: int) -> bytes:
    """The ``file`` field of a multipart form, at most `limit` bytes."""
    async with request.form(max_files=1, max_fields=0) as form:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise ApiError(400, f"{FILE_FIELD}: missing file field", param=FILE_FIELD)
        data = await upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data
