"""``eth_getLogs`` ranges, limits and bloom skipping; polled filters and their expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.rpc.errors import INVALID_PARAMS, LIMIT_EXCEEDED, SERVER_ERROR, RpcError
from node.rpc.eth_api import ChainReader
from node.rpc.filters import FilterApi, LogReader
from tests.helpers.signing import sign
from tests.node.conftest import Node, World, call_tx, deploy_contracts, make_node, mine
from tests.node.evm import EMIT_TOPIC

TOPIC = "0x" + EMIT_TOPIC.hex()


def hex_address(address: bytes) -> str:
    return "0x" + address.hex()


def test_get_logs_by_range_address_and_topic(world: World) -> None:
    node = world.node
    emitter = hex_address(world.contracts.emitter)
    logs = node.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": emitter})
    # Block 2: the direct call and the call through the caller contract.
    assert [entry["data"] for entry in logs] == ["0x0102", "0x03030303"]
    assert [entry["logIndex"] for entry in logs] == ["0x0", "0x1"]
    assert logs == node.rpc("eth_getLogs", {"fromBlock": "0x2", "topics": [[TOPIC]]})
    assert node.rpc("eth_getLogs", {"fromBlock": "0x0", "topics": ["0x" + "00" * 32]}) == []
    assert node.rpc("eth_getLogs", {"fromBlock": "0x0", "address": hex_address(b"\x01" * 20)}) == []


def test_get_logs_by_block_hash(world: World) -> None:
    node = world.node
    head_hash = "0x" + node.chain.head.hash.hex()
    logs = node.rpc("eth_getLogs", {"blockHash": head_hash})
    assert len(logs) == 2 and all(entry["blockHash"] == head_hash for entry in logs)
    with pytest.raises(RpcError) as caught:
        node.rpc("eth_getLogs", {"blockHash": "0x" + "11" * 32})
    assert caught.value.code == SERVER_ERROR


@pytest.mark.parametrize(
    "query",
    [
        {"blockHash": "0x" + "11" * 32, "fromBlock": "0x1"},
        {"fromBlock": "0x2", "toBlock": "0x1"},
        {"fromBlock": "0x" + "11" * 32},
        {"topics": ["0x12"]},
        {"topics": [None] * 5},
        {"address": "0x1234"},
        "latest",
    ],
)
def test_malformed_queries_are_invalid_params(world: World, query: object) -> None:
    with pytest.raises(RpcError) as caught:
        world.node.rpc("eth_getLogs", query)
    assert caught.value.code == INVALID_PARAMS


def test_range_and_result_limits_are_minus_32005(world: World) -> None:
    tight = LogReader(ChainReader(world.node.chain), max_block_range=2, max_logs=1)
    api = FilterApi(tight)
    with pytest.raises(RpcError) as caught:
        api.get_logs({"fromBlock": "0x0", "toBlock": "0x2"})
    assert caught.value.code == LIMIT_EXCEEDED and "max block range 2" in caught.value.message
    with pytest.raises(RpcError) as caught:
        api.get_logs({"fromBlock": "0x1", "toBlock": "0x2"})
    assert caught.value.code == LIMIT_EXCEEDED and "more than 1 results" in caught.value.message


def test_the_bloom_spares_reading_receipts(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = world.node.chain
    read: list[int] = []
    original = chain.outcomes
    monkeypatch.setattr(
        chain, "outcomes", lambda header: read.append(header.block_number) or original(header)
    )
    world.node.rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [TOPIC]})
    assert read == [2]


def test_block_and_log_filters_see_new_blocks(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    contracts = deploy_contracts(node)
    blocks = node.rpc("eth_newBlockFilter")
    logs = node.rpc(
        "eth_newFilter", {"fromBlock": "0x0", "address": hex_address(contracts.emitter)}
    )
    bounded = node.rpc("eth_newFilter", {"fromBlock": "0x5"})
    assert len(blocks) == 34 and blocks != logs
    assert node.rpc("eth_getFilterChanges", blocks) == []
    mine(node.chain, [call_tx(contracts.emitter, 3, b"\xaa")])
    mine(node.chain, [sign(nonce=4)])
    hashes = node.rpc("eth_getFilterChanges", blocks)
    assert hashes == ["0x" + node.chain.header_by_number(n).hash.hex() for n in (2, 3)]
    assert node.rpc("eth_getFilterChanges", blocks) == []
    changes = node.rpc("eth_getFilterChanges", logs)
    assert [entry["data"] for entry in changes] == ["0xaa"]
    assert node.rpc("eth_getFilterChanges", bounded) == []
    # getFilterLogs reruns the whole query (here from block 0), whatever was polled already.
    assert [entry["data"] for entry in node.rpc("eth_getFilterLogs", logs)] == ["0xaa"]
    with pytest.raises(RpcError) as caught:
        node.rpc("eth_getFilterLogs", blocks)
    assert caught.value.message == "filter not found"
    node.chain.close()


def test_pending_filter_and_uninstall(node: Node) -> None:
    pending = node.rpc("eth_newPendingTransactionFilter")
    tx_hash = node.rpc("eth_sendRawTransaction", "0x" + sign(nonce=0).hex())
    assert node.rpc("eth_getFilterChanges", pending) == [tx_hash]
    assert node.rpc("eth_uninstallFilter", pending) is True
    assert node.rpc("eth_uninstallFilter", pending) is False
    with pytest.raises(RpcError) as caught:
        node.rpc("eth_getFilterChanges", pending)
    assert (caught.value.code, caught.value.message) == (SERVER_ERROR, "filter not found")
    with pytest.raises(RpcError) as caught:
        node.rpc("eth_getFilterChanges", 7)
    assert caught.value.code == INVALID_PARAMS


def test_filters_expire_without_polling(world: World) -> None:
    now = [1000.0]
    api = FilterApi(LogReader(ChainReader(world.node.chain)), clock=lambda: now[0], timeout=300)
    kept = api.new_block_filter()
    dropped = api.new_block_filter()
    now[0] += 200
    api.get_filter_changes(kept)
    now[0] += 200
    assert api.get_filter_changes(kept) == []
    with pytest.raises(RpcError, match="filter not found"):
        api.get_filter_changes(dropped)
