"""The rollup follows L1's SystemConfig: after the owner changes the batcher, a full node reads
only the new batcher's batches, and the sequencer's batcher stops posting with the old key.

``openledger devnet`` (its own anvil, dev account 1 batching) runs as a process; a fresh
``openledger node`` derives from the same anvil. Dev account 0, the SystemConfig owner, makes
dev account 3 the batcher; the test then posts the sequencer's next blocks itself, first from
the old batcher (ignored), then from the new one (derived, to the sequencer's exact hashes,
whose L1-attributes deposits now record the new batcher).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from node.l1_info import L1Attributes
from openledger.batch import ChannelOut
from openledger.contracts.artifacts import load_artifact
from openledger.l1.deploy import L1_ARTIFACTS_DIR, SYSTEM_CONFIG
from sequencer.l2_blocks import L2Blocks
from tests.helpers.rollup_devnet import rollup_devnet, start_full_node, wait_for
from tests.helpers.targets import derive_dev_accounts, rpc_call, stop_process

pytestmark = pytest.mark.slow

TIMEOUT_S = 40.0


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """(L2 URL, L1 URL, datadir, log file) of a running devnet with its own anvil."""
    with rollup_devnet(tmp_path, "--no-contracts") as running:
        yield running.url, running.l1_url, running.datadir, running.log


def send(l1: Web3, account: LocalAccount, to: str, data: bytes) -> int:
    """One L1 transaction; returns its block number."""
    tx = {
        "chainId": l1.eth.chain_id,
        "nonce": l1.eth.get_transaction_count(account.address, "pending"),
        "to": to,
        "value": 0,
        "data": data,
        "gas": 1_000_000,
        "maxFeePerGas": 100 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = account.sign_transaction(tx)
    receipt = l1.eth.wait_for_transaction_receipt(
        l1.eth.send_raw_transaction(signed.raw_transaction), timeout=30
    )
    assert receipt["status"] == 1, receipt
    return int(receipt["blockNumber"])


def post(l1: Web3, l2: Web3, account: LocalAccount, inbox: str, first: int, last: int) -> int:
    """L2 blocks ``first..last`` in one channel from ``account``, as the batcher posts them;
    returns the L1 block of the last payload."""
    blocks = L2Blocks(l2)
    out = ChannelOut(901, span=True)
    for number in range(first, last + 1):
        out.add_block(blocks.batch(number))
    return max(send(l1, account, inbox, payload) for payload in out.payloads())


def safe_l2(node_url: str) -> int:
    return int(rpc_call(node_url, "openledger_syncStatus")["safe_l2"]["number"])


def current_l1(node_url: str) -> int:
    """The last L1 block the node's derivation read (-1 before the first)."""
    current = rpc_call(node_url, "openledger_syncStatus")["current_l1"]
    return -1 if current is None else int(current["number"])


def origin_of(l2: Web3, number: int) -> int:
    block = l2.eth.get_block(number, full_transactions=True)
    return L1Attributes.from_calldata(bytes(block["transactions"][0]["input"])).origin.number


def test_full_node_follows_set_batcher(devnet: tuple[str, str, Path, Path], tmp_path: Path) -> None:
    l2_url, l1_url, datadir, devnet_log = devnet
    rollup = json.loads((datadir / "rollup.json").read_text())
    l1 = Web3(HTTPProvider(l1_url, request_kwargs={"timeout": 30}))
    l2 = Web3(HTTPProvider(l2_url, request_kwargs={"timeout": 30}))
    accounts = derive_dev_accounts(4)
    owner, old_batcher, new_batcher = accounts[0], accounts[1], accounts[3]
    inbox = rollup["batch_inbox_address"]
    assert rollup["batcher_address"] == old_batcher.address

    node = start_full_node(datadir, l1_url, tmp_path / "node")
    node_url = node.url
    try:
        wait_for("the full node", lambda: rpc_call(node_url, "eth_chainId", timeout=2), TIMEOUT_S)
        wait_for(
            "blocks from the first batcher",
            lambda: safe_l2(node_url) >= 2,
            TIMEOUT_S,
        )

        # The owner makes dev account 3 the batcher.
        system_config = l1.eth.contract(
            address=rollup["l1_contracts"]["SystemConfig"],
            abi=load_artifact(SYSTEM_CONFIG, L1_ARTIFACTS_DIR).abi_list(),
        )
        data = system_config.encode_abi("setBatcher", args=[new_batcher.address])
        change = send(l1, owner, system_config.address, bytes.fromhex(data[2:]))
        assert system_config.functions.batcher().call() == new_batcher.address
        wait_for(
            "the devnet's batcher to stop",
            lambda: "not SystemConfig's batcher" in devnet_log.read_text(errors="replace"),
            TIMEOUT_S,
        )
        wait_for(
            "the node to read L1 past the change",
            lambda: current_l1(node_url) >= change + 2,
            TIMEOUT_S,
        )
        safe = safe_l2(node_url)
        head = wait_for(
            "an L2 block on an L1 origin after the change",
            lambda: origin_of(l2, n := l2.eth.block_number) > change and n,
            TIMEOUT_S,
        )
        assert head > safe

        # The old batcher's batches are no longer read ...
        posted = post(l1, l2, old_batcher, inbox, safe + 1, head)
        wait_for(
            "the node to read the old batcher's post",
            lambda: current_l1(node_url) >= posted + 1,
            TIMEOUT_S,
        )
        assert safe_l2(node_url) == safe
        # ... the new batcher's are, and give the sequencer's blocks exactly.
        post(l1, l2, new_batcher, inbox, safe + 1, head)
        wait_for(
            f"safe L2 block {head} from the new batcher",
            lambda: safe_l2(node_url) >= head,
            TIMEOUT_S,
        )
        for number in range(head + 1):
            ours = rpc_call(node_url, "eth_getBlockByNumber", [hex(number), False])
            theirs = rpc_call(l2_url, "eth_getBlockByNumber", [hex(number), False])
            assert (ours["hash"], ours["stateRoot"]) == (theirs["hash"], theirs["stateRoot"])
        # Blocks on an L1 origin at or after the change record the new batcher (L1Block).
        last = l2.eth.get_block(head, full_transactions=True)
        calldata = bytes(last["transactions"][0]["input"])
        assert calldata[-20:] == bytes.fromhex(new_batcher.address[2:])
    finally:
        stop_process(node.process)
