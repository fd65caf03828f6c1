"""Blob transactions against anvil: the transaction manager sends (and bumps) type-3
transactions, and derivation's L1 source reads their blobs back through both blob sources
(anvil's ``anvil_getBlobByHash`` and its beacon route ``/eth/v1/beacon/blobs/{block_id}``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address
from web3.exceptions import TransactionNotFound

from node.derivation.blobs import BeaconBlobSource, BlobSource, RpcBlobSource
from node.derivation.jsonrpc import JsonRpcClient
from node.derivation.l1_rpc import RpcL1Source
from node.derivation.retrieval import batcher_payloads
from openledger.batch.blob import MAX_BLOB_DATA_SIZE, encode_blob
from openledger.l1.client import L1Client, L1Receipt
from openledger.l1.system_config import SystemConfig
from openledger.l1.tx_manager import MIN_BLOB_FEE_CAP, TxManager, TxManagerConfig
from tests.helpers.l1 import Anvil, anvil
from tests.helpers.targets import derive_dev_accounts

pytestmark = pytest.mark.slow

INBOX = "0xff00000000000000000000000000000000000901"
PAYLOADS = [b"\x00" + bytes([n]) * 1000 for n in range(1, 3)]


@pytest.fixture
def sender() -> LocalAccount:
    return Account.from_key(derive_dev_accounts(2)[1].key)


@pytest.fixture
def instant_l1(tmp_path: Path) -> Iterator[Anvil]:
    with anvil(tmp_path / "l1") as node:
        yield node


def test_l1_supports_blobs(instant_l1: Anvil) -> None:
    client = L1Client(instant_l1.url)
    assert client.supports_blobs()
    assert client.blob_base_fee() >= 1


def test_blob_transaction_round_trip_through_both_sources(
    instant_l1: Anvil, sender: LocalAccount
) -> None:
    client = L1Client(instant_l1.url)
    manager = TxManager(client, sender, TxManagerConfig(poll_s=0.05))
    big = b"\x00" + bytes(range(256)) * (MAX_BLOB_DATA_SIZE // 256) + b"\x01" * 4
    big = big[:MAX_BLOB_DATA_SIZE]
    receipt = manager.send(INBOX, b"", blobs=[encode_blob(p) for p in [*PAYLOADS, big]])
    tx = instant_l1.w3().eth.get_transaction(receipt.tx_hash)
    assert tx["type"] == 3
    assert len(tx["blobVersionedHashes"]) == 3
    assert tx["maxFeePerBlobGas"] >= MIN_BLOB_FEE_CAP
    assert bytes(tx["input"]) == b""

    rpc = JsonRpcClient(instant_l1.url)
    config = SystemConfig(to_canonical_address(sender.address), to_canonical_address(INBOX))
    sources: list[BlobSource] = [RpcBlobSource(rpc), BeaconBlobSource(instant_l1.url)]
    for blobs in sources:
        source = RpcL1Source(rpc, bytes(20), blobs=blobs, batcher_config=config)
        source.refresh(receipt.block_number, 1)
        block = source.block(receipt.block_number)
        assert block is not None
        assert batcher_payloads(block, config.batch_inbox, config.batcher) == [*PAYLOADS, big]


def _send_in_thread(
    manager: TxManager, blobs: list[bytes]
) -> tuple[list[bytes], list[L1Receipt], threading.Thread]:
    hashes: list[bytes] = []
    receipts: list[L1Receipt] = []

    def run() -> None:
        receipts.append(
            manager.send(INBOX, b"", blobs=blobs, on_broadcast=lambda _n, h: hashes.append(h))
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return hashes, receipts, thread


def test_stuck_blob_transaction_is_bumped_by_100_percent(
    tmp_path: Path, sender: LocalAccount
) -> None:
    with anvil(tmp_path / "l1", "--no-mining") as node:
        stop = threading.Event()
        manager = TxManager(
            L1Client(node.url), sender, TxManagerConfig(resubmit_after_s=0.5, poll_s=0.05), stop
        )
        hashes, receipts, thread = _send_in_thread(manager, [encode_blob(PAYLOADS[0])])
        try:
            w3 = node.w3()
            deadline = time.monotonic() + 30
            first = None
            while first is None:  # the hash is recorded just before it is broadcast
                assert time.monotonic() < deadline, "not broadcast"
                try:
                    first = w3.eth.get_transaction(hashes[0]) if hashes else None
                except TransactionNotFound:
                    time.sleep(0.01)
            third = None
            while third is None:  # bumped twice, and the second bump is in the pool
                assert time.monotonic() < deadline, f"only {len(hashes)} broadcasts"
                with contextlib.suppress(TransactionNotFound):
                    third = w3.eth.get_transaction(hashes[2]) if len(hashes) > 2 else None
                time.sleep(0.02)
            node.call("evm_mine")
            thread.join(30)
        finally:
            stop.set()
        (receipt,) = receipts
        assert receipt.tx_hash in hashes[2:]
        mined = w3.eth.get_transaction(receipt.tx_hash)
        assert mined["type"] == 3 and mined["nonce"] == first["nonce"]
        # two bumps of at least 100 % on all three caps (geth's blob pool replacement rule)
        assert mined["maxFeePerBlobGas"] >= 4 * first["maxFeePerBlobGas"]
        assert mined["maxFeePerGas"] >= 4 * first["maxFeePerGas"]
        assert mined["maxPriorityFeePerGas"] >= 4 * first["maxPriorityFeePerGas"]
        assert mined["blobVersionedHashes"] == first["blobVersionedHashes"]
