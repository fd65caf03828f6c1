"""The L1 watcher without a reachable L1: block production goes on, on the current origin."""

from __future__ import annotations

import time
from pathlib import Path

from node.chain import Chain
from openledger.config import NetworkConfig
from openledger.l1.client import L1Client
from openledger.l1.rollup_file import L1Contracts, L1GenesisOrigin, RollupFile
from sequencer.batcher_progress import (
    KEPT_CONFIRMATIONS,
    BatcherProgress,
    Confirmation,
    PendingChannel,
    PendingPayload,
    ProgressFile,
)
from sequencer.l1_watcher import L1Watcher

ADDRESS = "0x" + "11" * 20


def rollup_file() -> RollupFile:
    return RollupFile(
        l1_chain_id=900,
        l2_chain_id=901,
        l1_genesis=L1GenesisOrigin(7, b"\x07" * 32, 1_790_000_000, 10**9, 1),
        l2_genesis_hash=bytes(32),
        l2_genesis_time=NetworkConfig().genesis.timestamp,
        block_time=2,
        max_sequencer_drift=600,
        seq_window_size=3600,
        channel_timeout=50,
        l1_contracts=L1Contracts(ADDRESS, ADDRESS, ADDRESS, ADDRESS),
        batch_inbox_address=ADDRESS,
        batcher_address=ADDRESS,
        proposer_address=ADDRESS,
        challenger_address=ADDRESS,
        submission_interval=10,
        finalization_period_seconds=12,
        base_fee_scalar=1368,
        blob_base_fee_scalar=810_949,
    )


def test_an_unreachable_l1_does_not_delay_the_origin_answer(tmp_path: Path) -> None:
    rollup = rollup_file()
    chain = Chain.open(rollup.apply_to(NetworkConfig()), tmp_path)
    watcher = L1Watcher(L1Client("http://127.0.0.1:9", timeout=5), chain, rollup, poll_s=0.05)
    watcher.start()
    try:
        started = time.monotonic()
        answer = watcher(chain.head, rollup.l1_genesis.timestamp + 10_000)
        assert time.monotonic() - started < 0.5
        within_drift = watcher(chain.head, rollup.l1_genesis.timestamp + 600)
    finally:
        watcher.stop()
        chain.close()
    assert answer.origin.number == 7 and answer.origin.hash == b"\x07" * 32
    assert answer.deposits == ()
    # Past max sequencer drift with no next L1 block: blocks carry no user transactions.
    assert answer.deposits_only and not within_drift.deposits_only
    assert answer.scalars.batcher_hash == bytes(12) + bytes.fromhex("11" * 20)


def test_batcher_progress_survives_a_round_trip(tmp_path: Path) -> None:
    progress = BatcherProgress(
        confirmed_through=41,
        pending=PendingChannel(
            channel_id=b"\x01" * 16,
            first_block=42,
            last_block=50,
            payloads=[
                PendingPayload(
                    b"\x00frame",
                    nonce=3,
                    tx_hashes=[b"\xaa" * 32],
                    l1_block=99,
                    included=b"\xaa" * 32,
                ),
                PendingPayload(b"\x00more"),
            ],
        ),
    )
    progress.confirm(Confirmation(41, 97, b"\xbb" * 32))
    store = ProgressFile(tmp_path / "batcher.json")
    assert store.load() == BatcherProgress()
    store.save(progress)
    assert store.load() == progress
    assert progress.pending is not None and progress.pending.first_inclusion() == 99


def test_batcher_progress_keeps_recent_confirmations_and_reads_older_files(
    tmp_path: Path,
) -> None:
    progress = BatcherProgress()
    for block in range(1, KEPT_CONFIRMATIONS + 11):
        progress.confirm(Confirmation(block, 1000 + block, bytes(32)))
    assert progress.confirmed_through == KEPT_CONFIRMATIONS + 10
    assert len(progress.confirmations) == KEPT_CONFIRMATIONS
    assert progress.confirmations[0].l2_through == 11
    older = {"version": 1, "confirmed_through": 7, "pending": None}  # before finality tracking
    assert BatcherProgress.from_json(older) == BatcherProgress(confirmed_through=7)
