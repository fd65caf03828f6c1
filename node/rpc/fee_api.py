"""Fee suggestions: ``eth_gasPrice``, ``eth_maxPriorityFeePerGas``, ``eth_baseFee``, fee history.

The maths are pure functions (:func:`suggest_tip`, :func:`reward_percentiles`) so they can be
table-tested; :class:`FeeApi` only reads headers and receipts and formats the answer. Semantics
are geth's (``eth/gasprice``), including its quirks: a ``blockCount`` over the limit is silently
capped, and rewards are weighted by each transaction's gas used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockHeaderAPI
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas

from node.chain import Chain
from node.deposit_tx import is_deposit
from node.records import TransactionOutcome, effective_gas_price
from node.rpc.codec import parse_block_id, parse_quantity, quantity
from node.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from node.rpc.eth_api import ChainReader
from openledger.types import Wei

MAX_FEE_HISTORY = 1024
"""geth's default ``--rpc.feehistory.maxblocks``-like cap on ``blockCount``."""

MAX_PERCENTILES = 100
"""geth's ``maxQueryLimit``: reward percentiles one request may ask for."""

TIP_FLOOR = Wei(10**9)
"""Least suggested priority fee (1 gwei): what a wallet needs to be included promptly here."""

TIP_CEILING = Wei(500 * 10**9)
"""geth's ``DefaultMaxPrice``: a suggestion is never above this."""

ORACLE_BLOCKS = 20
"""geth's ``checkBlocks``: recent blocks the tip oracle samples."""

ORACLE_SAMPLES_PER_BLOCK = 3
"""geth's ``sampleNumber``: the cheapest tips taken from each block."""

ORACLE_PERCENTILE = 60
"""geth's default ``--gpo.percentile``."""


@dataclass(frozen=True)
class TipSample:
    """One transaction's effective priority fee and the gas it used."""

    tip: int
    gas_used: int


def effective_tip(outcome: TransactionOutcome, base_fee: int) -> int:
    """What the block producer earned per gas: effective gas price minus the base fee.

    A deposit pays nothing (its gas was bought on L1): its tip is 0, not minus the base fee.
    """
    if is_deposit(outcome.tx):
        return 0
    return effective_gas_price(outcome.tx, base_fee) - base_fee


