"""Block production: what the producer takes from the pool, leaves there, and when it builds."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from node.chain import Chain
from node.deposit_tx import is_deposit
from node.l1_info import L1_INFO_GAS
from openledger.config import NetworkConfig
from sequencer.builder import BlockProducer
from sequencer.mempool import Mempool, journal_key
from tests.helpers.signing import sign

BASE_FEE = 10**9


def producer(tmp_path: Path, config: NetworkConfig, block_time: float = 0) -> BlockProducer:
    chain = Chain.open(config, tmp_path)
    pool = Mempool(
        config.mempool,
        config.chain.chain_id,
        config.chain.gas_limit,
        chain.state_at(chain.head),
        chain.store.level,
    )
    return BlockProducer(chain, pool, block_time)


def test_a_block_takes_pending_transactions_and_clears_them_from_pool_and_journal(
    tmp_path: Path,
) -> None:
    built = producer(tmp_path, NetworkConfig())
    hashes = [built.mempool.add(sign(nonce=n), BASE_FEE).hash for n in range(3)]
    built.mempool.add(sign(nonce=5), BASE_FEE)  # behind a gap: stays queued
    sealed = built.produce()
    # First the L1-attributes deposit, then the pool's transactions in nonce order.
    assert is_deposit(sealed.outcomes[0].tx)
    assert [o.hash for o in sealed.outcomes[1:]] == hashes
    assert built.mempool.status() == (0, 1)
    assert all(built.chain.store.level.get(journal_key(h)) is None for h in hashes)
    built.chain.close()


def test_what_does_not_fit_waits_for_the_next_block(tmp_path: Path) -> None:
    # Each transaction reserves 100k gas and burns 95k (its EIP-7623 calldata floor); after the
    # L1-attributes deposit a block of L1_INFO_GAS + 100k holds about eleven of them.
    config = NetworkConfig()
    config = replace(config, chain=replace(config.chain, gas_limit=L1_INFO_GAS + 100_000))
    built = producer(tmp_path, config)
    hashes = [
        built.mempool.add(sign(nonce=n, gas=100_000, data=b"\x01" * 1850), BASE_FEE).hash
        for n in range(14)
    ]
    first = [o.hash for o in built.produce().outcomes[1:]]
    assert 0 < len(first) < len(hashes)
    assert first == hashes[: len(first)]
    assert built.mempool.status() == (len(hashes) - len(first), 0)
    second = [o.hash for o in built.produce().outcomes[1:]]
    assert first + second == hashes
    assert built.mempool.status() == (0, 0)
    built.chain.close()


def test_instant_mode_builds_only_when_woken_with_work(tmp_path: Path) -> None:
    built = producer(tmp_path, NetworkConfig(), block_time=0)

    async def scenario() -> int:
        task = asyncio.create_task(built.run())
        built.notify()  # nothing waits: no block
        await asyncio.sleep(0.05)
        empty_height = built.chain.head.block_number
        built.mempool.add(sign(nonce=0), BASE_FEE)
        built.notify()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if built.chain.head.block_number > empty_height:
                break
        built.stop()
        await task
        return empty_height

    assert asyncio.run(scenario()) == 0
    assert built.chain.head.block_number == 1
    assert len(built.chain.outcomes(built.chain.head)) == 2  # L1 attributes + the transfer
    built.chain.close()
