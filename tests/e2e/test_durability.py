"""Restarts and ``kill -9``: nothing acknowledged is lost, the database always opens.

A receipt returned to a client must still be there after a crash, with the same block hash,
and a transaction whose hash ``eth_sendRawTransaction`` returned must still be mined after the
restart (it was journaled before the answer went out).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.devnet import Devnet, RpcFailure
from tests.helpers.signing import sign

pytestmark = pytest.mark.slow

SENDERS = (7, 8, 9)
WAIT_S = 60.0


def wait_for_receipts(devnet: Devnet, hashes: list[str]) -> dict[str, dict]:
    deadline = time.monotonic() + WAIT_S
    receipts: dict[str, dict] = {}
    while time.monotonic() < deadline and len(receipts) < len(hashes):
        for tx_hash in hashes:
            if tx_hash not in receipts:
                receipt = devnet.call("eth_getTransactionReceipt", tx_hash)
                if receipt is not None:
                    receipts[tx_hash] = receipt
        time.sleep(0.05)
    return receipts


def test_restart_continues_the_same_chain(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "data").start()
    try:
        hashes = [
            devnet.call("eth_sendRawTransaction", "0x" + sign(7, nonce=n).hex()) for n in range(3)
        ]
        receipts = wait_for_receipts(devnet, hashes)
        assert len(receipts) == 3
        head = devnet.call("eth_getBlockByNumber", "latest", False)
    finally:
        devnet.stop()

    devnet.start()
    try:
        assert devnet.call("eth_getBlockByNumber", "latest", False) == head
        for tx_hash, receipt in receipts.items():
            assert devnet.call("eth_getTransactionReceipt", tx_hash) == receipt
        next_hash = devnet.call("eth_sendRawTransaction", "0x" + sign(7, nonce=3).hex())
        assert wait_for_receipts(devnet, [next_hash])
    finally:
        devnet.stop()


def test_kill_minus_nine_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "data").start()
    acknowledged: list[str] = []
    seen_receipts: dict[str, dict] = {}
    stop = threading.Event()

    def send(account: int) -> None:
        nonce = 0
        while not stop.is_set():
            try:
                tx_hash = devnet.call(
                    "eth_sendRawTransaction", "0x" + sign(account, nonce=nonce).hex()
                )
            except (RpcFailure, OSError):
                return  # the process died mid-request: that transaction was never acknowledged
            acknowledged.append(tx_hash)
            nonce += 1
            try:
                receipt = devnet.call("eth_getTransactionReceipt", tx_hash)
            except OSError:
                return
            if receipt is not None:
                seen_receipts[tx_hash] = receipt

    threads = [threading.Thread(target=send, args=(account,)) for account in SENDERS]
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(1.0, 2.5))
    devnet.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert acknowledged, "the load generator never got an answer before the kill"

    devnet.start()
    try:
        head = devnet.call("eth_getBlockByNumber", "latest", True)
        assert head is not None and int(head["number"], 16) >= 0
        for tx_hash, receipt in seen_receipts.items():
            assert devnet.call("eth_getTransactionReceipt", tx_hash) == receipt
        receipts = wait_for_receipts(devnet, acknowledged)
        missing = [h for h in acknowledged if h not in receipts]
        assert not missing, f"{len(missing)} acknowledged transactions were lost"
    finally:
        devnet.stop()
