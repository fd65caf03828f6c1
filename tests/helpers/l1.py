"""An anvil L1 (chain id 900) for rollup tests, and reading the batcher's posts back from it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from web3 import HTTPProvider, Web3

from openledger.batch import BatchReader, SpanBatch
from openledger.batch.blob import decode_blob
from openledger.l1.rollup_file import RollupFile
from tests.helpers.targets import REPO_ROOT, foundry_binary, free_port, rpc_call, stop_process

L1_CHAIN_ID = 900


@dataclass
class Anvil:
    url: str
    process: subprocess.Popen[bytes]

    def w3(self) -> Web3:
        return Web3(HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    def call(self, method: str, *params: object) -> object:
        return rpc_call(self.url, method, list(params))


@contextmanager
def anvil(workdir: Path, *args: str) -> Iterator[Anvil]:
    """anvil on a free port (chain 900, Prague) with ``args`` (e.g. ``--block-time 1``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(foundry_binary("anvil")),
        "--chain-id",
        str(L1_CHAIN_ID),
        "--hardfork",
        "prague",
        "--port",
        str(port),
        *args,
    ]
    with (workdir / "anvil.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True
        )
    node = Anvil(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                node.call("eth_chainId")
                break
            except (requests.RequestException, RuntimeError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"anvil did not start: {command}") from None
                time.sleep(0.1)
        yield node
    finally:
        stop_process(process)


@dataclass(frozen=True)
class PostedBlock:
    """One L2 block as read back from L1. ``parent_hash`` is known for the first block of a
    span batch (and every singular batch) only: the rest follow from executing the blocks."""

    parent_hash: bytes | None
    timestamp: int
    epoch_number: int
    epoch_hash: bytes
    transactions: tuple[bytes, ...]


def tx_payloads(l1: Web3, tx: Any) -> list[bytes]:
    """A batcher transaction's payloads: its calldata, or (type 3) its blobs, decoded (anvil's
    ``anvil_getBlobByHash``)."""
    hashes = tx.get("blobVersionedHashes") or []
    if not hashes:
        return [bytes(tx["input"])]
    blobs = [
        l1.provider.make_request("anvil_getBlobByHash", ["0x" + bytes(h).hex()])["result"]  # type: ignore[arg-type]
        for h in hashes
    ]
    return [decode_blob(bytes.fromhex(blob.removeprefix("0x"))) for blob in blobs]


def posted_blocks(l1: Web3, rollup: RollupFile) -> list[PostedBlock]:
    """Every L2 block the batcher has posted, decoded from L1 in L1 order (duplicates and gaps
    left for the caller to see); any dropped frame or channel fails the test."""
    reader = BatchReader(rollup.l2_chain_id, rollup.channel_timeout)
    inbox = rollup.batch_inbox_address.lower()
    batcher = rollup.batcher_address.lower()
    posted: list[PostedBlock] = []
    for number in range(rollup.l1_genesis.number, l1.eth.block_number + 1):
        block = l1.eth.get_block(number, full_transactions=True)
        payloads = [
            payload
            for tx in block["transactions"]
            if (tx.get("to") or "").lower() == inbox and tx["from"].lower() == batcher
            for payload in tx_payloads(l1, tx)
        ]
        result = reader.add_l1_block(number, payloads)
        assert not result.drops, result.drops
        for channel in result.channels:
            for batch in channel.batches:
                if isinstance(batch, SpanBatch):
                    posted.extend(
                        PostedBlock(
                            batch.parent_hash if index == 0 else None,
                            b.timestamp,
                            b.epoch_number,
                            b.epoch_hash,
                            b.transactions,
                        )
                        for index, b in enumerate(batch.blocks)
                    )
                else:
                    posted.append(
                        PostedBlock(
                            batch.parent_hash,
                            batch.timestamp,
                            batch.epoch_number,
                            batch.epoch_hash,
                            batch.transactions,
                        )
                    )
    return posted
