"""Receipts of a block, counts and transactions by index, and the (empty) uncle methods."""

from __future__ import annotations

import pytest

from node.rpc.errors import INVALID_PARAMS, RpcError
from tests.node.conftest import World


def test_block_receipts_match_the_single_receipts(world: World) -> None:
    node = world.node
    receipts = node.rpc("eth_getBlockReceipts", "latest")
    assert len(receipts) == 2
    for receipt in receipts:
        assert receipt == node.rpc("eth_getTransactionReceipt", receipt["transactionHash"])
    by_hash = node.rpc("eth_getBlockReceipts", "0x" + node.chain.head.hash.hex())
    assert by_hash == receipts
    assert node.rpc("eth_getBlockReceipts", {"blockNumber": "0x2"}) == receipts


def test_unknown_blocks_are_null(world: World) -> None:
    node = world.node
    missing = "0x" + "11" * 32
    assert node.rpc("eth_getBlockReceipts", "0x99") is None
    assert node.rpc("eth_getBlockTransactionCountByNumber", "0x99") is None
    assert node.rpc("eth_getBlockTransactionCountByHash", missing) is None
    assert node.rpc("eth_getTransactionByBlockHashAndIndex", missing, "0x0") is None
    assert node.rpc("eth_getUncleCountByBlockHash", missing) is None


def test_counts_and_transactions_by_index(world: World) -> None:
    node = world.node
    block_hash = "0x" + node.chain.head.hash.hex()
    assert node.rpc("eth_getBlockTransactionCountByNumber", "0x1") == "0x3"
    assert node.rpc("eth_getBlockTransactionCountByHash", block_hash) == "0x2"
    assert node.rpc("eth_getBlockTransactionCountByNumber", "earliest") == "0x0"
    second = node.rpc("eth_getTransactionByBlockNumberAndIndex", "latest", "0x1")
    assert second["transactionIndex"] == "0x1"
    assert second == node.rpc("eth_getTransactionByHash", second["hash"])
    assert second == node.rpc("eth_getTransactionByBlockHashAndIndex", block_hash, "0x1")
    assert node.rpc("eth_getTransactionByBlockNumberAndIndex", "latest", "0x2") is None


def test_an_l2_block_has_no_uncles(world: World) -> None:
    node = world.node
    block_hash = "0x" + node.chain.head.hash.hex()
    assert node.rpc("eth_getUncleCountByBlockNumber", "latest") == "0x0"
    assert node.rpc("eth_getUncleCountByBlockHash", block_hash) == "0x0"
    assert node.rpc("eth_getUncleByBlockNumberAndIndex", "latest", "0x0") is None
    assert node.rpc("eth_getUncleByBlockHashAndIndex", block_hash, "0x0") is None


@pytest.mark.parametrize(
    ("method", "params", "named"),
    [
        ("eth_getTransactionByBlockNumberAndIndex", ["latest", "one"], "index"),
        ("eth_getTransactionByBlockHashAndIndex", ["0x12", "0x0"], "blockHash"),
        ("eth_getBlockTransactionCountByNumber", ["newest"], "block"),
    ],
)
def test_bad_arguments_are_named(world: World, method: str, params: list, named: str) -> None:
    with pytest.raises(RpcError) as caught:
        world.node.rpc(method, *params)
    assert caught.value.code == INVALID_PARAMS
    assert named in caught.value.message