def suggest_tip(samples: Sequence[int], floor: int = TIP_FLOOR, ceiling: int = TIP_CEILING) -> int:
    """geth's oracle: the ``ORACLE_PERCENTILE``-th of the sampled tips, clamped to the bounds.

    With no samples (empty blocks) the floor is the answer: no competition, any tip works.
    """
    if not samples:
        return floor
    ordered = sorted(samples)
    chosen = ordered[(len(ordered) - 1) * ORACLE_PERCENTILE // 100]
    return max(floor, min(chosen, ceiling))


def reward_percentiles(
    samples: Sequence[TipSample], block_gas_used: int, percentiles: Sequence[float]
) -> list[int]:
    """geth's ``processBlock`` rewards: tips sorted ascending, each percentile picking the tip
    of the transaction at which the running gas total reaches that share of the block's gas.
    Zeros for an empty block.
    """
    if not samples:
        return [0] * len(percentiles)
    ordered = sorted(samples, key=lambda sample: sample.tip)
    index = 0
    running = ordered[0].gas_used
    rewards = []
    for percentile in percentiles:
        threshold = int(block_gas_used * percentile / 100)
        while running < threshold and index < len(ordered) - 1:
            index += 1
            running += ordered[index].gas_used
        rewards.append(ordered[index].tip)
    return rewards


def parse_percentiles(value: Any) -> list[float]:
    """Numbers in 0..100, each at least the previous one (geth: "invalid reward percentile")."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_params("invalid argument rewardPercentiles: expected an array of numbers")
    if len(value) > MAX_PERCENTILES:
        raise invalid_params(
            f"invalid argument rewardPercentiles: over the query limit {MAX_PERCENTILES}"
        )
    percentiles: list[float] = []
    for position, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise invalid_params(f"invalid argument rewardPercentiles[{position}]: not a number")
        if not 0 <= item <= 100:
            raise invalid_params(f"invalid reward percentile: {item} is not within 0..100")
        if percentiles and item < percentiles[-1]:
            raise invalid_params(
                f"invalid reward percentile: #{position - 1}:{percentiles[-1]} > #{position}:{item}"
            )
        percentiles.append(float(item))
    return percentiles


class FeeApi:
    """Fee-market reads over the canonical chain."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.chain: Chain = reader.chain

    def handlers(self) -> dict[str, Any]:
        return {
            "eth_gasPrice": self.gas_price,
            "eth_maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            "eth_baseFee": self.base_fee,
            "eth_feeHistory": self.fee_history,
        }

    def next_base_fee(self) -> int:
        return calculate_expected_base_fee_per_gas(self.chain.head)

    def suggested_tip(self) -> int:
        """Sample the cheapest tips of the last ``ORACLE_BLOCKS`` blocks, as geth does.

        The sequencer's own transactions (sent from the coinbase) are skipped: it pays itself.
        """
        head = self.chain.head.block_number
        coinbase = self.chain.config.chain.fee_recipient
        samples: list[int] = []
        for number in range(max(0, head - ORACLE_BLOCKS + 1), head + 1):
            header = self.chain.header_by_number(number)
            tips = sorted(
                effective_tip(outcome, header.base_fee_per_gas)
                for outcome in self.chain.outcomes(header)
                if outcome.sender != coinbase and not is_deposit(outcome.tx)
            )
            samples.extend(tips[:ORACLE_SAMPLES_PER_BLOCK])
        return suggest_tip(samples)

    def gas_price(self) -> str:
        """Legacy price that gets a transaction into the next block: base fee plus tip."""
        return quantity(self.next_base_fee() + self.suggested_tip())

    def max_priority_fee_per_gas(self) -> str:
        return quantity(self.suggested_tip())

    def base_fee(self) -> str:
        return quantity(self.next_base_fee())

    def fee_history(
        self, block_count: Any, newest_block: Any, reward_percentiles_param: Any = None
    ) -> dict[str, Any]:
        count = min(parse_quantity(block_count, "blockCount"), MAX_FEE_HISTORY)
        block_id = parse_block_id(newest_block, "newestBlock")
        percentiles = parse_percentiles(reward_percentiles_param)
        head = self.chain.head.block_number
        if block_id.number is not None and block_id.number > head:
            raise RpcError(
                SERVER_ERROR, f"request beyond head block: requested {block_id.number}, head {head}"
            )
        newest = self.reader.header(block_id)
        count = min(count, newest.block_number + 1)
        if count == 0:
            return {"oldestBlock": quantity(0), "baseFeePerGas": [], "gasUsedRatio": []}
        oldest = newest.block_number - count + 1
        headers = [self.chain.header_by_number(n) for n in range(oldest, newest.block_number + 1)]
        result: dict[str, Any] = {
            "oldestBlock": quantity(oldest),
            "baseFeePerGas": [quantity(h.base_fee_per_gas) for h in headers]
            + [quantity(calculate_expected_base_fee_per_gas(newest))],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers],
            # No blobs on this L2: zero blob base fees and usage, one more fee than blocks.
            "baseFeePerBlobGas": [quantity(0)] * (count + 1),
            "blobGasUsedRatio": [0.0] * count,
        }
        if percentiles:
            result["reward"] = [
                [quantity(tip) for tip in self._rewards(header, percentiles)] for header in headers
            ]
        return result

    def _rewards(self, header: BlockHeaderAPI, percentiles: list[float]) -> list[int]:
        samples = [
            TipSample(effective_tip(outcome, header.base_fee_per_gas), outcome.gas_used)
            for outcome in self.chain.outcomes(header)
        ]
        return reward_percentiles(samples, header.gas_used, percentiles)
