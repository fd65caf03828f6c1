"""A full node (``openledger node``) rebuilds the devnet's chain from its L1 alone.

The devnet (``openledger devnet``: anvil L1, sequencer, batcher, proposer) runs as a process;
a deposit is made on L1 and transactions on L2; then a fresh ``openledger node`` derives from
the same anvil (following the sequencer's unsafe blocks too) and must reach exactly the same
block hashes and state roots. A verifier check compares ``openledger_outputAtBlock`` with the
OutputOracle's entries: every output the devnet's proposer posted matches, and a wrong root
posted to a second oracle is found.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.contract import Contract

from tests.helpers.rollup_devnet import rollup_devnet, start_full_node, wait_for
from tests.helpers.targets import (
    REPO_ROOT,
    derive_dev_accounts,
    rpc_call,
    stop_process,
)

pytestmark = pytest.mark.slow

L1_ARTIFACTS = REPO_ROOT / "contracts" / "out" / "l1"
DEPOSIT = 5 * 10**18


def artifact(name: str) -> dict[str, Any]:
    return json.loads((L1_ARTIFACTS / f"{name}.json").read_text())


def transact(w3: Web3, account: Any, call: Any) -> dict[str, Any]:
    tx = call.build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
    )
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60
    )
    assert receipt["status"] == 1, receipt
    return dict(receipt)


def mismatched_outputs(oracle: Contract, node_url: str) -> list[int]:
    """The verifier check: indices of the oracle's outputs whose root differs from the one the
    node derives for that L2 block."""
    wrong = []
    for index in range(oracle.functions.nextOutputIndex().call()):
        root, _timestamp, l2_block = oracle.functions.getL2Output(index).call()
        ours = rpc_call(node_url, "openledger_outputAtBlock", [hex(l2_block)])
        if ours["outputRoot"] != "0x" + bytes(root).hex():
            wrong.append(index)
    return wrong


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(L2 URL, L1 URL, datadir) of a running devnet with its own anvil."""
    with rollup_devnet(tmp_path) as running:
        yield running.url, running.l1_url, running.datadir


def test_full_node_derives_the_devnet_and_checks_outputs(
    devnet: tuple[str, str, Path], tmp_path: Path
) -> None:
    l2_url, l1_url, datadir = devnet
    rollup = json.loads((datadir / "rollup.json").read_text())
    l1 = Web3(HTTPProvider(l1_url, request_kwargs={"timeout": 30}))
    l2 = Web3(HTTPProvider(l2_url, request_kwargs={"timeout": 30}))
    accounts = derive_dev_accounts(10)

    # A deposit: dev account 0 holds all L1 OPEN; the recipient is a fresh L2 address.
    contracts = rollup["l1_contracts"]
    token = l1.eth.contract(address=contracts["OpenToken"], abi=artifact("OpenToken")["abi"])
    portal = l1.eth.contract(address=contracts["OpenPortal"], abi=artifact("OpenPortal")["abi"])
    recipient = Account.create().address
    transact(l1, accounts[0], token.functions.approve(portal.address, DEPOSIT))
    transact(l1, accounts[0], portal.functions.depositERC20(recipient, DEPOSIT, 100_000, b""))
    wait_for("the deposit on L2", lambda: l2.eth.get_balance(recipient) == DEPOSIT)
    # Some L2 transfers.
    sender = accounts[7]
    nonce = l2.eth.get_transaction_count(sender.address)
    for i in range(5):
        signed = sender.sign_transaction(
            {
                "chainId": 901,
                "nonce": nonce + i,
                "to": recipient,
                "value": 10**15 + i,
                "gas": 21_000,
                "maxFeePerGas": 10 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        l2.eth.send_raw_transaction(signed.raw_transaction)
    target = (
        wait_for("the transfers", lambda: l2.eth.get_transaction_count(sender.address) == nonce + 5)
        and l2.eth.block_number
    )

    node = start_full_node(datadir, l1_url, tmp_path / "node", "--sequencer-rpc", l2_url)
    node_url = node.url
    try:
        wait_for("the full node", lambda: rpc_call(node_url, "eth_chainId", timeout=2))
        status = wait_for(
            f"safe L2 block {target} on the full node",
            lambda: (
                (s := rpc_call(node_url, "openledger_syncStatus"))["safe_l2"]["number"] >= target
                and s
            ),
        )
        safe = status["safe_l2"]["number"]
        for number in range(safe + 1):
            ours = rpc_call(node_url, "eth_getBlockByNumber", [hex(number), False])
            theirs = rpc_call(l2_url, "eth_getBlockByNumber", [hex(number), False])
            assert (ours["hash"], ours["stateRoot"]) == (theirs["hash"], theirs["stateRoot"])
        assert int(rpc_call(node_url, "eth_getBalance", [recipient, "safe"]), 16) > DEPOSIT
        assert status["current_l1"] is not None and status["unsafe_l2"]["number"] >= safe

        # Unsafe blocks arrive from the sequencer ahead of L1; transactions are forwarded to it.
        head = l2.eth.block_number
        wait_for(
            "the sequencer's head on the full node",
            lambda: int(rpc_call(node_url, "eth_blockNumber"), 16) >= head,
        )
        signed = sender.sign_transaction(
            {
                "chainId": 901,
                "nonce": nonce + 5,
                "to": recipient,
                "value": 1,
                "gas": 21_000,
                "maxFeePerGas": 10 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        tx_hash = rpc_call(
            node_url, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()]
        )
        wait_for(
            "the forwarded transaction",
            lambda: rpc_call(l2_url, "eth_getTransactionReceipt", [tx_hash]),
        )

        # Verifier: every output the devnet's proposer posted is what the node derives ...
        oracle_address = contracts["OutputOracle"]
        oracle = l1.eth.contract(address=oracle_address, abi=artifact("OutputOracle")["abi"])
        wait_for("a proposed output", lambda: oracle.functions.nextOutputIndex().call() >= 1)
        latest = oracle.functions.latestBlockNumber().call()
        wait_for(
            "the node's safe head past the latest output",
            lambda: rpc_call(node_url, "openledger_syncStatus")["safe_l2"]["number"] >= latest,
        )
        assert mismatched_outputs(oracle, node_url) == []
        # ... and a wrong root posted to an oracle is detected.
        proposer = accounts[5]
        factory = l1.eth.contract(
            abi=artifact("OutputOracle")["abi"], bytecode=artifact("OutputOracle")["bytecode"]
        )
        receipt = transact(
            l1,
            proposer,
            factory.constructor(
                2,
                1,
                0,
                rollup["genesis"]["l2"]["timestamp"],
                60,
                proposer.address,
                proposer.address,
            ),
        )
        second = l1.eth.contract(address=receipt["contractAddress"], abi=factory.abi)
        right = rpc_call(node_url, "openledger_outputAtBlock", ["0x2"])["outputRoot"]
        transact(l1, proposer, second.functions.proposeL2Output(bytes.fromhex(right[2:]), 2))
        transact(l1, proposer, second.functions.proposeL2Output(b"\x01" * 32, 4))
        assert mismatched_outputs(second, node_url) == [1]
    finally:
        stop_process(node.process)
