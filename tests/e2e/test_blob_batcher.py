"""The batcher posts in EIP-4844 blobs; full nodes derive the devnet from them.

``openledger devnet --batcher-data-availability blobs`` (anvil L1): L2 transactions are
batched into blob transactions (type 3, empty calldata) to the inbox. Two fresh full nodes,
without ``--sequencer-rpc`` so that L1 is all they have, fetch the blobs, one through the
beacon API route that anvil serves (``--l1-beacon``), one through ``anvil_getBlobByHash``
(the default), and must reach exactly the sequencer's block hashes and state roots.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from tests.helpers.rollup_devnet import rollup_devnet, start_full_node, wait_for
from tests.helpers.targets import derive_dev_accounts, rpc_call, stop_process

pytestmark = pytest.mark.slow

TRANSFERS = 5


@pytest.fixture
def blob_devnet(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    flags = ("--no-contracts", "--batcher-data-availability", "blobs")
    with rollup_devnet(tmp_path, *flags) as running:
        yield running.url, running.l1_url, running.datadir


def batcher_transactions(l1: Web3, inbox: str) -> list[dict[str, object]]:
    found = []
    for number in range(l1.eth.block_number + 1):
        for tx in l1.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["to"] is not None and tx["to"].lower() == inbox.lower():
                found.append(dict(tx))
    return found


def test_full_nodes_derive_the_chain_from_blobs(
    blob_devnet: tuple[str, str, Path], tmp_path: Path
) -> None:
    l2_url, l1_url, datadir = blob_devnet
    l1 = Web3(HTTPProvider(l1_url, request_kwargs={"timeout": 30}))
    l2 = Web3(HTTPProvider(l2_url, request_kwargs={"timeout": 30}))
    sender = derive_dev_accounts(8)[7]
    nonce = l2.eth.get_transaction_count(sender.address)
    for i in range(TRANSFERS):
        signed = sender.sign_transaction(
            {
                "chainId": 901,
                "nonce": nonce + i,
                "to": "0x000000000000000000000000000000000000bEEF",
                "value": 10**15 + i,
                "gas": 21_000,
                "maxFeePerGas": 10 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        l2.eth.send_raw_transaction(signed.raw_transaction)
    wait_for(
        "the transfers",
        lambda: l2.eth.get_transaction_count(sender.address) == nonce + TRANSFERS,
        timeout=30,
    )
    target = l2.eth.block_number
    # The sequencer's own safe head moves once the batcher's blob transaction is confirmed.
    wait_for(
        f"L2 block {target} batched",
        lambda: l2.eth.get_block("safe")["number"] >= target,
        timeout=40,
    )
    inbox = json.loads((datadir / "rollup.json").read_text())["batch_inbox_address"]
    posted = batcher_transactions(l1, inbox)
    assert posted, "no batcher transactions on L1"
    assert all(tx["type"] == 3 and tx["blobVersionedHashes"] for tx in posted)
    assert all(bytes(tx["input"]) == b"" for tx in posted)  # type: ignore[arg-type]

    nodes: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for name, extra in (("beacon", ["--l1-beacon", l1_url]), ("rpc", [])):
            node = start_full_node(datadir, l1_url, tmp_path / f"node-{name}", *extra)
            nodes.append((node.url, node.process))
        for node_url, _process in nodes:
            wait_for("the full node", lambda u=node_url: rpc_call(u, "eth_chainId", timeout=2))
            wait_for(
                f"safe L2 block {target} on {node_url}",
                lambda u=node_url: (
                    rpc_call(u, "openledger_syncStatus")["safe_l2"]["number"] >= target
                ),
                timeout=40,
            )
            for number in range(target + 1):
                ours = rpc_call(node_url, "eth_getBlockByNumber", [hex(number), False])
                theirs = rpc_call(l2_url, "eth_getBlockByNumber", [hex(number), False])
                assert (ours["hash"], ours["stateRoot"]) == (theirs["hash"], theirs["stateRoot"])
    finally:
        for _url, process in nodes:
            stop_process(process)
