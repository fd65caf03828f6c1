"""Every answered, paid request, durably: the cashier's memory across restarts.

One sqlite file (`<data_dir>/billing.sqlite3`, WAL, `synchronous=FULL`): a record is committed
before `record` returns its response id, and each settlement outcome is committed when the
receipt arrives, so a crash loses nothing and a restart knows exactly what is still unsettled.
A record sent in a transaction whose outcome was never seen keeps `submitted_block`: on restart
(or the next try) the settler asks the contract whether its request hash was settled before
sending it again, which is what makes a restart never double-charge.

Each record keeps the answer it was given (prompt token ids and text per choice): attribution
scores it after `record` returns, off the request's path, and a restart resumes what was not
scored yet. The scores and weights it decided stay beside the record, for audits.

Wei amounts are stored as decimal text: sqlite integers stop at 2**63 wei (about 9.2 OPEN).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from attribution.weights import Basis, Weights
from openledger.contracts.payments import Session, SignedSession
from openledger.types import Wei
from serving.api.ports import AnsweredChoice

DB_FILE = "billing.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    digest BLOB PRIMARY KEY,
    user TEXT NOT NULL,
    operator TEXT NOT NULL,
    adapter_id TEXT NOT NULL,
    max_total TEXT NOT NULL,
    expiry INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    response_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    session_digest BLOB NOT NULL REFERENCES sessions(digest),
    user TEXT NOT NULL,
    adapter_id INTEGER NOT NULL,
    request_hash BLOB NOT NULL UNIQUE,
    output_hash BLOB NOT NULL,
    price TEXT NOT NULL,
    contribution_ids TEXT NOT NULL,
    weights TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_block INTEGER,
    tx_hash BLOB,
    inference_id INTEGER,
    fee TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS responses_pending ON responses(status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS answers (
    response_id TEXT PRIMARY KEY REFERENCES responses(response_id),
    choices TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attributions (
    response_id TEXT PRIMARY KEY REFERENCES responses(response_id),
    method TEXT NOT NULL,
    basis TEXT NOT NULL,
    scores TEXT NOT NULL
);
"""


class Status(StrEnum):
    ATTRIBUTING = "attributing"
    """Recorded; its contributions are being scored (no weights yet), then it is pending."""
    PENDING = "pending"
    """Recorded, not settled yet (maybe sent, see `submitted_block`)."""
    SETTLED = "settled"
    FAILED = "failed"
    """The contract refused it for a reason of its own (expired, revoked, balance...): final."""


@dataclass(frozen=True)
class ResponseRecord:
    """One paid response: what was asked and answered, who pays, who is credited, and how
    it was settled."""

    response_id: str
    created_at: int
    """Unix time of `record`."""
    session_digest: bytes
    user: str
    adapter_id: int
    request_hash: bytes
    output_hash: bytes
    price: Wei
    """The price authorized; the fee charged (`fee`) is the adapter's price at settlement."""
    contribution_ids: tuple[int, ...]
    """Empty while attributing."""
    weights: tuple[int, ...]
    status: Status = Status.PENDING
    submitted_block: int | None = None
    """Head block before the first transaction that carried it; set = maybe settled already."""
    tx_hash: bytes | None = None
    inference_id: int | None = None
    fee: Wei | None = None
    error: str | None = None


def _choices(encoded: str | None) -> list[AnsweredChoice]:
    if encoded is None:
        return []
    return [AnsweredChoice(tuple(c["prompt_ids"]), c["text"]) for c in json.loads(encoded)]


def _record(row: sqlite3.Row) -> ResponseRecord:
    return ResponseRecord(
        response_id=row["response_id"],
        created_at=row["created_at"],
        session_digest=bytes(row["session_digest"]),
        user=row["user"],
        adapter_id=row["adapter_id"],
        request_hash=bytes(row["request_hash"]),
        output_hash=bytes(row["output_hash"]),
        price=Wei(int(row["price"])),
        contribution_ids=tuple(json.loads(row["contribution_ids"])),
        weights=tuple(json.loads(row["weights"])),
        status=Status(row["status"]),
        submitted_block=row["submitted_block"],
        tx_hash=None if row["tx_hash"] is None else bytes(row["tx_hash"]),
        inference_id=row["inference_id"],
        fee=None if row["fee"] is None else Wei(int(row["fee"])),
        error=row["error"],
    )


