"""A small HTTP client of ModelFactory's jobs API, for `openledger factory`.

`requests` (already installed with web3) rather than the ``openai`` package: the command line
must not need a development dependency, and it uses our own fields (``owner``, ``result``,
``learning_rate``) that the ``openai`` types hide. Answers are the API's JSON objects as dicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from serving.exceptions import ServingError

DEFAULT_SERVICE = "http://127.0.0.1:8000"
JOBS = "/v1/fine_tuning/jobs"
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
EVENT_PAGE = 100


class ApiFailure(ServingError):
    """The service answered with an error (OpenAI's error object) or could not be reached;
    `openledger` prints the message and exits 1."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class FactoryClient:
    """The jobs API of one AI service; `api_key` is needed to create and cancel jobs."""

    def __init__(
        self, service: str = DEFAULT_SERVICE, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        self.base = service.rstrip("/").removesuffix("/v1")
        self.timeout = timeout
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FactoryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def create_job(
        self,
        model: str,
        training_file: str,
        hyperparameters: dict[str, Any] | None = None,
        suffix: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "training_file": training_file}
        if hyperparameters:
            body["hyperparameters"] = hyperparameters
        if suffix is not None:
            body["suffix"] = suffix
        return self._call("POST", JOBS, json=body)

    def jobs(self, limit: int = 20, after: str | None = None) -> dict[str, Any]:
        """One page, newest first: ``{"data": [...], "has_more": bool}``."""
        return self._call("GET", JOBS, params=_page(limit, after))

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"{JOBS}/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"{JOBS}/{job_id}/cancel")

    def events(self, job_id: str, limit: int = 20, after: str | None = None) -> dict[str, Any]:
        """One page of the job's events, newest first, as the API (and OpenAI) gives them."""
        return self._call("GET", f"{JOBS}/{job_id}/events", params=_page(limit, after))

    def events_since(
        self, job_id: str, seen: int = 0, page_size: int = EVENT_PAGE
    ) -> list[dict[str, Any]]:
        """Every event numbered above `seen`, oldest first: the API pages newest first, so
        this walks back until it reaches what was already seen."""
        newer: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.events(job_id, page_size, after)
            fresh = [e for e in page["data"] if event_number(e) > seen]
            newer.extend(fresh)
            if len(fresh) < len(page["data"]) or not page["has_more"]:
                return newer[::-1]
            after = fresh[-1]["id"]

    def follow(
        self,
        job_id: str,
        on_event: Callable[[dict[str, Any]], None],
        poll_seconds: float = 1.0,
    ) -> dict[str, Any]:
        """Hand every event of the job to `on_event` as it appears, until the job is final;
        return the final job. The job is read before its events, and its final status is
        stored with its last event, so no event is missed at the end."""
        seen = 0
        while True:
            job = self.job(job_id)
            for event in self.events_since(job_id, seen):
                on_event(event)
                seen = event_number(event)
            if job["status"] in FINAL_STATUSES:
                return job
            time.sleep(poll_seconds)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self.base + path
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ApiFailure(f"cannot reach the AI service at {self.base}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok and isinstance(body, dict):
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            param = f", param {error['param']}" if error.get("param") else ""
            raise ApiFailure(
                f"{error.get('message')} (HTTP {response.status_code}{param})",
                response.status_code,
                error.get("code"),
            )
        raise ApiFailure(
            f"{method} {url} answered {response.status_code}: {response.text[:200]}",
            response.status_code,
        )


def event_number(event: dict[str, Any]) -> int:
    """The sequence number in an event id (``ftevent-<n>``): events are ordered by it."""
    return int(str(event["id"]).removeprefix("ftevent-"))


def _page(limit: int, after: str | None) -> dict[str, Any]:
    return {"limit": limit} if after is None else {"limit": limit, "after": after}
