"""What the batcher has put on L1, kept in a small JSON file in the datadir.

Three facts survive a crash: ``confirmed_through``, the last L2 block whose channel is fully
confirmed on L1, the L1 block and transaction that completed each recent channel
(``confirmations``, what the ``finalized`` tag is read from), and the channel being submitted
(``pending``): its payloads, exactly as
encoded, and for each payload the nonce and every transaction hash that may have reached L1.
The file is replaced atomically (write, fsync, rename) *before* each broadcast, so after a
``kill -9`` the batcher knows every transaction it might have sent: it resumes the same
channel with the same bytes (no block posted twice) and starts the next channel right after
it (no gap). Blocks of a channel still being filled are not recorded: they are simply batched
again after a restart.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROGRESS_FILE = "batcher.json"
FORMAT_VERSION = 1


@dataclass
class PendingPayload:
    data: bytes
    nonce: int | None = None
    tx_hashes: list[bytes] = field(default_factory=list)
    l1_block: int | None = None
    """L1 block that holds it, once confirmed."""
    included: bytes | None = None
    """Which of `tx_hashes` that block holds."""


@dataclass
class PendingChannel:
    channel_id: bytes
    first_block: int
    last_block: int
    payloads: list[PendingPayload]

    def first_inclusion(self) -> int | None:
        """The L1 block of its earliest confirmed payload: when the channel opened on L1."""
        blocks = [p.l1_block for p in self.payloads if p.l1_block is not None]
        return min(blocks) if blocks else None


@dataclass(frozen=True)
class Confirmation:
    """A channel's L2 blocks through `l2_through` are on L1 once `l1_block` holds `tx_hash`
    (the channel's last payload to land: every earlier one is in that block or before it)."""

    l2_through: int
    l1_block: int
    tx_hash: bytes


KEPT_CONFIRMATIONS = 256
"""Recent confirmations kept; older ones are long finalized (L1 finality is ~64 blocks)."""


@dataclass
class BatcherProgress:
    confirmed_through: int = 0
    """The last L2 block whose channel is confirmed on L1 (genesis, 0, is never batched)."""
    pending: PendingChannel | None = None
    confirmations: list[Confirmation] = field(default_factory=list)
    """Oldest first, at most `KEPT_CONFIRMATIONS`."""

    def confirm(self, confirmation: Confirmation) -> None:
        self.confirmed_through = confirmation.l2_through
        self.confirmations = [*self.confirmations, confirmation][-KEPT_CONFIRMATIONS:]

    def to_json(self) -> dict[str, Any]:
        pending = self.pending
        return {
            "version": FORMAT_VERSION,
            "confirmed_through": self.confirmed_through,
            "confirmations": [
                [c.l2_through, c.l1_block, c.tx_hash.hex()] for c in self.confirmations
            ],
            "pending": None
            if pending is None
            else {
                "channel_id": pending.channel_id.hex(),
                "first_block": pending.first_block,
                "last_block": pending.last_block,
                "payloads": [
                    {
                        "data": p.data.hex(),
                        "nonce": p.nonce,
                        "tx_hashes": [h.hex() for h in p.tx_hashes],
                        "l1_block": p.l1_block,
                        "included": None if p.included is None else p.included.hex(),
                    }
                    for p in pending.payloads
                ],
            },
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BatcherProgress:
        if raw.get("version") != FORMAT_VERSION:
            raise ValueError(f"unknown batcher progress version {raw.get('version')!r}")
        pending = raw["pending"]
        return cls(
            confirmed_through=int(raw["confirmed_through"]),
            confirmations=[  # absent in files written before finality was tracked
                Confirmation(int(l2), int(l1), bytes.fromhex(tx))
                for l2, l1, tx in raw.get("confirmations", [])
            ],
            pending=None
            if pending is None
            else PendingChannel(
                channel_id=bytes.fromhex(pending["channel_id"]),
                first_block=int(pending["first_block"]),
                last_block=int(pending["last_block"]),
                payloads=[
                    PendingPayload(
                        data=bytes.fromhex(p["data"]),
                        nonce=p["nonce"],
                        tx_hashes=[bytes.fromhex(h) for h in p["tx_hashes"]],
                        l1_block=p["l1_block"],
                        included=None
                        if p.get("included") is None
                        else bytes.fromhex(p["included"]),
                    )
                    for p in pending["payloads"]
                ],
            ),
        )


class ProgressFile:
    """Load and atomically save :class:`BatcherProgress` at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> BatcherProgress:
        try:
            return BatcherProgress.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return BatcherProgress()

    def save(self, progress: BatcherProgress) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as handle:
            json.dump(progress.to_json(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
