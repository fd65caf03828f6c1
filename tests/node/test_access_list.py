"""``eth_createAccessList``: what the code touched, minus what is warm anyway, and its gas."""

from __future__ import annotations

from node.rpc.errors import INVALID_PARAMS, RpcError
from tests.helpers.signing import sign
from tests.node.conftest import SENDER, Node, deploy_contracts, mine


def hex_address(address: bytes) -> str:
    return "0x" + address.hex()


SLOT_ZERO = "0x" + "00" * 32


def test_lists_called_accounts_and_touched_slots(node: Node) -> None:
    contracts = deploy_contracts(node)
    request = {"from": hex_address(SENDER), "to": hex_address(contracts.caller), "input": "0x01"}
    result = node.rpc("eth_createAccessList", request, "latest")
    # The caller (the recipient) is left out; the emitter wrote slot 0; the reverter was only
    # called. Sorted by address, as geth sorts.
    assert result["accessList"] == [
        {"address": hex_address(contracts.emitter), "storageKeys": [SLOT_ZERO]},
        {"address": hex_address(contracts.reverter), "storageKeys": []},
    ]
    assert "error" not in result

    # The gas reported is what the transaction uses with that list attached.
    access_list = [(entry["address"], entry["storageKeys"]) for entry in result["accessList"]]
    raw = sign(
        nonce=3,
        to=contracts.caller,
        value=0,
        data=b"\x01",
        gas=200_000,
        accessList=[{"address": a, "storageKeys": keys} for a, keys in access_list],
    )
    mine(node.chain, [raw])
    receipt = node.rpc(
        "eth_getTransactionReceipt", "0x" + node.chain.outcomes(node.chain.head)[0].tx.hash.hex()
    )
    assert receipt["gasUsed"] == result["gasUsed"]


def test_a_revert_still_yields_a_list_and_the_error(node: Node) -> None:
    contracts = deploy_contracts(node)
    request = {"from": hex_address(SENDER), "to": hex_address(contracts.reverter)}
    result = node.rpc("eth_createAccessList", request)
    assert result["accessList"] == []
    assert result["error"] == "execution reverted"
    assert int(result["gasUsed"], 16) > 21_000


def test_a_given_list_seeds_the_search_and_precompiles_are_dropped(node: Node) -> None:
    contracts = deploy_contracts(node)
    seeded = [
        {"address": "0x" + "00" * 19 + "01", "storageKeys": []},
        {"address": "0x" + "ab" * 20, "storageKeys": []},
    ]
    request = {
        "from": hex_address(SENDER),
        "to": hex_address(contracts.emitter),
        "accessList": seeded,
    }
    result = node.rpc("eth_createAccessList", request)
    assert result["accessList"] == [
        {"address": hex_address(contracts.emitter), "storageKeys": [SLOT_ZERO]},
        {"address": "0x" + "ab" * 20, "storageKeys": []},
    ]


def test_a_malformed_call_is_invalid_params(node: Node) -> None:
    try:
        node.rpc("eth_createAccessList", {"to": "0x12"})
    except RpcError as error:
        assert error.code == INVALID_PARAMS and "to" in error.message
    else:
        raise AssertionError("expected -32602")
