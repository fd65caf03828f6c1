"""The rollup end to end: ``openledger devnet`` with an anvil L1 (started by the devnet, or by
the test where the L1 must outlive a killed sequencer).

- a deposit into ``OpenPortal`` becomes L2 balance in the first L2 block of its L1 origin, once;
- the batcher's L1 calldata decodes back to exactly the sealed blocks' transactions;
- the proposer's output roots in the ``OutputOracle`` match the roots computed from
  ``eth_getProof``;
- ``kill -9`` of the sequencer while a channel is being submitted, then a restart: the L2
  blocks on L1 have no gap and no duplicate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3

from node.l1_info import L1Attributes
from openledger.contracts.artifacts import load_artifact
from openledger.l1.deploy import L1_ARTIFACTS_DIR
from openledger.l1.rollup_file import RollupFile, load_rollup_file
from openledger.output_root import output_at_block
from tests.helpers.devnet import Devnet
from tests.helpers.l1 import PostedBlock, anvil, posted_blocks
from tests.helpers.targets import derive_dev_accounts, free_port
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow

MESSAGE_PASSER = "0x4200000000000000000000000000000000000016"
DEPOSIT_TYPE = 0x7E
FINALITY_DEPTH = 64
"""anvil's finalized block is its head minus 64 (two epochs of 32 slots)."""
OPEN = 10**18


def l1_contract(w3: Web3, name: str, address: str) -> Any:
    return w3.eth.contract(address=address, abi=load_artifact(name, L1_ARTIFACTS_DIR).abi_list())


def l1_transact(w3: Web3, account: LocalAccount, function: Any) -> Any:
    tx = function.build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    return receipt


def origin_of(l2: Web3, number: int) -> tuple[int, bytes]:
    block = l2.eth.get_block(number, full_transactions=True)
    attributes = L1Attributes.from_calldata(bytes(block["transactions"][0]["input"]))
    return attributes.origin.number, attributes.origin.hash


