"""OpenAI's fine-tuning and files endpoints over the job store, so the ``openai`` client's
``files.create``, ``fine_tuning.jobs.create/list/retrieve/cancel/list_events`` work unchanged.

- ``POST /v1/files`` (multipart ``file``, ``purpose=fine-tune``): the bytes go to the
  contribution store; the file id is ``file-<sha256>``, so the same bytes are one file and the
  id alone says where they are.
- ``POST /v1/fine_tuning/jobs``, ``GET /v1/fine_tuning/jobs`` (``limit``, ``after``),
  ``GET /v1/fine_tuning/jobs/{id}``, ``GET /v1/fine_tuning/jobs/{id}/events`` and
  ``POST /v1/fine_tuning/jobs/{id}/cancel``.

Creating and cancelling a job need ``Authorization: Bearer ol1_...``: a spending session of
this operator, checked but not charged (401 without a valid one). Its user owns the job: only
the owner may cancel it (403), and the published adapter is transferred to the owner, who earns
its owner share. Reading jobs and events stays open, as the job ids are unguessable.

Everything a request can get wrong is a 400 naming the parameter before the job is queued;
problems only the data can show (bad lines) fail the job, with the lines in its ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving.api.context import bearer_token
from serving.api.errors import ApiError, handle_errors
from serving.api.ports import Unauthorized
from serving.factory.data.routes import bounded_request, multipart_limit
from serving.factory.data.store import ContributionStore
from serving.factory.jobs.hyperparameters import InvalidHyperparameter, resolve
from serving.factory.jobs.sources import DatasetSource, file_id, source_for
from serving.factory.jobs.store import Event, Job, JobStore, UnknownJob
from serving.factory.training import TrainingConfig

FILES_PATH = "/v1/files"
JOBS_PATH = "/v1/fine_tuning/jobs"
FILE_PURPOSE = "fine-tune"
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
SUFFIX_MAX = 64

Identify = Callable[[str | None], str]
"""The address an API key speaks for; raises `Unauthorized` (e.g. `OperatorCashier.identify`)."""


def file_routes(store: ContributionStore) -> list[Route]:
    """``POST /v1/files``; mount with ``{FILES_PATH: multipart_limit(store)}`` in ``BodyLimit``."""

    async def upload(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(400, "Expected a multipart/form-data body.", param="file")
        limit = store.max_bytes
        async with bounded_request(request, multipart_limit(store)).form(max_files=1) as form:
            purpose = form.get("purpose")
            if purpose != FILE_PURPOSE:
                raise ApiError(
                    400, f"purpose must be {FILE_PURPOSE!r}, not {purpose!r}", param="purpose"
                )
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiError(400, "file: missing file field", param="file")
            filename = upload.filename or "upload"
            data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, f"File too large: the limit is {limit} bytes.")
        if not data:
            raise ApiError(400, "The file is empty.", param="file")
        sha256 = await run_in_threadpool(store.put, data)
        return JSONResponse(
            {
                "object": "file",
                "id": file_id(sha256),
                "bytes": len(data),
                "created_at": int(store.path(sha256).stat().st_mtime),
                "filename": filename,
                "purpose": FILE_PURPOSE,
                "status": "processed",
            }
        )

    return [Route(FILES_PATH, handle_errors(upload), methods=["POST"])]


def fine_tuning_routes(
    store: JobStore,
    sources: Sequence[DatasetSource],
    base_models: Mapping[str, str | Path],
    defaults: TrainingConfig,
    wake: Callable[[], None],
    identify: Identify,
) -> list[Route]:
    """The five job routes. `defaults` gives everything a request does not set (and the base
    learning rate the multiplier scales); `wake` tells the worker a job was queued; `identify`
    names who an API key speaks for."""

    async def caller(request: Request) -> str:
        key = bearer_token(request)
        if key is None:
            raise Unauthorized(
                "fine-tuning jobs need an API key: send Authorization: Bearer ol1_..."
            )
        return await run_in_threadpool(identify, key)

    async def create(request: Request) -> Response:
        owner = await caller(request)
        body = await _json_object(request)
        model = body.get("model")
        if not isinstance(model, str) or model not in base_models:
            known = ", ".join(sorted(base_models))
            raise ApiError(
                400, f"model must be one of the base models ({known}), not {model!r}", param="model"
            )
        training_file = body.get("training_file")
        if not isinstance(training_file, str):
            raise ApiError(400, "training_file is required", param="training_file")
        try:
            source_for(sources, training_file).check(training_file)
        except ValueError as exc:
            raise ApiError(400, str(exc), param="training_file") from exc
        if body.get("validation_file") is not None:
            raise ApiError(
                400,
                "validation_file is not supported: a held-out share of the training data is used",
                param="validation_file",
            )
        suffix = body.get("suffix")
        if suffix is not None and not (
            isinstance(suffix, str) and 0 < len(suffix) <= SUFFIX_MAX and ":" not in suffix
        ):
            raise ApiError(
                400, f"suffix must be 1 to {SUFFIX_MAX} characters without ':'", param="suffix"
            )
        try:
            resolved = resolve(body.get("hyperparameters"), defaults)
        except InvalidHyperparameter as exc:
            raise ApiError(400, str(exc), param=exc.param) from exc
        job = await run_in_threadpool(
            store.create,
            model,
            training_file,
            resolved.shown,
            resolved.config.to_json(),
            suffix,
            owner,
        )
        wake()
        return JSONResponse(job_object(job))

    async def list_jobs(request: Request) -> Response:
        limit = _limit(request)
        after = request.query_params.get("after")
        jobs, more = await run_in_threadpool(_known, store.list, limit, after)
        return JSONResponse(
            {"object": "list", "data": [job_object(j) for j in jobs], "has_more": more}
        )

    async def retrieve(request: Request) -> Response:
        job = await run_in_threadpool(_known, store.get, request.path_params["job_id"])
        return JSONResponse(job_object(job))

    async def events(request: Request) -> Response:
        limit = _limit(request)
        after = request.query_params.get("after")
        job_id = request.path_params["job_id"]
        try:
            found, more = await run_in_threadpool(_known, store.events, job_id, limit, after)
        except ValueError as exc:
            raise ApiError(400, str(exc), param="after") from exc
        return JSONResponse(
            {"object": "list", "data": [event_object(e) for e in found], "has_more": more}
        )

    async def cancel(request: Request) -> Response:
        user = await caller(request)
        job_id = request.path_params["job_id"]
        job = await run_in_threadpool(_known, store.get, job_id)
        if job.owner is None or job.owner.lower() != user.lower():
            raise ApiError(
                403,
                f"only the job's owner ({job.owner or 'none recorded'}) may cancel it, not {user}",
                param="fine_tuning_job_id",
                code="not_job_owner",
            )
        job = await run_in_threadpool(store.request_cancel, job_id)
        return JSONResponse(job_object(job))

    return [
        Route(JOBS_PATH, handle_errors(create), methods=["POST"]),
        Route(JOBS_PATH, handle_errors(list_jobs), methods=["GET"]),
        Route(f"{JOBS_PATH}/{{job_id}}", handle_errors(retrieve), methods=["GET"]),
        Route(f"{JOBS_PATH}/{{job_id}}/events", handle_errors(events), methods=["GET"]),
        Route(f"{JOBS_PATH}/{{job_id}}/cancel", handle_errors(cancel), methods=["POST"]),
    ]


def job_object(job: Job) -> dict[str, Any]:
    """OpenAI's ``fine_tuning.job``, plus ``suffix``, ``owner`` and our ``result`` (adapter,
    evaluation)."""
    result = job.result or {}
    return {
        "object": "fine_tuning.job",
        "id": job.id,
        "model": job.model,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "fine_tuned_model": result.get("fine_tuned_model") if job.status == "succeeded" else None,
        "organization_id": "openledger",
        "result_files": [],
        "status": job.status.value,
        "validation_file": None,
        "training_file": job.training_file,
        "hyperparameters": job.hyperparameters,
        "trained_tokens": result.get("tokens_seen"),
        "error": job.error,
        "seed": job.config.get("seed"),
        "estimated_finish": None,
        "integrations": None,
        "suffix": job.suffix,
        "owner": job.owner,
        "result": job.result,
    }


def event_object(event: Event) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.event",
        "id": event.id,
        "created_at": event.created_at,
        "level": event.level,
        "message": event.message,
        "data": event.data,
        "type": event.type,
    }


def _known(method: Callable[..., Any], *args: Any) -> Any:
    """`method(*args)`, an unknown job id as OpenAI's 404."""
    try:
        return method(*args)
    except UnknownJob as exc:
        raise ApiError(404, str(exc), param="fine_tuning_job_id", code="not_found") from exc


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT}", param="limit")
    return int(raw)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, f"The body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return body
