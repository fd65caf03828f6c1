"""Block production: what the producer takes from the pool, leaves there, and when it builds."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from node.chain import Chain
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
    assert [o.hash for o in sealed.outcomes] == hashes
    assert built.mempool.status() == (0, 1)
    assert all(built.chain.store.level.get(journal_key(h)) is None for h in hashes)
    built.chain.close()


def test_what_does_not_fit_waits_for_the_next_block(tmp_path: Path) -> None:
    config = NetworkConfig()
    config = replace(config, chain=replace(config.chain, gas_limit=30_000))
    built = producer(tmp_path, config)
    built.mempool.add(sign(0, nonce=0), BASE_FEE)
    built.mempool.add(sign(1, nonce=0), BASE_FEE)
    assert len(built.produce().outcomes) == 1
    assert built.mempool.status() == (1, 0)
    assert len(built.produce().outcomes) == 1
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
    assert len(built.chain.outcomes(built.chain.head)) == 1
    built.chain.close()