def confirmed_through(datadir: Path) -> int:
    try:
        return int(json.loads((datadir / "batcher.json").read_text())["confirmed_through"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def check_posted(l2: Web3, posted: list[PostedBlock]) -> None:
    """``posted`` is L2 blocks 1..n in order, each with exactly its block's data."""
    for number, block in enumerate(posted, start=1):
        sealed = l2.eth.get_block(number, full_transactions=True)
        assert block.timestamp == sealed["timestamp"], f"block {number}: gap or duplicate"
        if block.parent_hash is not None:
            assert block.parent_hash == bytes(sealed["parentHash"])
        assert (block.epoch_number, block.epoch_hash) == origin_of(l2, number)
        raw = tuple(
            bytes(l2.eth.get_raw_transaction(tx["hash"]))
            for tx in sealed["transactions"]
            if int(tx["type"]) != DEPOSIT_TYPE
        )
        assert block.transactions == raw, f"block {number}: transactions differ"


@pytest.fixture(scope="module")
def l1_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def rollup_devnet(tmp_path_factory: pytest.TempPathFactory, l1_port: int) -> Iterator[Devnet]:
    """A devnet that starts its own anvil: 1-second blocks on both layers."""
    datadir = tmp_path_factory.mktemp("rollup") / "datadir"
    flags = ("--l1-port", str(l1_port), "--l1-block-time", "1")
    devnet = Devnet(datadir, block_time=1, l1_args=flags).start()
    try:
        yield devnet
    finally:
        devnet.stop()


@pytest.fixture(scope="module")
def rollup(rollup_devnet: Devnet) -> RollupFile:
    return load_rollup_file(rollup_devnet.datadir / "rollup.json")


@pytest.fixture(scope="module")
def l1(rollup_devnet: Devnet, l1_port: int) -> Web3:
    return Web3(HTTPProvider(f"http://127.0.0.1:{l1_port}", request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def l2(rollup_devnet: Devnet) -> Web3:
    return Web3(HTTPProvider(rollup_devnet.url, request_kwargs={"timeout": 30}))


def test_deposit_is_minted_in_the_first_block_of_its_origin_once(
    rollup: RollupFile, l1: Web3, l2: Web3
) -> None:
    depositor = derive_dev_accounts(1)[0]  # holds all L1 OPEN on the devnet
    recipient = to_checksum_address(keccak(b"deposit recipient")[:20])
    amount = 5 * OPEN
    token = l1_contract(l1, "OpenToken", rollup.l1_contracts.token)
    portal = l1_contract(l1, "OpenPortal", rollup.l1_contracts.portal)
    l1_transact(l1, depositor, token.functions.approve(portal.address, amount))
    receipt = l1_transact(
        l1, depositor, portal.functions.depositERC20(recipient, amount, 100_000, b"")
    )
    origin = receipt["blockNumber"]

    first = wait_for(
        lambda: next(
            (n for n in range(1, l2.eth.block_number + 1) if origin_of(l2, n)[0] >= origin),
            None,
        ),
        timeout=30,
        what=f"an L2 block with L1 origin {origin}",
    )
    assert origin_of(l2, first) == (origin, bytes(receipt["blockHash"]))
    assert origin_of(l2, first - 1)[0] == origin - 1  # no L1 block skipped
    assert l2.eth.get_balance(recipient, first - 1) == 0
    assert l2.eth.get_balance(recipient, first) == amount
    deposits = [
        tx
        for tx in l2.eth.get_block(first, full_transactions=True)["transactions"][1:]
        if int(tx["type"]) == DEPOSIT_TYPE
    ]
    assert [(tx["from"], tx["to"], tx["value"]) for tx in deposits] == [
        (depositor.address, recipient, amount)
    ]

    # Later blocks of the same origin, and the next origins, do not repeat it.
    wait_for(lambda: origin_of(l2, l2.eth.block_number)[0] > origin + 1, 30, "two more origins")
    assert l2.eth.get_balance(recipient) == amount
    for number in range(first + 1, l2.eth.block_number + 1):
        transactions = l2.eth.get_block(number, full_transactions=True)["transactions"]
        assert all(int(tx["type"]) != DEPOSIT_TYPE for tx in transactions[1:])


def test_batches_on_l1_decode_to_the_sealed_blocks(
    rollup_devnet: Devnet, rollup: RollupFile, l1: Web3, l2: Web3
) -> None:
    sender, receiver = derive_dev_accounts(7)[5:7]
    nonce = l2.eth.get_transaction_count(sender.address)
    hashes = []
    for i in range(5):
        tx = {
            "to": receiver.address,
            "value": (i + 1) * 10**15,
            "gas": 21_000,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": nonce + i,
            "chainId": 901,
        }
        hashes.append(l2.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction))
    last = max(l2.eth.wait_for_transaction_receipt(h, timeout=30)["blockNumber"] for h in hashes)
    wait_for(lambda: confirmed_through(rollup_devnet.datadir) >= last, 40, "the batcher")
    # The sequencer's `safe` tag follows what the batcher got confirmed on L1; `finalized`
    # (what landed in a finalized L1 block) is never ahead of it.
    assert l2.eth.get_block("safe")["number"] >= last
    assert l2.eth.get_block("finalized")["number"] <= l2.eth.get_block("safe")["number"]

    posted = posted_blocks(l1, rollup)
    assert len(posted) >= last
    check_posted(l2, posted)
    posted_txs = {keccak(raw) for block in posted for raw in block.transactions}
    assert {bytes(h) for h in hashes} <= posted_txs


def test_output_roots_in_the_oracle_match_eth_get_proof(
    rollup: RollupFile, l1: Web3, l2: Web3
) -> None:
    oracle = l1_contract(l1, "OutputOracle", rollup.l1_contracts.output_oracle)
    wait_for(lambda: oracle.functions.nextOutputIndex().call() >= 2, 60, "two proposals")
    for index in range(oracle.functions.nextOutputIndex().call()):
        root, _, number = oracle.functions.getL2Output(index).call()
        assert number == (index + 1) * rollup.submission_interval
        block = l2.eth.get_block(number)
        proof = l2.eth.get_proof(MESSAGE_PASSER, [], number)
        expected = keccak(
            bytes(32)
            + bytes(block["stateRoot"])
            + bytes(proof["storageHash"])
            + bytes(block["hash"])
        )
        assert bytes(root) == expected
        assert output_at_block(l2, number).root == expected


def test_kill_during_submission_then_restart_leaves_no_gap_or_duplicate(
    tmp_path: Path,
) -> None:
    with anvil(tmp_path / "l1", "--block-time", "1") as node:
        datadir = tmp_path / "datadir"
        devnet = Devnet(datadir, block_time=1, l1_args=("--l1-rpc", node.url)).start()
        try:
            progress = datadir / "batcher.json"

            def submitting() -> bool:
                try:
                    pending = json.loads(progress.read_text())["pending"]
                except (FileNotFoundError, json.JSONDecodeError):
                    return False
                return bool(pending and pending["payloads"][0]["tx_hashes"])

            wait_for(lambda: confirmed_through(datadir) > 0, 30, "a first confirmed channel")
            deadline = time.monotonic() + 30
            while not submitting():  # poll fast: a payload is in flight for about a second
                assert time.monotonic() < deadline, "never caught the batcher submitting"
                time.sleep(0.01)
            devnet.kill()
            killed_at = Web3(HTTPProvider(node.url)).eth.block_number
            devnet.start()
            l2 = Web3(HTTPProvider(devnet.url, request_kwargs={"timeout": 30}))
            head = l2.eth.block_number
            wait_for(lambda: confirmed_through(datadir) >= head, 40, "batching after restart")
            rollup = load_rollup_file(datadir / "rollup.json")
            posted = posted_blocks(node.w3(), rollup)
            assert killed_at > rollup.l1_genesis.number
            assert len(posted) >= head
            check_posted(l2, posted)

            # anvil calls a block finalized 64 blocks later: past that, the sequencer's
            # `finalized` tag reaches what the batcher had confirmed, restart or not.
            node.w3().provider.make_request("anvil_mine", [FINALITY_DEPTH + 2])
            wait_for(
                lambda: l2.eth.get_block("finalized")["number"] >= head,
                10,
                "the finalized tag to follow L1 finality",
            )
            assert l2.eth.get_block("finalized")["number"] <= l2.eth.get_block("safe")["number"]
        finally:
            devnet.stop()
