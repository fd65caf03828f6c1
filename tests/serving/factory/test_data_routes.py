"""`POST /v1/contributions` and `GET /v1/contributions/<sha256>`, in process."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from serving.api.errors import http_exception
from serving.api.middleware import BodyLimit
from serving.factory.data.routes import CONTRIBUTIONS_PATH, contribution_routes, multipart_limit
from serving.factory.data.store import ContributionStore

LIMIT = 1024


@pytest.fixture
def store(tmp_path: Path) -> ContributionStore:
    return ContributionStore(tmp_path / "contributions", max_bytes=LIMIT)


@pytest.fixture
def client(store: ContributionStore) -> Iterator[TestClient]:
    """The routes mounted as the AI service would mount them (see `routes`' docstring): behind
    `BodyLimit`, whose 64-byte default would refuse every contribution without `by_path`."""
    app = Starlette(
        routes=contribution_routes(store),
        exception_handlers={HTTPException: http_exception},
        middleware=[
            Middleware(BodyLimit, default=64, by_path={CONTRIBUTIONS_PATH: multipart_limit(store)})
        ],
    )
    with TestClient(app) as client:
        yield client


def error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    return body


def test_raw_upload_then_download(client: TestClient) -> None:
    data = b"x" * LIMIT
    response = client.post(CONTRIBUTIONS_PATH, content=data)
    sha256 = hashlib.sha256(data).hexdigest()
    assert response.status_code == 201
    assert response.json() == {"sha256": sha256, "bytes": LIMIT}
    assert response.headers["location"] == f"{CONTRIBUTIONS_PATH}/{sha256}"
    download = client.get(f"{CONTRIBUTIONS_PATH}/0x{sha256.upper()}")
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["etag"] == f'"{sha256}"'


def test_multipart_upload(client: TestClient, store: ContributionStore) -> None:
    data = b'{"instruction": "a", "output": "b"}\n'
    response = client.post(CONTRIBUTIONS_PATH, files={"file": ("rows.jsonl", data)})
    assert response.status_code == 201
    assert response.json() == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert store.get(response.json()["sha256"]) == data


def test_uploads_over_the_limit_get_413(client: TestClient, store: ContributionStore) -> None:
    too_big = b"y" * (LIMIT + 1)
    assert error(client.post(CONTRIBUTIONS_PATH, content=too_big), 413)["code"] == (
        "request_too_large"
    )
    chunked = client.post(CONTRIBUTIONS_PATH, content=iter([b"y" * 600, b"y" * 600]))
    error(chunked, 413)
    error(client.post(CONTRIBUTIONS_PATH, files={"file": ("big.txt", too_big)}), 413)
    assert list(store.root.iterdir()) == []


def test_bad_uploads_get_400(client: TestClient) -> None:
    assert error(client.post(CONTRIBUTIONS_PATH, content=b""), 400)["param"] == "file"
    missing = client.post(CONTRIBUTIONS_PATH, files={"other": ("a.txt", b"a")})
    assert error(missing, 400)["param"] == "file"


def test_downloads_of_absent_malformed_or_corrupted_content(
    client: TestClient, store: ContributionStore
) -> None:
    absent = error(client.get(f"{CONTRIBUTIONS_PATH}/{'ab' * 32}"), 404)
    assert absent["code"] == "contribution_not_found"
    assert error(client.get(f"{CONTRIBUTIONS_PATH}/not-a-hash"), 400)["param"] == "sha256"
    sha256 = store.put(b"original")
    store.path(sha256).write_bytes(b"tampered")
    corrupted = error(client.get(f"{CONTRIBUTIONS_PATH}/{sha256}"), 500)
    assert corrupted["code"] == "contribution_corrupted"
    assert b"tampered" not in client.get(f"{CONTRIBUTIONS_PATH}/{sha256}").content
