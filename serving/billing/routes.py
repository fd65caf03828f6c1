"""`GET /v1/attribution/<response id>`: the credit of one paid answer (see `report`)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving.api.errors import ApiError, handle_errors
from serving.billing.report import AttributionReports

ATTRIBUTION_PATH = "/v1/attribution"


def attribution_routes(reports: AttributionReports) -> list[Route]:
    async def show(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        report = await run_in_threadpool(reports.report, response_id)
        if report is None:
            raise ApiError(
                404,
                f"no paid response {response_id!r} was answered by this service",
                param="response_id",
                code="response_not_found",
            )
        return JSONResponse(report)

    return [Route(f"{ATTRIBUTION_PATH}/{{response_id}}", handle_errors(show), methods=["GET"])]
