"""Fee maths (pure, table-tested) and the fee methods over a small chain."""

from __future__ import annotations

import pytest
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas

from node.rpc.errors import INVALID_PARAMS, SERVER_ERROR, RpcError
from node.rpc.fee_api import (
    MAX_FEE_HISTORY,
    TIP_CEILING,
    TIP_FLOOR,
    TipSample,
    reward_percentiles,
    suggest_tip,
)
from tests.helpers.signing import GWEI
from tests.node.conftest import World


@pytest.mark.parametrize(
    ("samples", "percentiles", "expected"),
    [
        ([], [10, 90], [0, 0]),
        ([TipSample(5, 21_000)], [0, 50, 100], [5, 5, 5]),
        # Weighted by gas: the 100k-gas tx at tip 1 covers the first 10/11 of the block.
        ([TipSample(9, 10_000), TipSample(1, 100_000)], [0, 50, 90, 95, 100], [1, 1, 1, 9, 9]),
        # The threshold is truncated to whole gas, as geth's uint64 conversion does: 34% of 3 is 1.
        ([TipSample(3, 1), TipSample(2, 1), TipSample(1, 1)], [0, 34, 67, 100], [1, 1, 2, 3]),
    ],
)
def test_reward_percentiles_follow_geth(
    samples: list[TipSample], percentiles: list[float], expected: list[int]
) -> None:
    gas = sum(sample.gas_used for sample in samples)
    assert reward_percentiles(samples, gas, percentiles) == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([], TIP_FLOOR),
        ([1, 2, 3], TIP_FLOOR),
        ([5 * GWEI, 2 * GWEI, 3 * GWEI, 4 * GWEI, 1 * GWEI], 3 * GWEI),
        ([10**15], TIP_CEILING),
    ],
)
def test_suggested_tip_is_the_60th_percentile_within_bounds(
    samples: list[int], expected: int
) -> None:
    assert suggest_tip(samples) == expected


def test_gas_price_is_next_base_fee_plus_tip(world: World) -> None:
    node = world.node
    next_base = calculate_expected_base_fee_per_gas(node.chain.head)
    tip = int(node.rpc("eth_maxPriorityFeePerGas"), 16)
    # Block 2 held tips of 2 gwei and 1 gwei; block 1's deployments paid 1 gwei.
    assert tip == GWEI
    assert int(node.rpc("eth_gasPrice"), 16) == next_base + tip
    assert int(node.rpc("eth_baseFee"), 16) == next_base


def test_fee_history_has_the_spec_shape(world: World) -> None:
    node = world.node
    history = node.rpc("eth_feeHistory", "0x2", "latest", [0, 50, 100])
    head = node.chain.head
    assert history["oldestBlock"] == "0x1"
    assert history["baseFeePerGas"][-1] == hex(calculate_expected_base_fee_per_gas(head))
    assert len(history["baseFeePerGas"]) == 3
    assert history["baseFeePerBlobGas"] == ["0x0"] * 3
    assert history["blobGasUsedRatio"] == [0.0, 0.0]
    assert history["gasUsedRatio"][1] == head.gas_used / head.gas_limit
    block_one, block_two = history["reward"]
    assert block_one == [hex(GWEI)] * 3
    # Block 2: the cheaper tip (1 gwei) first, then 2 gwei, weighted by gas used.
    assert block_two[0] == hex(GWEI) and block_two[2] == hex(2 * GWEI)


def test_fee_history_caps_the_count_and_omits_rewards_when_not_asked(world: World) -> None:
    history = world.node.rpc("eth_feeHistory", hex(MAX_FEE_HISTORY + 5), "latest", [])
    assert history["oldestBlock"] == "0x0"
    assert len(history["gasUsedRatio"]) == world.node.chain.head.block_number + 1
    assert "reward" not in history


@pytest.mark.parametrize(
    "percentiles", [[50, 10], [-1], [101], ["50"], [True], "50", list(range(101))]
)
def test_fee_history_refuses_bad_percentiles(world: World, percentiles: object) -> None:
    with pytest.raises(RpcError) as caught:
        world.node.rpc("eth_feeHistory", "0x1", "latest", percentiles)
    assert caught.value.code == INVALID_PARAMS


def test_fee_history_beyond_head_is_an_error(world: World) -> None:
    with pytest.raises(RpcError) as caught:
        world.node.rpc("eth_feeHistory", "0x1", "0x99", [])
    assert caught.value.code == SERVER_ERROR
    assert "beyond head" in caught.value.message
