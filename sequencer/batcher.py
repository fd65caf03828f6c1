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
again.

Data availability (``BatcherConfig.data_availability``): ``calldata`` posts each payload (at
most 120,000 bytes) as a transaction's calldata; ``blobs`` posts each payload (at most 130,044
bytes, a full blob) as one EIP-4844 blob of a type-3 transaction with empty calldata
(:mod:`openledger.batch.blob`); ``auto`` uses blobs when L1 has them (its head carries
``blobGasUsed``/``excessBlobGas``), decided once at the first channel.

L1's SystemConfig decides who may batch and where: before each payload the batcher reads
``batcher()`` and ``batchInbox()`` at L1's head. It posts to the inbox in force, and while its
key is not the batcher it posts nothing (readers would ignore it) and says so in the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from eth_utils import to_canonical_address, to_checksum_address

from openledger.batch import MAX_PAYLOAD_BYTES, ChannelOut
from openledger.batch.blob import MAX_BLOB_DATA_SIZE, encode_blob
from openledger.l1.client import L1Client
from openledger.l1.exceptions import L1Unavailable
from openledger.l1.system_config import SystemConfigReader
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
    data_availability: str = "calldata"
    """``calldata``, ``blobs`` (EIP-4844) or ``auto`` (blobs where L1 supports them)."""

    def __post_init__(self) -> None:
        if self.data_availability not in DATA_AVAILABILITY:
            raise ValueError(
                f"data availability {self.data_availability!r}: one of "
                + ", ".join(DATA_AVAILABILITY)
            )


DATA_AVAILABILITY = ("calldata", "blobs", "auto")


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
        system_config: SystemConfigReader | None = None,
    ) -> None:
        """``system_config``: follow L1's batcher and inbox (without it: ``batch_inbox``,
        always)."""
        self.l2 = l2
        self.client = client
        self.tx = tx
        self.batch_inbox = batch_inbox
        self.l2_chain_id = l2_chain_id
        self.channel_timeout = channel_timeout
        self.progress_file = progress_file
        self.config = config
        self.system_config = system_config
        self._not_batcher = False
        """Logged that this key is not SystemConfig's batcher (once per change)."""
        self.progress: BatcherProgress = progress_file.load()
        pending = self.progress.pending
        self._next = (pending.last_block if pending else self.progress.confirmed_through) + 1
        """The next L2 block to add to a channel."""
        self._open: _OpenChannel | None = None
        self._use_blobs: bool | None = None
        """Blobs or calldata, once ``auto`` is decided."""
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
        payloads = channel.out.payloads(
            MAX_BLOB_DATA_SIZE if self.use_blobs() else MAX_PAYLOAD_BYTES
        )
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
            inbox = self._inbox()
            if inbox is None:
                return  # not the batcher (now): asked again at the next step
            receipt = self.tx.send(
                inbox,
                b"" if self.use_blobs() else payload.data,
                blobs=[encode_blob(payload.data)] if self.use_blobs() else None,
                on_broadcast=lambda nonce, tx_hash, p=payload: self._record(p, nonce, tx_hash),
                resume=Resume(payload.nonce, tuple(payload.tx_hashes))
                if payload.nonce is not None
                else None,
            )
            payload.l1_block, payload.included = receipt.block_number, receipt.tx_hash
            self._save()
        if not self._read_by_derivation(pending):
            return
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

    def _read_by_derivation(self, pending: PendingChannel) -> bool:
        """Whether every payload landed in an L1 block where SystemConfig names this key and
        inbox. A change between our check and the inclusion makes readers ignore the channel:
        then it is given up unconfirmed and its blocks are batched again (by whichever key is
        the batcher then; a sequencer restarted with the new key resumes from them)."""
        if self.system_config is None:
            return True
        me = to_canonical_address(self.tx.account.address)
        inbox = to_canonical_address(self.batch_inbox)
        for payload in pending.payloads:
            if payload.l1_block is None:
                continue
            try:
                config = self.system_config.current(payload.l1_block)
            except L1Unavailable as exc:  # e.g. a pruned L1 node without that block's state
                log.warning("cannot check SystemConfig at L1 block %d: %s", payload.l1_block, exc)
                return True
            if (config.batcher, config.batch_inbox) != (me, inbox):
                log.error(
                    "channel %s landed in L1 block %d, where SystemConfig's batcher is %s and "
                    "inbox %s: readers ignore it; L2 blocks %d-%d will be batched again",
                    pending.channel_id.hex(),
                    payload.l1_block,
                    to_checksum_address(config.batcher),
                    to_checksum_address(config.batch_inbox),
                    pending.first_block,
                    pending.last_block,
                )
                self.progress.pending = None
                self._save()
                self._open = None
                self._next = self.progress.confirmed_through + 1
                return False
        return True

    def _inbox(self) -> str | None:
        """The batch inbox to post to now; ``None`` while this key is not the batcher."""
        if self.system_config is None:
            return self.batch_inbox
        config = self.system_config.current()
        inbox = to_checksum_address(config.batch_inbox)
        if inbox != to_checksum_address(self.batch_inbox):
            log.warning("SystemConfig moved the batch inbox: %s -> %s", self.batch_inbox, inbox)
            self.batch_inbox = inbox
        me = self.tx.account.address
        if config.batcher != to_canonical_address(me):
            if not self._not_batcher:
                log.error(
                    "this key (%s) is not SystemConfig's batcher (%s): not posting; "
                    "full nodes would ignore its batches",
                    me,
                    to_checksum_address(config.batcher),
                )
            self._not_batcher = True
            return None
        if self._not_batcher:
            log.warning("this key (%s) is SystemConfig's batcher again: posting", me)
            self._not_batcher = False
        return inbox

    def use_blobs(self) -> bool:
        """Whether payloads go to L1 as blobs (``auto``: asks L1 once)."""
        if self._use_blobs is None:
            mode = self.config.data_availability
            self._use_blobs = self.client.supports_blobs() if mode == "auto" else mode == "blobs"
            log.info(
                "batcher data availability: %s%s",
                "blobs (EIP-4844)" if self._use_blobs else "calldata",
                " (auto)" if mode == "auto" else "",
            )
        return self._use_blobs

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
