"""The batcher: sealed L2 blocks to L1 calldata at the batch inbox, gap-free across crashes.

It follows the chain from the block after the last one it has posted, adds each sealed block
to an open :class:`~openledger.batch.ChannelOut` (deposits are never batched), and closes the
channel when its compressed size reaches ``target_channel_bytes`` or it is older than
``max_channel_age_s`` seconds or ``max_channel_age_l1_blocks`` L1 blocks. A closed channel's
payloads are recorded (:mod:`sequencer.batcher_progress`) and sent one by one from the batcher
key through the :class:`~openledger.l1.tx_manager.TxManager` (fee bumping, confirmations, and
re-sending a transaction an L1 reorg dropped). Only when the last payload is confirmed does
``confirmed_through`` move to the channel's last block.

Restart: a recorded channel is resumed with its exact bytes and recorded transactions, unless
it can no longer complete within the channel timeout (its frames would be dropped by every
reader); then its blocks go into a new channel. Blocks only in the open channel are batched
again. EIP-4844 blobs are not used: calldata only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from openledger.batch import ChannelOut
from openledger.l1.client import L1Client
from openledger.l1.tx_manager import Resume, TxManager
from sequencer.batcher_progress import (
    BatcherProgress,
    Confirmation,
    PendingChannel,
    PendingPayload,
    ProgressFile,
)
from sequencer.l2_blocks import L2Blocks
from sequencer.step_loop import StepLoop

log = logging.getLogger(__name__)

CHANNEL_TIMEOUT_MARGIN = 5
"""L1 blocks kept in hand: a resumed channel that would complete this close to its timeout is
re-posted in a new channel instead."""


@dataclass(frozen=True)
class BatcherConfig:
    target_channel_bytes: int = 100_000
    """Close the channel at this compressed size (one 120 kB calldata payload is cheapest)."""
    max_channel_age_s: float = 6.0
    max_channel_age_l1_blocks: int = 3
    poll_s: float = 0.5
    span: bool = True
    """Span batches (one per channel) rather than one singular batch per block."""


@dataclass
class _OpenChannel:
    out: ChannelOut
    first_block: int
    opened_at: float
    opened_l1: int


class Batcher:
    def __init__(
        self,
        l2: L2Blocks,
        client: L1Client,
        tx: TxManager,
        batch_inbox: str,
        l2_chain_id: int,
        channel_timeout: int,
        progress_file: ProgressFile,
        config: BatcherConfig = BatcherConfig(),
    ) -> None:
        self.l2 = l2
        self.client = client
        self.tx = tx
        self.batch_inbox = batch_inbox
        self.l2_chain_id = l2_chain_id
        self.channel_timeout = channel_timeout
        self.progress_file = progress_file
        self.config = config
        self.progress: BatcherProgress = progress_file.load()
        pending = self.progress.pending
        self._next = (pending.last_block if pending else self.progress.confirmed_through) + 1
        """The next L2 block to add to a channel."""
        self._open: _OpenChannel | None = None
        self._stop = tx.stop
        self._loop = StepLoop("batcher", self.step, self._stop, self.config.poll_s)

    @property
    def confirmed_through(self) -> int:
        """The last L2 block whose batch is confirmed on L1 (what the proposer may propose)."""
        return self.progress.confirmed_through

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def step(self) -> None:
        """Submit the recorded channel if there is one, else fill (and maybe close) one."""
        if self.progress.pending is not None:
            self._submit(self.progress.pending)
        else:
            self._fill()

    def _save(self) -> None:
        self.progress_file.save(self.progress)

    # -- filling ----------------------------------------------------------------------------

    def _fill(self) -> None:
        head = self.l2.head_number()
        while self._next <= head and not self._stop.is_set():
            if self._open is None:
                self._open = _OpenChannel(
                    ChannelOut(self.l2_chain_id, span=self.config.span),
                    self._next,
                    time.monotonic(),
                    self.client.head().number,
                )
            self._open.out.add_block(self.l2.batch(self._next))
            self._next += 1
            if self._open.out.compressed_size() >= self.config.target_channel_bytes:
                self._close("full")
                return
        channel = self._open
        if channel is None:
            return
        if time.monotonic() - channel.opened_at >= self.config.max_channel_age_s:
            self._close("max age (s)")
        elif self.client.head().number - channel.opened_l1 >= self.config.max_channel_age_l1_blocks:
            self._close("max age (L1 blocks)")

    def _close(self, reason: str) -> None:
        channel = self._open
        assert channel is not None
        self._open = None
        payloads = channel.out.payloads()
        self.progress.pending = PendingChannel(
            channel_id=channel.out.channel_id,
            first_block=channel.first_block,
            last_block=self._next - 1,
            payloads=[PendingPayload(data) for data in payloads],
        )
        self._save()
        log.info(
            "closed channel %s (%s): L2 blocks %d-%d, %d bytes in %d payloads",
            channel.out.channel_id.hex(),
            reason,
            channel.first_block,
            self._next - 1,
            sum(len(p) for p in payloads),
            len(payloads),
        )

    # -- submitting -------------------------------------------------------------------------

    def _submit(self, pending: PendingChannel) -> None:
        for payload in pending.payloads:
            if payload.l1_block is not None:
                continue
            opened = pending.first_inclusion()
            if (
                opened is not None
                and self.client.head().number
                >= opened + self.channel_timeout - CHANNEL_TIMEOUT_MARGIN
            ):
                self._abandon(pending, opened)
                return
            receipt = self.tx.send(
                self.batch_inbox,
                payload.data,
                on_broadcast=lambda nonce, tx_hash, p=payload: self._record(p, nonce, tx_hash),
                resume=Resume(payload.nonce, tuple(payload.tx_hashes))
                if payload.nonce is not None
                else None,
            )
            payload.l1_block, payload.included = receipt.block_number, receipt.tx_hash
            self._save()
        last = max(pending.payloads, key=lambda p: p.l1_block or 0)
        if last.l1_block is not None and last.included is not None:
            self.progress.confirm(Confirmation(pending.last_block, last.l1_block, last.included))
        else:  # confirmed by a batcher that did not note the transaction: no finality claim
            self.progress.confirmed_through = pending.last_block
        self.progress.pending = None
        self._save()
        log.info(
            "channel %s confirmed on L1: L2 blocks %d-%d",
            pending.channel_id.hex(),
            pending.first_block,
            pending.last_block,
        )

    def _record(self, payload: PendingPayload, nonce: int, tx_hash: bytes) -> None:
        """Persist a transaction before it is broadcast: after a crash it may be on L1."""
        payload.nonce = nonce
        payload.tx_hashes.append(tx_hash)
        self._save()

    def _abandon(self, pending: PendingChannel, opened: int) -> None:
        log.warning(
            "channel %s opened at L1 block %d cannot complete before its timeout: "
            "re-posting L2 blocks %d-%d in a new channel",
            pending.channel_id.hex(),
            opened,
            pending.first_block,
            pending.last_block,
        )
        self.progress.pending = None
        self._save()
        self._open = None
        self._next = self.progress.confirmed_through + 1
