"""Fine-tuning jobs and their events in sqlite, so a job outlives the process that accepted it.

WAL with ``synchronous=FULL``: a job the API answered as created is on disk, and a status
change is never lost to a power cut. Opening the store is the service's start-up: jobs left
``running`` by a dead process go back to the front of the queue (their checkpoints make the
rerun a resume), so no accepted job is ever lost or silently dropped.

One connection, guarded by a lock, serves the API's threads and the worker threads: sqlite
serialises writers anyway, and jobs see a handful of writes per second at most.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

DB_FILE = "jobs.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    training_file TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    config TEXT NOT NULL,
    suffix TEXT,
    owner TEXT,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT,
    result TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    created_at INTEGER NOT NULL,
    level TEXT NOT NULL,
    type TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_by_job ON events(job_id, seq);
"""


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class UnknownJob(KeyError):
    """No job with that id."""

    def __str__(self) -> str:
        return f"no fine-tuning job with id {self.args[0]!r}"


@dataclass(frozen=True)
class Job:
    seq: int
    id: str
    model: str
    training_file: str
    hyperparameters: dict[str, Any]
    """As OpenAI shows them: ``n_epochs``, ``batch_size``, ``learning_rate_multiplier`` and
    ours (LoRA), resolved to the values actually used."""
    config: dict[str, Any]
    """The full `TrainingConfig` as JSON, fixed at creation so a resume trains the same job."""
    suffix: str | None
    owner: str | None
    """The address whose API key created the job: it may cancel the job, and it receives the
    adapter (and its owner share of every paid call). None for jobs older than owners."""
    status: JobStatus
    cancel_requested: bool
    created_at: int
    finished_at: int | None
    error: dict[str, Any] | None
    """OpenAI's error object: ``code``, ``message``, ``param``."""
    result: dict[str, Any] | None


@dataclass(frozen=True)
class Event:
    seq: int
    job_id: str
    created_at: int
    level: str
    type: str
    """``message`` or ``metrics``, as OpenAI's events."""
    message: str
    data: dict[str, Any] | None

    @property
    def id(self) -> str:
        return f"ftevent-{self.seq}"


@dataclass(frozen=True)
class NewEvent:
    """An event to append; the store gives it its sequence number and time."""

    message: str
    data: dict[str, Any] | None = None
    type: str = "message"
    level: str = "info"


def new_job_id() -> str:
    return "ftjob-" + secrets.token_hex(12)


