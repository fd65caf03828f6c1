"""``eth_getProof``: every proof returned is checked independently against the state root."""

from __future__ import annotations

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from trie import HexaryTrie

from node.rpc.errors import INVALID_PARAMS, RpcError
from tests.node.conftest import World


def nodes(proof: list[str]) -> list[object]:
    return [rlp.decode(bytes.fromhex(item[2:])) for item in proof]


def proven(root: bytes, key: bytes, proof: list[str]) -> bytes:
    return HexaryTrie.get_from_proof(root, key, nodes(proof))


def test_account_and_storage_proofs_verify(world: World) -> None:
    node = world.node
    emitter = world.contracts.emitter
    slot_one = "0x" + "00" * 31 + "01"
    result = node.rpc("eth_getProof", "0x" + emitter.hex(), ["0x0", slot_one], "latest")
    state_root = node.chain.head.state_root

    account = rlp.decode(proven(state_root, keccak(emitter), result["accountProof"]), Account)
    state = node.chain.state_at(node.chain.head)
    assert account.nonce == int(result["nonce"], 16) == 1
    assert account.balance == int(result["balance"], 16) == 0
    assert (
        account.code_hash.hex() == result["codeHash"][2:] == keccak(state.get_code(emitter)).hex()
    )
    assert account.storage_root.hex() == result["storageHash"][2:]

    zero, one = result["storageProof"]
    # Keys are echoed as geth does: short forms as quantities, 32-byte keys as given.
    assert (zero["key"], zero["value"]) == ("0x0", "0x1")
    assert (one["key"], one["value"]) == (slot_one, "0x0")
    slot_key = keccak((0).to_bytes(32, "big"))
    assert rlp.decode(proven(account.storage_root, slot_key, zero["proof"])) == b"\x01"
    absent = keccak((1).to_bytes(32, "big"))
    assert proven(account.storage_root, absent, one["proof"]) == b""


def test_an_absent_account_has_an_exclusion_proof(world: World) -> None:
    node = world.node
    nobody = b"\xab" * 20
    result = node.rpc("eth_getProof", "0x" + nobody.hex(), [])
    assert result["balance"] == "0x0" and result["nonce"] == "0x0"
    assert result["codeHash"] == "0x" + EMPTY_SHA3.hex()
    assert result["storageHash"] == "0x" + BLANK_ROOT_HASH.hex()
    assert result["storageProof"] == []
    assert proven(node.chain.head.state_root, keccak(nobody), result["accountProof"]) == b""


def test_proofs_at_an_older_block(world: World) -> None:
    node = world.node
    genesis = node.chain.header_by_number(0)
    sender = world.node.chain.outcomes(node.chain.header_by_number(1))[0].sender
    result = node.rpc("eth_getProof", "0x" + sender.hex(), [], "0x0")
    account = rlp.decode(
        proven(genesis.state_root, keccak(sender), result["accountProof"]), Account
    )
    assert account.balance == int(result["balance"], 16) == 10_000 * 10**18


@pytest.mark.parametrize(
    ("params", "named"),
    [
        (["0x12", []], "address"),
        (["0x" + "ab" * 20, "0x0"], "argument 1"),
        (["0x" + "ab" * 20, ["0x" + "00" * 33]], "storageKeys[0]"),
        (["0x" + "ab" * 20, ["zz"]], "storageKeys[0]"),
    ],
)
def test_bad_arguments_are_named(world: World, params: list, named: str) -> None:
    with pytest.raises(RpcError) as caught:
        world.node.rpc("eth_getProof", *params)
    assert caught.value.code == INVALID_PARAMS and named in caught.value.message
