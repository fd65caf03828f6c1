"""eth_/net_/web3_ methods of node/rpc/eth_api.py through the dispatcher, on a real chain."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from node.rpc.errors import EXECUTION_REVERTED, INVALID_PARAMS, SERVER_ERROR, RpcError
from tests.helpers.signing import DEV, sign
from tests.node.conftest import Node, World, mine
from tests.node.evm import REVERT_DATA

SENDER = "0x" + DEV[0].address.hex()
STRANGER = "0x" + "ab" * 20
# PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: returns the word 42.
RETURNS_42 = "0x602a60005260206000f3"
# PUSH1 0 SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: returns storage slot 0.
RETURNS_SLOT_0 = "0x60005460005260206000f3"


def word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def test_identity_methods(node: Node) -> None:
    assert node.rpc("eth_chainId") == "0x385"
    assert node.rpc("net_version") == "901"
    assert node.rpc("web3_clientVersion").startswith("openledger/")
    assert node.rpc("eth_syncing") is False
    assert node.rpc("eth_blockNumber") == "0x0"
    assert node.rpc("web3_sha3", "0x68656c6c6f") == "0x" + keccak(b"hello").hex()


def test_nonce_by_tag_number_hash_and_eip1898_object(node: Node) -> None:
    mine(node.chain, [sign(nonce=0), sign(nonce=1)])
    head_hash = "0x" + node.chain.head.hash.hex()
    assert node.rpc("eth_getTransactionCount", SENDER, "latest") == "0x2"
    assert node.rpc("eth_getTransactionCount", SENDER, "0x0") == "0x0"
    assert node.rpc("eth_getTransactionCount", SENDER, head_hash) == "0x2"
    assert node.rpc("eth_getTransactionCount", SENDER, {"blockHash": head_hash}) == "0x2"
    assert node.rpc("eth_getTransactionCount", SENDER, {"blockNumber": "0x0"}) == "0x0"


def test_unknown_block_is_an_error_for_state_and_null_for_blocks(node: Node) -> None:
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_getBalance", SENDER, "0x99")
    assert raised.value.code == SERVER_ERROR
    assert node.rpc("eth_getBlockByNumber", "0x99", False) is None
    assert node.rpc("eth_getBlockByHash", "0x" + "00" * 32, True) is None


def test_bad_params_name_the_argument(node: Node) -> None:
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_getBalance", "0x1234", "latest")
    assert raised.value.code == INVALID_PARAMS
    assert "address" in raised.value.message
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_getBlockByNumber", "0x0", "yes")
    assert raised.value.code == INVALID_PARAMS and "full" in raised.value.message


def test_call_with_code_balance_and_storage_overrides(node: Node) -> None:
    call = {"from": SENDER, "to": STRANGER}
    overrides = {STRANGER: {"code": RETURNS_42, "balance": "0x5"}}
    assert node.rpc("eth_call", call, "latest", overrides) == word(42)
    # The override is for this call only.
    assert node.rpc("eth_call", call, "latest") == "0x"
    storage = {STRANGER: {"code": RETURNS_SLOT_0, "stateDiff": {word(0): word(7)}}}
    assert node.rpc("eth_call", call, "latest", storage) == word(7)
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_call", call, "latest", {STRANGER: {"state": {}, "stateDiff": {}}})
    assert raised.value.code == INVALID_PARAMS


def test_call_revert_is_code_3_with_the_revert_data(world: World) -> None:
    node = world.node
    call = {"from": SENDER, "to": "0x" + world.contracts.reverter.hex()}
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_call", call, "latest")
    assert raised.value.code == EXECUTION_REVERTED
    assert raised.value.message == "execution reverted: nope"
    assert raised.value.data == "0x" + REVERT_DATA.hex()
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_estimateGas", call)
    assert raised.value.code == EXECUTION_REVERTED


def test_estimate_gas_is_the_least_limit_that_succeeds(world: World) -> None:
    node = world.node
    assert node.rpc("eth_estimateGas", {"from": SENDER, "to": STRANGER, "value": "0x1"}) == hex(
        21_000
    )
    call = {"from": SENDER, "to": "0x" + world.contracts.emitter.hex(), "data": "0x0102"}
    estimate = int(node.rpc("eth_estimateGas", call), 16)
    node.rpc("eth_call", {**call, "gas": hex(estimate)}, "latest")
    with pytest.raises(RpcError):
        node.rpc("eth_call", {**call, "gas": hex(estimate - 1)}, "latest")


def test_call_rejects_conflicting_fee_fields(node: Node) -> None:
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_call", {"to": STRANGER, "gasPrice": "0x1", "maxFeePerGas": "0x1"})
    assert raised.value.code == INVALID_PARAMS


def test_send_raw_transaction_reports_geth_messages(node: Node) -> None:
    with pytest.raises(RpcError) as raised:
        node.rpc("eth_sendRawTransaction", "0x" + sign(nonce=0, chainId=1).hex())
    assert raised.value.code == SERVER_ERROR
    assert "invalid chain id" in raised.value.message
