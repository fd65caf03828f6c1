"""The batcher's data availability setting: calldata, blobs, or auto (blobs where L1 has them),
and how a closed channel is then cut and sent."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openledger.batch.blob import decode_blob
from openledger.l1.client import L1Receipt
from sequencer.batcher import Batcher, BatcherConfig
from sequencer.batcher_progress import PendingChannel, PendingPayload, ProgressFile

INBOX = "0xff00000000000000000000000000000000000901"


@dataclass
class FakeClient:
    blobs: bool
    asked: int = 0

    def head(self) -> Any:
        return type("Head", (), {"number": 10})()

    def supports_blobs(self) -> bool:
        self.asked += 1
        return self.blobs


@dataclass
class FakeTx:
    stop: threading.Event = field(default_factory=threading.Event)
    sent: list[tuple[str, bytes, list[bytes] | None]] = field(default_factory=list)

    def send(self, to: str, data: bytes, *, blobs: Any = None, **_kwargs: Any) -> L1Receipt:
        self.sent.append((to, data, blobs))
        return L1Receipt(bytes([len(self.sent)]) * 32, 1, 10, b"\x0a" * 32, 21_000, 1)


def batcher(tmp_path: Path, mode: str, blobs_on_l1: bool) -> tuple[Batcher, FakeClient, FakeTx]:
    client, tx = FakeClient(blobs_on_l1), FakeTx()
    made = Batcher(
        None,  # type: ignore[arg-type]
        client,  # type: ignore[arg-type]
        tx,  # type: ignore[arg-type]
        INBOX,
        901,
        50,
        ProgressFile(tmp_path / "batcher.json"),
        BatcherConfig(data_availability=mode),
    )
    return made, client, tx


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="one of calldata, blobs, auto"):
        BatcherConfig(data_availability="celestia")


@pytest.mark.parametrize(
    ("mode", "on_l1", "expected", "asks"),
    [
        ("calldata", True, False, 0),
        ("blobs", False, True, 0),
        ("auto", True, True, 1),
        ("auto", False, False, 1),
    ],
)
def test_mode_and_auto(tmp_path: Path, mode: str, on_l1: bool, expected: bool, asks: int) -> None:
    made, client, _tx = batcher(tmp_path, mode, on_l1)
    assert made.use_blobs() is expected
    assert made.use_blobs() is expected
    assert client.asked == asks  # auto asks L1 once


@pytest.mark.parametrize("mode", ["calldata", "blobs"])
def test_payloads_are_sent_as_calldata_or_blobs(tmp_path: Path, mode: str) -> None:
    made, _client, tx = batcher(tmp_path, mode, True)
    payloads = [b"\x00" + b"frame" * 10, b"\x00" + b"more" * 10]
    made.progress.pending = PendingChannel(
        channel_id=b"\x01" * 16,
        first_block=1,
        last_block=3,
        payloads=[PendingPayload(p) for p in payloads],
    )
    made.step()
    assert made.confirmed_through == 3
    if mode == "calldata":
        assert tx.sent == [(INBOX, p, None) for p in payloads]
    else:
        assert [(to, data) for to, data, _ in tx.sent] == [(INBOX, b"")] * 2
        assert [[decode_blob(b) for b in blobs or []] for _, _, blobs in tx.sent] == [
            [p] for p in payloads
        ]
