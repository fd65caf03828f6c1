"""L1 OpenPortal on anvil: deposit events, and a withdrawal proven with a Merkle-Patricia
storage proof built here (py-trie), finalized only after the challenge window and only once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import rlp
from eth_abi import encode
from eth_abi.packed import encode_packed
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from web3.contract import Contract

from tests.contracts.conftest import TOKEN, Chain, advance_time

pytestmark = pytest.mark.slow

MESSAGE_PASSER = to_checksum_address("0x4200000000000000000000000000000000000016")
INTERVAL = 10
PERIOD = 120
EMPTY_CODE_HASH = keccak(b"")


@dataclass
class Bridge:
    token: Contract
    oracle: Contract
    portal: Contract
    holder: LocalAccount
    proposer: LocalAccount


def deploy_bridge(l1: Chain) -> Bridge:
    holder, proposer = l1.account(), l1.account()
    token = l1.deploy("OpenToken", holder, holder.address)
    oracle = l1.deploy(
        "OutputOracle",
        proposer,
        INTERVAL,
        2,
        0,
        l1.timestamp() - 10_000,
        PERIOD,
        proposer.address,
        proposer.address,
    )
    portal = l1.deploy("OpenPortal", holder, token.address, oracle.address)
    return Bridge(token, oracle, portal, holder, proposer)


def deposit(l1: Chain, b: Bridge, to: str, amount: int, gas: int, data: bytes) -> dict[str, Any]:
    l1.transact(b.holder, b.token.functions.approve(b.portal.address, amount))
    receipt = l1.transact(b.holder, b.portal.functions.depositERC20(to, amount, gas, data))
    [event] = l1.events(b.portal, receipt, "TransactionDeposited")
    return event


def test_deposit_locks_open_and_emits_the_deposit_event(l1: Chain) -> None:
    b = deploy_bridge(l1)
    recipient = l1.account(fund=0).address
    amount, gas, data = 25 * TOKEN, 100_000, b"\xca\xfe"
    event = deposit(l1, b, recipient, amount, gas, data)
    assert event["from"] == b.holder.address  # an EOA is not aliased
    assert event["to"] == recipient
    assert event["version"] == 0
    assert event["opaqueData"] == encode_packed(
        ["uint256", "uint256", "uint64", "bool", "bytes"], [amount, amount, gas, False, data]
    )
    assert b.token.functions.balanceOf(b.portal.address).call() == amount

    dep = b.portal.functions.depositERC20
    zero = "0x" + "00" * 20
    l1.expect_revert(b.holder, dep(zero, 1, gas, b""), "ZeroAddress")
    l1.expect_revert(b.holder, dep(recipient, 1, 20_999, b""), "InvalidGasLimit")
    l1.expect_revert(
        b.holder, dep(recipient, 1, 21_000, b"\x01"), "InvalidGasLimit", 21_000, 21_016, 20_000_000
    )
    l1.expect_revert(b.holder, dep(recipient, 1, 20_000_001, b""), "InvalidGasLimit")
    # Without an allowance the pull fails.
    l1.expect_revert(b.holder, dep(recipient, 1, gas, b""), "ERC20InsufficientAllowance")
    alias = b.portal.functions.applyAlias(recipient).call()
    assert (
        int(alias, 16) == (int(recipient, 16) + 0x1111000000000000000000000000000000001111) % 2**160
    )


def withdrawal_hash(w: tuple[Any, ...]) -> bytes:
    return keccak(encode(["uint256", "address", "address", "uint256", "uint256", "bytes"], list(w)))


def sent_message_slot(w_hash: bytes) -> bytes:
    return keccak(encode(["bytes32", "uint256"], [w_hash, 0]))


def proof_nodes(t: HexaryTrie, key: bytes) -> list[bytes]:
    """``eth_getProof``-style proof: the encoded nodes on the path, embedded (<32 byte) ones left
    inside their parents."""
    encoded = [rlp.encode(node) for node in t.get_proof(key)]
    return [e for i, e in enumerate(encoded) if i == 0 or len(e) >= 32]


def l2_state(withdrawals: list[tuple[Any, ...]]) -> tuple[HexaryTrie, HexaryTrie]:
    """A message passer storage trie holding ``sentMessages[hash] = true`` for each withdrawal
    (plus unrelated slots), and a state trie holding the passer's account with that root."""
    storage = HexaryTrie(db={})
    for w in withdrawals:
        storage.set(keccak(sent_message_slot(withdrawal_hash(w))), rlp.encode(1))
    for i in range(1, 40):  # other slots, so the proof goes through branch nodes
        storage.set(keccak(i.to_bytes(32, "big")), rlp.encode(i * 1000))
    state = HexaryTrie(db={})
    state.set(
        keccak(bytes.fromhex(MESSAGE_PASSER[2:])),
        rlp.encode([1, 0, storage.root_hash, keccak(b"passer code")]),
    )
    for i in range(1, 20):
        state.set(
            keccak(i.to_bytes(20, "big")),
            rlp.encode([0, i, HexaryTrie.BLANK_NODE_HASH, EMPTY_CODE_HASH]),
        )
    return storage, state


