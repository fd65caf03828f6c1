"""The L1 transaction manager against anvil: a stuck transaction is re-sent with higher fees,
and a transaction an L1 reorg dropped is sent again until it is confirmed on the new chain."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from openledger.l1.client import L1Client, L1Receipt
from openledger.l1.tx_manager import TxManager, TxManagerConfig
from tests.helpers.l1 import Anvil, anvil
from tests.helpers.targets import derive_dev_accounts

pytestmark = pytest.mark.slow

INBOX = "0xff00000000000000000000000000000000000901"


@pytest.fixture
def sender() -> LocalAccount:
    return Account.from_key(derive_dev_accounts(2)[1].key)


class Sending:
    """``TxManager.send`` in a thread, recording every hash it broadcasts."""

    def __init__(self, manager: TxManager, data: bytes) -> None:
        self.hashes: list[bytes] = []
        self.receipt: L1Receipt | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(manager, data), daemon=True)
        self._thread.start()

    def _run(self, manager: TxManager, data: bytes) -> None:
        try:
            self.receipt = manager.send(
                INBOX, data, on_broadcast=lambda _nonce, h: self.hashes.append(h)
            )
        except BaseException as exc:
            self.error = exc

    def wait_hashes(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.hashes) < count:
            assert time.monotonic() < deadline, f"only {len(self.hashes)} broadcasts"
            assert self.error is None, self.error
            time.sleep(0.05)

    def result(self, timeout: float = 30) -> L1Receipt:
        self._thread.join(timeout)
        assert self.error is None, self.error
        assert self.receipt is not None
        return self.receipt


@pytest.fixture
def unmined_l1(tmp_path: Path) -> Iterator[Anvil]:
    with anvil(tmp_path / "l1", "--no-mining") as node:
        yield node


@pytest.fixture
def instant_l1(tmp_path: Path) -> Iterator[Anvil]:
    with anvil(tmp_path / "l1") as node:
        yield node


def test_stuck_transaction_is_bumped_and_replaced(unmined_l1: Anvil, sender: LocalAccount) -> None:
    stop = threading.Event()
    manager = TxManager(
        L1Client(unmined_l1.url),
        sender,
        TxManagerConfig(resubmit_after_s=0.5, poll_s=0.05),
        stop,
    )
    sending = Sending(manager, b"stuck")
    try:
        sending.wait_hashes(1)
        w3 = unmined_l1.w3()
        first = w3.eth.get_transaction(sending.hashes[0])
        sending.wait_hashes(3)  # nothing mines: bumped twice
        unmined_l1.call("evm_mine")
        receipt = sending.result()
    finally:
        stop.set()
    # A replacement was mined (a later bump may have raced the mining and been refused).
    assert receipt.tx_hash in sending.hashes[2:]
    mined = w3.eth.get_transaction(receipt.tx_hash)
    assert mined["nonce"] == first["nonce"]
    # two bumps of at least 10% each (plus a wei) on both caps
    assert mined["maxFeePerGas"] >= first["maxFeePerGas"] * 121 // 100
    assert mined["maxPriorityFeePerGas"] >= first["maxPriorityFeePerGas"] * 121 // 100
    assert bytes(mined["input"]) == b"stuck"
    assert w3.eth.get_transaction_count(sender.address) == first["nonce"] + 1


def test_transaction_dropped_by_reorg_is_sent_again(
    instant_l1: Anvil, sender: LocalAccount
) -> None:
    stop = threading.Event()
    client = L1Client(instant_l1.url)
    manager = TxManager(
        client, sender, TxManagerConfig(confirmations=3, resubmit_after_s=0.5, poll_s=0.05), stop
    )
    w3 = instant_l1.w3()
    try:
        sending = Sending(manager, b"batch")
        sending.wait_hashes(1)
        deadline = time.monotonic() + 10
        while (first := client.receipt(sending.hashes[0])) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Replace the block holding it (and nothing else) with an empty one.
        instant_l1.call("anvil_reorg", 1, [])
        assert client.receipt(sending.hashes[0]) is None or (
            w3.eth.get_block(first.block_number)["hash"] != first.block_hash
        )
        deadline = time.monotonic() + 20
        while sending.receipt is None and sending.error is None:
            assert time.monotonic() < deadline, "not re-sent and confirmed"
            instant_l1.call("evm_mine")
            time.sleep(0.2)
        receipt = sending.result()
    finally:
        stop.set()
    assert receipt.block_hash != first.block_hash
    assert w3.eth.get_block(receipt.block_number)["hash"] == receipt.block_hash
    assert w3.eth.block_number - receipt.block_number + 1 >= 3
    assert bytes(w3.eth.get_transaction(receipt.tx_hash)["input"]) == b"batch"
    assert w3.eth.get_transaction_count(sender.address) == 1
