"""The batcher follows L1's SystemConfig: it posts to the inbox in force, nothing while its key
is not the batcher, and does not count a channel that landed after its key stopped being the
batcher (full nodes ignore it) as confirmed. L1, L2 and the transaction manager are fakes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_utils import to_canonical_address, to_checksum_address

from openledger.l1.system_config import SystemConfig
from sequencer.batcher import Batcher
from sequencer.batcher_progress import PendingChannel, PendingPayload, ProgressFile

ME = to_checksum_address("0x" + "11" * 20)
OTHER = to_checksum_address("0x" + "22" * 20)
INBOX = to_checksum_address("0x" + "ff" * 20)
NEW_INBOX = to_checksum_address("0x" + "ee" * 20)


def config(batcher: str, inbox: str = INBOX) -> SystemConfig:
    return SystemConfig(to_canonical_address(batcher), to_canonical_address(inbox))


class FakeSystemConfig:
    """``current()``: ``head`` at L1's head, ``at[n]`` at block ``n``."""

    def __init__(self, head: SystemConfig) -> None:
        self.head = head
        self.at: dict[int, SystemConfig] = {}

    def current(self, block: int | str = "latest") -> SystemConfig:
        return self.head if block == "latest" else self.at.get(int(block), self.head)


class FakeTx:
    def __init__(self) -> None:
        self.account = SimpleNamespace(address=ME)
        self.stop = threading.Event()
        self.sent: list[tuple[str, bytes]] = []
        self.block = 100

    def send(self, to: str, data: bytes, **_kwargs: Any) -> Any:
        self.sent.append((to, data))
        return SimpleNamespace(block_number=self.block, tx_hash=bytes([len(self.sent)]) * 32)


def batcher(tmp_path: Path, system_config: FakeSystemConfig) -> tuple[Batcher, FakeTx]:
    tx = FakeTx()
    made = Batcher(
        SimpleNamespace(head_number=lambda: 0),  # type: ignore[arg-type]
        SimpleNamespace(),  # type: ignore[arg-type]
        tx,  # type: ignore[arg-type]
        INBOX,
        901,
        50,
        ProgressFile(tmp_path / "batcher.json"),
        system_config=system_config,  # type: ignore[arg-type]
    )
    made.progress.confirmed_through = 4
    made.progress.pending = PendingChannel(b"\x0c" * 16, 5, 7, [PendingPayload(b"frames")])
    return made, tx


def test_posts_only_while_its_key_is_the_batcher_and_to_the_inbox_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    system_config = FakeSystemConfig(config(OTHER))
    made, tx = batcher(tmp_path, system_config)
    with caplog.at_level(logging.WARNING):
        made.step()
        made.step()
    assert tx.sent == []
    errors = [
        r.getMessage() for r in caplog.records if "not SystemConfig's batcher" in r.getMessage()
    ]
    assert len(errors) == 1, "one line per change, not one per poll"
    assert made.progress.pending is not None and made.confirmed_through == 4
    # The owner makes us the batcher again and moves the inbox.
    system_config.head = config(ME, NEW_INBOX)
    made.step()
    assert tx.sent == [(NEW_INBOX, b"frames")]
    assert made.progress.pending is None and made.confirmed_through == 7


def test_a_channel_that_landed_after_the_change_is_batched_again(tmp_path: Path) -> None:
    system_config = FakeSystemConfig(config(ME))
    system_config.at[100] = config(OTHER)  # setBatcher landed with (or before) our payload
    made, tx = batcher(tmp_path, system_config)
    made.step()
    assert tx.sent == [(INBOX, b"frames")]
    assert made.progress.pending is None
    assert made.confirmed_through == 4, "readers ignored it: not confirmed"
    assert ProgressFile(tmp_path / "batcher.json").load().confirmed_through == 4
    assert made._next == 5, "its blocks go into the next channel"