def test_withdrawal_round_trip(l1: Chain) -> None:
    b = deploy_bridge(l1)
    deposit(l1, b, b.holder.address, 100 * TOKEN, 100_000, b"")
    sender, recipient, relayer = l1.account(fund=0), l1.account(fund=0), l1.account()
    value = 40 * TOKEN
    w = (7, sender.address, recipient.address, value, 200_000, b"")
    unknown = (8, sender.address, recipient.address, value, 200_000, b"")
    w_hash = withdrawal_hash(w)
    assert b.portal.functions.hashWithdrawal(w).call() == w_hash
    assert b.portal.functions.sentMessageSlot(w_hash).call() == sent_message_slot(w_hash)

    storage, state = l2_state([w])
    key = keccak(sent_message_slot(w_hash))
    proof = proof_nodes(storage, key)
    assert len(proof) >= 2
    account_proof = state.get_proof(keccak(bytes.fromhex(MESSAGE_PASSER[2:])))
    account = HexaryTrie.get_from_proof(
        state.root_hash, keccak(bytes.fromhex(MESSAGE_PASSER[2:])), account_proof
    )
    assert rlp.decode(account)[2] == storage.root_hash

    block_hash = keccak(b"l2 block 10")
    output_proof = (b"\x00" * 32, state.root_hash, storage.root_hash, block_hash)
    output_root = keccak(b"".join(output_proof))
    assert b.portal.functions.hashOutputRootProof(output_proof).call() == output_root
    l1.transact(b.proposer, b.oracle.functions.proposeL2Output(output_root, INTERVAL))

    prove = b.portal.functions.proveWithdrawalTransaction
    finalize = b.portal.functions.finalizeWithdrawalTransaction
    l1.expect_revert(relayer, finalize(w), "NotProven", w_hash)
    wrong_output = (b"\x00" * 32, state.root_hash, storage.root_hash, keccak(b"other"))
    l1.expect_revert(relayer, prove(w, 0, wrong_output, proof), "OutputRootMismatch", 0)
    l1.expect_revert(
        relayer,
        prove(w, 0, (b"\x01" + b"\x00" * 31, *output_proof[1:]), proof),
        "UnsupportedOutputVersion",
    )
    l1.expect_revert(relayer, prove(w, 1, output_proof, proof), "OutputNotFound", 1)
    l1.expect_revert(relayer, prove(unknown, 0, output_proof, proof), "InvalidProof")
    l1.expect_revert(relayer, prove(w, 0, output_proof, proof[:-1]), "InvalidProof")
    tampered = [*proof[:-1], proof[-1][:-1] + b"\x02"]
    l1.expect_revert(relayer, prove(w, 0, output_proof, tampered), "InvalidProof")
    l1.expect_revert(relayer, prove(w, 0, output_proof, [*proof, proof[-1]]), "InvalidProof")

    receipt = l1.transact(relayer, prove(w, 0, output_proof, proof))
    assert l1.events(b.portal, receipt, "WithdrawalProven") == [
        {
            "withdrawalHash": w_hash,
            "from": sender.address,
            "to": recipient.address,
            "l2OutputIndex": 0,
        }
    ]
    l1.expect_revert(relayer, prove(w, 0, output_proof, proof), "AlreadyProven", w_hash)

    l1.expect_revert(relayer, finalize(w), "ChallengeWindowOpen")
    advance_time(l1, PERIOD // 2)
    l1.expect_revert(relayer, finalize(w), "ChallengeWindowOpen")
    advance_time(l1, PERIOD)

    receipt = l1.transact(relayer, finalize(w))
    assert l1.events(b.portal, receipt, "WithdrawalFinalized") == [
        {"withdrawalHash": w_hash, "to": recipient.address, "value": value}
    ]
    assert b.token.functions.balanceOf(recipient.address).call() == value
    assert b.token.functions.balanceOf(b.portal.address).call() == 100 * TOKEN - value
    assert b.portal.functions.finalizedWithdrawals(w_hash).call()
    l1.expect_revert(relayer, finalize(w), "AlreadyFinalized", w_hash)
    l1.expect_revert(relayer, prove(w, 0, output_proof, proof), "AlreadyFinalized", w_hash)


def test_deleted_output_blocks_finalization_until_proven_again(l1: Chain) -> None:
    b = deploy_bridge(l1)
    deposit(l1, b, b.holder.address, 10 * TOKEN, 100_000, b"")
    relayer, recipient = l1.account(), l1.account(fund=0)
    w = (1, relayer.address, recipient.address, TOKEN, 100_000, b"")
    storage, state = l2_state([w])
    proof = proof_nodes(storage, keccak(sent_message_slot(withdrawal_hash(w))))
    output_proof = (b"\x00" * 32, state.root_hash, storage.root_hash, keccak(b"block"))
    output_root = keccak(b"".join(output_proof))
    propose = b.oracle.functions.proposeL2Output
    l1.transact(b.proposer, propose(output_root, INTERVAL))
    l1.transact(relayer, b.portal.functions.proveWithdrawalTransaction(w, 0, output_proof, proof))

    l1.transact(b.proposer, b.oracle.functions.deleteL2Outputs(0))  # challenger == proposer here
    corrected = (*output_proof[:3], keccak(b"corrected block"))
    l1.transact(b.proposer, propose(keccak(b"".join(corrected)), INTERVAL))
    advance_time(l1, PERIOD + 1)
    finalize = b.portal.functions.finalizeWithdrawalTransaction(w)
    l1.expect_revert(relayer, finalize, "OutputRootChanged")  # the proven output was replaced
    # Proving again against the corrected output restarts the challenge window.
    l1.transact(relayer, b.portal.functions.proveWithdrawalTransaction(w, 0, corrected, proof))
    l1.expect_revert(relayer, finalize, "ChallengeWindowOpen")
    advance_time(l1, PERIOD + 1)
    l1.transact(relayer, finalize)
    assert b.token.functions.balanceOf(recipient.address).call() == TOKEN
