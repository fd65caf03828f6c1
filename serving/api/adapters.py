"""`POST /v1/adapters`: upload a PEFT LoRA adapter into the content-addressed store.

A multipart form with the adapter's two files, in fields named after them
(`adapter_config.json`, `adapter_model.safetensors`), and an optional `adapter_id` (default:
the weights' sha256). The files are staged in a temporary directory and checked against the
served model's LoRA layers (`read_adapter`) before `AdapterManager.register` copies them into
the store, so a bad upload stores nothing. The answer's `sha256` is the weights hash the owner
registers on chain. The body size is bounded by `ApiLimits.max_upload_bytes` (413).
"""

import re
import secrets
import shutil
import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from serving.api.context import ApiContext, bearer_token
from serving.api.errors import ApiError
from serving.lora.manager import AdapterManager, sha256_file
from serving.lora.slots import CONFIG_FILE, WEIGHTS_FILE, AdapterError, read_adapter

ADAPTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


async def upload_adapter(request: Request) -> Response:
    ctx = ApiContext.of(request)
    admin_key = ctx.limits.admin_key
    if admin_key is not None and not secrets.compare_digest(
        (bearer_token(request) or "").encode(), admin_key.encode()
    ):
        raise ApiError(401, "Uploading adapters needs the operator's key.", code="invalid_api_key")
    async with request.form(max_files=2, max_fields=3) as form:
        files = {name: form.get(name) for name in (CONFIG_FILE, WEIGHTS_FILE)}
        for name, upload in files.items():
            if not isinstance(upload, UploadFile):
                raise ApiError(400, f"{name}: missing file field", param=name)
        adapter_id = form.get("adapter_id")
        if adapter_id is not None and (
            not isinstance(adapter_id, str) or not ADAPTER_ID.fullmatch(adapter_id)
        ):
            raise ApiError(400, f"adapter_id: must match {ADAPTER_ID.pattern}", param="adapter_id")
        with tempfile.TemporaryDirectory(prefix="adapter-upload-") as staging:
            for name, upload in files.items():
                assert isinstance(upload, UploadFile)
                await run_in_threadpool(_save, upload, Path(staging) / name)
            adapter_id, digest = await run_in_threadpool(
                _register, ctx.adapters, Path(staging), adapter_id
            )
    request.state.model = adapter_id
    return JSONResponse({"id": adapter_id, "sha256": digest, "object": "adapter"})


def _save(upload: UploadFile, path: Path) -> None:
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)


def _register(adapters: AdapterManager, staging: Path, adapter_id: str | None) -> tuple[str, str]:
    """Check the staged adapter fits the served layers, then store it; (id, weights sha256)."""
    try:
        read_adapter(staging, adapters.slots.layers)
        adapter_id = adapter_id or sha256_file(staging / WEIGHTS_FILE)
        return adapter_id, adapters.register(adapter_id, staging)
    except AdapterError as exc:
        raise ApiError(400, f"Invalid adapter: {exc}".replace(str(staging), "<upload>")) from exc
