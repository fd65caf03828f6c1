"""A withdrawal made on our L2 devnet, proven and finalized on an anvil L1 with the node's own
``eth_getProof``: the first cross-layer test. It shows that the node's state roots and storage
proofs are what the L1 verifier (``OpenPortal`` on ``MerkleTrie.sol``) accepts.

L2: ``openledger devnet`` (instant blocks); the message passer predeploy is in its genesis.
L1: anvil with ``OpenToken``, ``OutputOracle`` and ``OpenPortal`` from ``contracts/out/l1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3

from tests.contracts.conftest import (
    L1_ARTIFACTS_DIR,
    L1_CONTRACT_NAMES,
    TOKEN,
    Chain,
    ErrorDecoder,
    advance_time,
)
from tests.helpers.devnet import Devnet
from tests.helpers.targets import (
    REPO_ROOT,
    RpcTarget,
    derive_dev_accounts,
    start_target,
    stop_process,
)

pytestmark = pytest.mark.slow

MESSAGE_PASSER = to_checksum_address("0x4200000000000000000000000000000000000016")
PASSER_ARTIFACT = REPO_ROOT / "contracts" / "out" / "predeploys" / "L2ToL1MessagePasser.json"
PERIOD = 60
"""The challenge window on L1, in seconds."""


def _chain(target: RpcTarget, artifacts: dict[str, dict[str, Any]]) -> Chain:
    w3 = Web3(HTTPProvider(target.url, request_kwargs={"timeout": 30}))
    decoder = ErrorDecoder([a["abi"] for a in artifacts.values()])
    return Chain(target, w3, artifacts, derive_dev_accounts(10), decoder)


@pytest.fixture
def l2(tmp_path: Path) -> Iterator[tuple[Devnet, Chain]]:
    """Our devnet; its ``Chain`` signs with the dev accounts and knows the message passer."""
    devnet = Devnet(tmp_path / "l2", block_time=0).start()
    try:
        assert devnet.process is not None
        target = RpcTarget(
            kind="node",
            url=devnet.url,
            ws_url=devnet.url.replace("http", "ws", 1),
            block_time=0,
            process=devnet.process,
            log_path=tmp_path / "l2.log",
        )
        passer = json.loads(PASSER_ARTIFACT.read_text())
        yield devnet, _chain(target, {"L2ToL1MessagePasser": passer})
    finally:
        devnet.stop()


@pytest.fixture
def l1(tmp_path: Path) -> Iterator[Chain]:
    """Anvil as the L1, with the L1 artifacts loaded."""
    target = start_target("anvil", tmp_path / "l1", block_time=0)
    try:
        artifacts = {
            name: json.loads((L1_ARTIFACTS_DIR / f"{name}.json").read_text())
            for name in L1_CONTRACT_NAMES
        }
        yield _chain(target, artifacts)
    finally:
        stop_process(target.process)


def test_withdrawal_is_proven_on_l1_with_the_nodes_proof(
    l2: tuple[Devnet, Chain], l1: Chain
) -> None:
    devnet, l2chain = l2
    passer = l2chain.w3.eth.contract(
        address=MESSAGE_PASSER, abi=l2chain.artifacts["L2ToL1MessagePasser"]["abi"]
    )
    assert l2chain.w3.eth.get_code(MESSAGE_PASSER) == bytes.fromhex(
        l2chain.artifacts["L2ToL1MessagePasser"]["deployedBytecode"][2:]
    )

    # --- L2: withdraw 3 OPEN to a fresh L1 recipient ---------------------------------------
    sender = l2chain.account()
    recipient = l1.account(fund=0).address
    value, gas_limit, data = 3 * TOKEN, 100_000, b"\x01\x02"
    nonce = passer.functions.messageNonce().call()
    receipt = l2chain.transact(
        sender, passer.functions.initiateWithdrawal(recipient, gas_limit, data), value=value
    )
    w = (nonce, sender.address, recipient, value, gas_limit, data)
    w_hash = keccak(
        encode(["uint256", "address", "address", "uint256", "uint256", "bytes"], list(w))
    )
    [event] = l2chain.events(passer, receipt, "MessagePassed")
    assert event["withdrawalHash"] == w_hash
    assert event["nonce"] == nonce and event["value"] == value
    assert passer.functions.sentMessages(w_hash).call()
    assert passer.functions.messageNonce().call() == nonce + 1
    assert l2chain.balance(MESSAGE_PASSER) >= value  # held by the passer, out of circulation

    # --- the node's proof of sentMessages[w_hash] at the withdrawal's block ----------------
    number = receipt["blockNumber"]
    block = devnet.call("eth_getBlockByNumber", hex(number), False)
    slot = keccak(encode(["bytes32", "uint256"], [w_hash, 0]))
    proof = devnet.call("eth_getProof", MESSAGE_PASSER, ["0x" + slot.hex()], hex(number))
    [storage] = proof["storageProof"]
    assert int(storage["value"], 16) == 1
    output_proof = (
        b"\x00" * 32,
        bytes.fromhex(block["stateRoot"][2:]),
        bytes.fromhex(proof["storageHash"][2:]),
        bytes.fromhex(block["hash"][2:]),
    )
    output_root = keccak(b"".join(output_proof))
    nodes = [bytes.fromhex(n[2:]) for n in storage["proof"]]

    # --- L1: bridge contracts; the oracle's first output is the withdrawal's L2 block ------
    holder, proposer, relayer = l1.account(), l1.account(), l1.account()
    token = l1.deploy("OpenToken", holder, holder.address)
    oracle = l1.deploy(
        "OutputOracle",
        proposer,
        number,  # submission interval: output 0 is block `number`
        2,
        0,
        l1.timestamp() - 10_000,
        PERIOD,
        proposer.address,
        proposer.address,
    )
    portal = l1.deploy("OpenPortal", holder, token.address, oracle.address)
    l1.transact(holder, token.functions.transfer(portal.address, 100 * TOKEN))
    assert portal.functions.hashOutputRootProof(output_proof).call() == output_root
    assert portal.functions.hashWithdrawal(w).call() == w_hash

    l1.transact(proposer, oracle.functions.proposeL2Output(output_root, number))
    index = oracle.functions.getL2OutputIndexAfter(number).call()
    prove = portal.functions.proveWithdrawalTransaction(w, index, output_proof, nodes)
    receipt = l1.transact(relayer, prove)
    assert l1.events(portal, receipt, "WithdrawalProven")[0]["withdrawalHash"] == w_hash

    finalize = portal.functions.finalizeWithdrawalTransaction(w)
    l1.expect_revert(relayer, finalize, "ChallengeWindowOpen")
    advance_time(l1, PERIOD + 1)
    l1.transact(relayer, finalize)
    assert token.functions.balanceOf(recipient).call() == value
    assert token.functions.balanceOf(portal.address).call() == 100 * TOKEN - value
    l1.expect_revert(relayer, finalize, "AlreadyFinalized", w_hash)
