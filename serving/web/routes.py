"""The page's routes: ``GET /``, its assets under ``/static/``, and read-only chain JSON.

- ``GET /v1/datanets``: every datanet (id, owner, metadata uri, stake, versions, counts).
- ``GET /v1/datanets/{id}``: one datanet with its versions and contributions.
- ``GET /v1/datanets/{id}/contribute_tx?sha256=..&size=..&uri=..``: the unsigned
  ``DatanetRegistry.contribute`` transaction ``{to, data, value, chain_id}`` for a browser wallet.
- ``GET /v1/rewards/{address}``: claimable wei, earnings per datanet, the address's contributions.

Assets are read once, when the routes are built, from the package itself (importlib.resources),
so an installed service serves the same bytes as a checkout and a request never touches the disk.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving.api.errors import ApiError, handle_errors
from serving.chain import ChainClients
from serving.web import reads

INDEX = "index.html"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    def response(self, request: Request) -> Response:
        """304 when the browser has these bytes; `no-cache` so an upgrade shows at once."""
        headers = {"ETag": self.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def load_assets() -> dict[str, Asset]:
    """Every file of ``serving/web/static`` by name."""
    assets = {}
    for entry in (resources.files("serving.web") / "static").iterdir():
        if entry.is_file():
            body = entry.read_bytes()
            media_type = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type.endswith("javascript"):
                media_type += "; charset=utf-8"
            assets[entry.name] = Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()}"')
    return assets


async def _read(function: Callable[..., Any], *args: Any) -> JSONResponse:
    """`function(*args)` off the event loop (it waits on JSON-RPC), its failures as API errors."""
    try:
        return JSONResponse(await run_in_threadpool(function, *args))
    except reads.UnknownDatanet as exc:
        raise ApiError(404, str(exc), param="datanet_id", code="datanet_not_found") from exc
    except reads.InvalidField as exc:
        raise ApiError(400, str(exc), param=exc.param) from exc


def web_routes(chain: ChainClients) -> list[Route]:
    """The page and its JSON, reading the chain through `chain` (views only, never a send)."""
    assets = load_assets()

    async def index(request: Request) -> Response:
        return assets[INDEX].response(request)

    async def static(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None:
            raise ApiError(404, f"Invalid URL (GET {request.url.path})")
        return asset.response(request)

    async def datanets(request: Request) -> Response:
        return await _read(lambda: {"object": "list", "data": reads.list_datanets(chain.datanets)})

    async def datanet(request: Request) -> Response:
        return await _read(reads.datanet_detail, chain.datanets, request.path_params["datanet_id"])

    async def contribute_tx(request: Request) -> Response:
        query = request.query_params
        sha256 = query.get("sha256", "")

        def build() -> dict[str, Any]:
            digest = reads.parse_sha256(sha256)
            size = reads.parse_size(query.get("size", ""))
            uri = query.get("uri") or f"sha256:{digest.hex()}"
            return reads.contribute_tx(chain, request.path_params["datanet_id"], digest, size, uri)

        return await _read(build)

    async def rewards(request: Request) -> Response:
        return await _read(reads.rewards, chain, request.path_params["address"])

    return [
        Route("/", handle_errors(index), methods=["GET"]),
        Route("/static/{name}", handle_errors(static), methods=["GET"]),
        Route("/v1/datanets", handle_errors(datanets), methods=["GET"]),
        Route("/v1/datanets/{datanet_id:int}", handle_errors(datanet), methods=["GET"]),
        Route(
            "/v1/datanets/{datanet_id:int}/contribute_tx",
            handle_errors(contribute_tx),
            methods=["GET"],
        ),
        Route("/v1/rewards/{address}", handle_errors(rewards), methods=["GET"]),
    ]