class JobStore:
    """The jobs database under `data_dir`; see the module docstring."""

    def __init__(self, data_dir: Path) -> None:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._migrate()
        self._requeue_running()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        """Bring a database of an older release up to `SCHEMA`: jobs created before jobs had
        owners keep NULL (nobody may cancel them over the API)."""
        with self._lock:
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
            if "owner" not in columns:
                self._db.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")

    def _requeue_running(self) -> None:
        """Jobs a dead process left running go first in the queue, oldest first."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE jobs SET status = ?, priority = 1 WHERE status = ?",
                (JobStatus.QUEUED, JobStatus.RUNNING),
            )

    def create(
        self,
        model: str,
        training_file: str,
        hyperparameters: dict[str, Any],
        config: dict[str, Any],
        suffix: str | None,
        owner: str | None,
    ) -> Job:
        """Queue a job; `owner` is the address whose API key created it."""
        job_id = new_job_id()
        now = int(time.time())
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO jobs (id, model, training_file, hyperparameters, config, suffix,"
                " owner, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    model,
                    training_file,
                    json.dumps(hyperparameters),
                    json.dumps(config),
                    suffix,
                    owner,
                    JobStatus.QUEUED,
                    now,
                ),
            )
            self._insert_events(job_id, [NewEvent(f"Created fine-tuning job: {job_id}")], now)
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise UnknownJob(job_id)
        return _job(row)

    def list(self, limit: int, after: str | None = None) -> tuple[list[Job], bool]:
        """Newest first, as OpenAI lists them; `after` is the id of the last job already seen.
        Returns the page and whether more follow."""
        before = self.get(after).seq if after is not None else None
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE ? IS NULL OR seq < ? ORDER BY seq DESC LIMIT ?",
                (before, before, limit + 1),
            ).fetchall()
        return [_job(r) for r in rows[:limit]], len(rows) > limit

    def events(self, job_id: str, limit: int, after: str | None = None) -> tuple[list[Event], bool]:
        """The job's events, newest first; `after` is an event id (``ftevent-<n>``)."""
        self.get(job_id)
        before = _event_seq(after) if after is not None else None
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM events WHERE job_id = ? AND (? IS NULL OR seq < ?)"
                " ORDER BY seq DESC LIMIT ?",
                (job_id, before, before, limit + 1),
            ).fetchall()
        return [_event(r) for r in rows[:limit]], len(rows) > limit

    def add_events(self, job_id: str, events: Iterable[NewEvent]) -> None:
        """Append events in one transaction: the worker batches step events this way."""
        with self._lock, self._db:
            self._insert_events(job_id, list(events), int(time.time()))

    def _insert_events(self, job_id: str, events: list[NewEvent], now: int) -> None:
        self._db.executemany(
            "INSERT INTO events (job_id, created_at, level, type, message, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    job_id,
                    now,
                    e.level,
                    e.type,
                    e.message,
                    None if e.data is None else json.dumps(e.data),
                )
                for e in events
            ],
        )

    def claim_next(self) -> Job | None:
        """Mark the first queued job running and return it (None: the queue is empty)."""
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT id FROM jobs WHERE status = ? ORDER BY priority DESC, seq LIMIT 1",
                (JobStatus.QUEUED,),
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE jobs SET status = ?, priority = 0 WHERE id = ?",
                (JobStatus.RUNNING, row["id"]),
            )
        return self.get(row["id"])

    def request_cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one is flagged, and its worker stops it
        before its next step. A finished job is returned unchanged."""
        now = int(time.time())
        with self._lock, self._db:
            queued = self._db.execute(
                "UPDATE jobs SET status = ?, finished_at = ? WHERE id = ? AND status = ?",
                (JobStatus.CANCELLED, now, job_id, JobStatus.QUEUED),
            ).rowcount
            if queued:
                self._insert_events(job_id, [NewEvent("Job cancelled before it started")], now)
            self._db.execute(
                "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = ?",
                (job_id, JobStatus.RUNNING),
            )
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return bool(row and row["cancel_requested"])

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        message: str,
    ) -> Job:
        """Record a job's final status, its error or result, and a last event, atomically."""
        assert status in FINAL
        now = int(time.time())
        with self._lock, self._db:
            self._db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, error = ?, result = ? WHERE id = ?",
                (
                    status,
                    now,
                    None if error is None else json.dumps(error),
                    None if result is None else json.dumps(result),
                    job_id,
                ),
            )
            level = "error" if status == JobStatus.FAILED else "info"
            self._insert_events(job_id, [NewEvent(message, level=level)], now)
        return self.get(job_id)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        seq=row["seq"],
        id=row["id"],
        model=row["model"],
        training_file=row["training_file"],
        hyperparameters=json.loads(row["hyperparameters"]),
        config=json.loads(row["config"]),
        suffix=row["suffix"],
        owner=row["owner"],
        status=JobStatus(row["status"]),
        cancel_requested=bool(row["cancel_requested"]),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        error=None if row["error"] is None else json.loads(row["error"]),
        result=None if row["result"] is None else json.loads(row["result"]),
    )


def _event(row: sqlite3.Row) -> Event:
    return Event(
        seq=row["seq"],
        job_id=row["job_id"],
        created_at=row["created_at"],
        level=row["level"],
        type=row["type"],
        message=row["message"],
        data=None if row["data"] is None else json.loads(row["data"]),
    )


def _event_seq(event_id: str) -> int:
    number = event_id.removeprefix("ftevent-")
    if not number.isdigit():
        raise ValueError(f"not an event id: {event_id!r}")
    return int(number)