class ResponseLedger:
    """The sqlite file; every method is one committed transaction, callable from any thread."""

    def __init__(self, data_dir: Path) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(data_dir) / DB_FILE
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Several statements committed together or not at all (the caller holds the lock)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # sessions

    def add_session(self, digest: bytes, signed: SignedSession) -> None:
        s = signed.session
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    s.user,
                    s.operator,
                    str(s.adapter_id),
                    str(s.max_total),
                    s.expiry,
                    str(s.nonce),
                    signed.signature,
                ),
            )

    def session(self, digest: bytes) -> SignedSession | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return None
        session = Session(
            row["user"],
            row["operator"],
            int(row["adapter_id"]),
            Wei(int(row["max_total"])),
            row["expiry"],
            int(row["nonce"]),
        )
        return SignedSession(session, bytes(row["signature"]))

    # responses

    def add(
        self, record: ResponseRecord, choices: Sequence[AnsweredChoice] = ()
    ) -> ResponseRecord | None:
        """Store a new record with the answer it was given (what attribution scores); if its
        request hash is already recorded, store nothing and return the earlier record (the
        contract would refuse the hash a second time)."""
        with self._lock:
            try:
                with self._transaction():
                    self._db.execute(
                        "INSERT INTO responses VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL)",
                        (
                            record.response_id,
                            record.created_at,
                            record.session_digest,
                            record.user,
                            record.adapter_id,
                            record.request_hash,
                            record.output_hash,
                            str(record.price),
                            json.dumps(list(record.contribution_ids)),
                            json.dumps(list(record.weights)),
                            record.status.value,
                        ),
                    )
                    if choices:
                        self._db.execute(
                            "INSERT INTO answers VALUES (?, ?)",
                            (record.response_id, json.dumps([asdict(c) for c in choices])),
                        )
                return None
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT * FROM responses WHERE request_hash = ?", (record.request_hash,)
                ).fetchone()
                if row is None:  # the clash was on the response id: never reuse one
                    raise
                return _record(row)

    def get(self, response_id: str) -> ResponseRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM responses WHERE response_id = ?", (response_id,)
            ).fetchone()
        return None if row is None else _record(row)

    def pending(self) -> list[ResponseRecord]:
        """Unsettled records, oldest first: what a restarted cashier must still settle."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM responses WHERE status = 'pending' ORDER BY created_at, rowid"
            ).fetchall()
        return [_record(row) for row in rows]

    def attributing(self) -> list[tuple[ResponseRecord, list[AnsweredChoice]]]:
        """Records still to attribute, oldest first, with their answers: a restart's queue."""
        with self._lock:
            rows = self._db.execute(
                "SELECT responses.*, answers.choices FROM responses LEFT JOIN answers "
                "USING (response_id) WHERE status = 'attributing' "
                "ORDER BY responses.created_at, responses.rowid"
            ).fetchall()
        return [(_record(row), _choices(row["choices"])) for row in rows]

    def set_attribution(self, record: ResponseRecord, credit: Weights) -> ResponseRecord:
        """Store the credit of an attributing record, which becomes pending (to settle)."""
        ids, weights = json.dumps(list(credit.contribution_ids)), json.dumps(list(credit.weights))
        scores = json.dumps({str(cid): score for cid, score in credit.scores.items()})
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE responses SET contribution_ids = ?, weights = ?, status = 'pending' "
                "WHERE response_id = ? AND status = 'attributing'",
                (ids, weights, record.response_id),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO attributions VALUES (?, ?, ?, ?)",
                (record.response_id, credit.method, credit.basis.value, scores),
            )
        return replace(
            record,
            contribution_ids=credit.contribution_ids,
            weights=credit.weights,
            status=Status.PENDING,
        )

    def credit(self, response_id: str) -> Weights | None:
        """How a record's contributions were credited, or None before attribution."""
        with self._lock:
            row = self._db.execute(
                "SELECT responses.contribution_ids, responses.weights, attributions.* "
                "FROM attributions JOIN responses USING (response_id) WHERE response_id = ?",
                (response_id,),
            ).fetchone()
        if row is None:
            return None
        return Weights(
            tuple(json.loads(row["contribution_ids"])),
            tuple(json.loads(row["weights"])),
            Basis(row["basis"]),
            row["method"],
            {int(cid): score for cid, score in json.loads(row["scores"]).items()},
        )

    def mark_submitted(self, records: list[ResponseRecord], block: int) -> list[ResponseRecord]:
        """Note that the records are about to be sent; the first such block is kept, so a
        search for an earlier settlement starts early enough."""
        with self._lock:
            self._db.executemany(
                "UPDATE responses SET submitted_block = COALESCE(submitted_block, ?) "
                "WHERE response_id = ?",
                [(block, r.response_id) for r in records],
            )
        return [
            r if r.submitted_block is not None else replace(r, submitted_block=block)
            for r in records
        ]

    def mark_settled(
        self, record: ResponseRecord, tx_hash: bytes, inference_id: int, fee: Wei
    ) -> ResponseRecord:
        with self._lock:
            self._db.execute(
                "UPDATE responses SET status = 'settled', tx_hash = ?, inference_id = ?, fee = ?, "
                "error = NULL WHERE response_id = ?",
                (tx_hash, inference_id, str(fee), record.response_id),
            )
        return replace(
            record, status=Status.SETTLED, tx_hash=tx_hash, inference_id=inference_id, fee=fee
        )

    def mark_failed(self, record: ResponseRecord, error: str) -> ResponseRecord:
        with self._lock:
            self._db.execute(
                "UPDATE responses SET status = 'failed', error = ? WHERE response_id = ?",
                (error, record.response_id),
            )
        return replace(record, status=Status.FAILED, error=error)
