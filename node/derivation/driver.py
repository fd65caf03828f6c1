"""The derivation loop: fetch L1 in a worker thread, step the pipeline on the event loop.

Each round refreshes the L1 snapshot from the traversal's position, runs pipeline steps until
L1 has nothing new (yielding to the RPC server every few blocks), moves the finalized head
with L1's finalized block, and, with a sequencer, imports its newer unsafe blocks. An L1 reorg
(``L1Reorg``) is measured against L1 and rolled back; an unreachable endpoint is retried at the
next round. One log line per round that did something.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from node.derivation.exceptions import L1Reorg, RpcUnavailable
from node.derivation.jsonrpc import JsonRpcClient
from node.derivation.l1_rpc import RpcL1Source
from node.derivation.pipeline import Pipeline
from node.derivation.unsafe_sync import UnsafeFollower, fetch_blocks
from node.rpc.sync_api import L1Status

log = logging.getLogger(__name__)


class Driver:
    def __init__(
        self,
        pipeline: Pipeline,
        source: RpcL1Source,
        sequencer: JsonRpcClient | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        """``sequencer``: follow its unsafe blocks between L1 rounds."""
        self.pipeline = pipeline
        self.source = source
        self.sequencer = sequencer
        self.follower = (
            UnsafeFollower(pipeline.chain, pipeline.heads) if sequencer is not None else None
        )
        self.poll_interval = poll_interval
        self._stopped = asyncio.Event()

    def l1_status(self) -> L1Status:
        current = self.pipeline.traversal.current
        return L1Status(
            current=current.ref() if current is not None else None,
            head=self.source.head,
            safe=self.source.safe,
            finalized=self.source.finalized,
        )

    def stop(self) -> None:
        self._stopped.set()

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                progressed = await self.round()
            except RpcUnavailable as exc:
                log.warning("derivation waits: %s", exc)
                progressed = False
            if not progressed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), self.poll_interval)

    async def round(self) -> bool:
        """One round; ``True`` if anything advanced."""
        pipeline = self.pipeline
        await asyncio.to_thread(self.source.refresh, pipeline.traversal.next)
        started = time.monotonic()
        blocks_before = pipeline.derived_blocks
        transactions_before = pipeline.derived_transactions
        steps = 0
        try:
            while pipeline.step():
                steps += 1
                await asyncio.sleep(0)  # queued RPC requests run between two steps
        except L1Reorg as reorg:
            found = await asyncio.to_thread(
                self.source.first_changed, pipeline.traversal.consumed_hashes()
            )
            pipeline.rollback_l1(reorg.number if found is None else min(found, reorg.number))
            return True
        if self.source.finalized is not None:
            pipeline.finality.update(self.source.finalized.number)
        derived = pipeline.derived_blocks - blocks_before
        if derived:
            safe = pipeline.heads.safe
            log.info(
                "derived %d blocks (%d transactions) in %.2fs: safe %d hash=%s, L1 at %d",
                derived,
                pipeline.derived_transactions - transactions_before,
                time.monotonic() - started,
                safe.block_number,
                safe.hash.hex()[:16],
                pipeline.traversal.next - 1,
            )
        followed = await self.follow()
        return steps > 0 or followed > 0

    async def follow(self) -> int:
        """Import the sequencer's unsafe blocks beyond our head; return how many."""
        follower, sequencer = self.follower, self.sequencer
        if follower is None or sequencer is None:
            return 0
        try:
            blocks = await asyncio.to_thread(fetch_blocks, sequencer, follower.next_number())
        except RpcUnavailable as exc:
            log.warning("not following the sequencer this round: %s", exc)
            return 0
        return follower.import_blocks(blocks)
