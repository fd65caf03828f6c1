"""The small endpoints: `GET /v1/models`, `GET /health`, `GET /metrics`."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from serving.api.context import ApiContext


async def list_models(request: Request) -> Response:
    cards = await run_in_threadpool(ApiContext.of(request).catalog.models)
    data = [
        {"id": c.id, "object": "model", "created": c.created, "owned_by": c.owned_by} for c in cards
    ]
    return JSONResponse({"object": "list", "data": data})


async def health(request: Request) -> Response:
    """Cheap on purpose (load balancers poll it): no chain or engine calls."""
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    body = ApiContext.of(request).metrics.render()
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
