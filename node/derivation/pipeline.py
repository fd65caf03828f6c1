"""The derivation pipeline: every stage wired in data-flow order, and its reset.

:meth:`Pipeline.step` does one unit of work: derive the next safe block if the queued batches
(or the sequencing window) allow it, else consume the next L1 block. It never touches the
network: L1 comes from an :class:`~node.derivation.l1.L1Source` snapshot. A reset (start-up,
or after an L1 reorg moved the safe head back) reads L1 again from ``channel_timeout`` blocks
before the safe head's L1 origin, so that every channel that may hold the next block is seen
whole.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from eth.abc import BlockHeaderAPI

from node.chain import Chain
from node.derivation.attributes import build_attributes
from node.derivation.batch_queue import AcceptedBatch, BatchQueue, DefaultBlock, NextBlock
from node.derivation.batch_rules import Parent, Windows
from node.derivation.channels import ChannelStage
from node.derivation.engine import Engine
from node.derivation.exceptions import InvalidBlock, L1Reorg
from node.derivation.finality import Finality
from node.derivation.l1 import L1Block, L1Source
from node.derivation.retrieval import batcher_payloads
from node.derivation.sender_prefetch import SenderPrefetch
from node.derivation.traversal import L1Traversal
from node.heads import SAFE_HEAD_KEY, ChainHeads, L1Ref
from node.l1_info import FeeScalars, L1Attributes, block_l1_attributes, configured_attributes
from node.rewind import rewind
from openledger.l1.rollup_file import RollupFile
from openledger.l1.system_config import SystemConfig

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(
        self,
        chain: Chain,
        heads: ChainHeads,
        source: L1Source,
        rollup: RollupFile,
        senders: SenderPrefetch | None = None,
    ) -> None:
        """``senders``: recover batch senders in worker processes ahead of execution (none
        given: each transaction is admitted when its block is built)."""
        self.chain = chain
        self.senders = senders or SenderPrefetch(0)
        self.heads = heads
        self.rollup = rollup
        self.scalars = configured_attributes(rollup.node_rollup()).scalars
        self.genesis_config = SystemConfig.from_rollup(rollup)
        """The batcher and inbox of blocks from a source that does not follow SystemConfig."""
        self.traversal = L1Traversal(source, rollup.l1_genesis.number)
        self.channels = ChannelStage(rollup.l2_chain_id, rollup.channel_timeout)
        self.queue = BatchQueue(
            Windows(rollup.seq_window_size, rollup.max_sequencer_drift), rollup.block_time
        )
        self.engine = Engine(chain, heads)
        self.finality = Finality(chain, heads)
        self.derived_blocks = 0
        self.derived_transactions = 0
        self.reset()

    # -- the safe head's L1 origin ----------------------------------------------------------

    def origin_of(self, header: BlockHeaderAPI) -> tuple[int, bytes, L1Attributes | None]:
        """(number, hash, attributes) of a block's L1 origin; genesis is anchored to rollup.json's
        L1 block and has no attributes."""
        attributes = block_l1_attributes([o.tx for o in self.chain.outcomes(header)[:1]])
        if attributes is None:
            return self.rollup.l1_genesis.number, self.rollup.l1_genesis.hash, None
        return attributes.origin.number, attributes.origin.hash, attributes

    # -- reset ----------------------------------------------------------------------------

    def reset(self) -> None:
        safe = self.heads.safe
        origin_number, _hash, _attributes = self.origin_of(safe)
        derived = self.heads.derived_from(safe)
        anchor = min(origin_number, derived.number) if derived else origin_number
        start = max(self.rollup.l1_genesis.number, anchor - self.rollup.channel_timeout)
        self.traversal.reset(start)
        self.channels.reset()
        self.queue.reset()
        self.senders.reset()
        log.info(
            "derivation reset: safe head %d hash=%s, reading L1 from block %d",
            safe.block_number,
            safe.hash.hex()[:16],
            start,
        )

    def rollback_l1(self, first_changed: int) -> None:
        """L1 blocks from ``first_changed`` on were replaced: move the safe head (and the
        canonical head) back to the last block derived only from older L1 blocks, then reset."""
        header = self.heads.safe
        while header.block_number > 0:
            derived = self.heads.derived_from(header)
            origin_number, _hash, _attributes = self.origin_of(header)
            if derived is not None and max(derived.number, origin_number) < first_changed:
                break
            header = self.chain.header_by_hash(header.parent_hash)
        log.warning(
            "L1 reorg from L1 block %d: safe head back from %d to %d",
            first_changed,
            self.heads.safe.block_number,
            header.block_number,
        )
        rewind(self.chain, header, {SAFE_HEAD_KEY: header.hash})
        self.heads.set_safe(header)
        self.finality.on_rewind()
        self.reset()

    # -- SystemConfig ----------------------------------------------------------------------

    def system_config(self, block: L1Block) -> SystemConfig:
        """The batcher and inbox in force at ``block`` (set by SystemConfig's events)."""
        return block.system_config or self.genesis_config

    def scalars_at(self, origin: L1Block) -> FeeScalars:
        """The L1-attributes fee fields of a block on ``origin``: the batcher in force at the
        origin (as op-node writes it), the fee scalars from rollup.json (SystemConfig has no
        scalar setters)."""
        return replace(self.scalars, batcher_hash=self.system_config(origin).batcher_hash)

    # -- one step -------------------------------------------------------------------------

    def step(self) -> bool:
        """Derive one block or consume one L1 block; ``False`` when L1 has nothing new."""
        safe = self.heads.safe
        origin_number, origin_hash, parent_attributes = self.origin_of(safe)
        epoch = self.traversal.block_at(origin_number)
        current = self.traversal.current
        if epoch is not None and current is not None:
            if epoch.hash != origin_hash:
                raise L1Reorg(origin_number)
            parent = Parent(safe.hash, safe.block_number, safe.timestamp)
            following = self.traversal.block_at(origin_number + 1)
            item = self.queue.next(parent, epoch, following, current)
            if item is not None:
                self._derive(item, parent_attributes, origin_number, current)
                return True
        block = self.traversal.advance()
        if block is None:
            return False
        config = self.system_config(block)
        payloads = batcher_payloads(block, config.batch_inbox, config.batcher)
        batches = self.channels.read(block, payloads)
        self.senders.prefetch(raw for batch in batches for raw in batch.transactions)
        self.queue.add(batches)
        self.traversal.prune(origin_number)
        return True

    def _derive(
        self,
        item: NextBlock,
        parent_attributes: L1Attributes | None,
        parent_origin_number: int,
        current: L1Block,
    ) -> None:
        if isinstance(item, AcceptedBatch):
            timestamp, origin = item.batch.timestamp, item.origin
            raw, derived_from = item.batch.transactions, item.batch.inclusion
        else:
            timestamp, origin = item.timestamp, item.origin
            raw, derived_from = (), L1Ref(current.number, current.hash)
        number = self.heads.safe.block_number + 1
        try:
            attributes = build_attributes(
                parent_attributes,
                parent_origin_number,
                origin,
                self.scalars_at(origin),
                timestamp,
                raw,
                self.rollup.l2_chain_id,
                derived_from,
                self.senders.admit,
            )
            header = self.engine.insert_safe(attributes)
        except InvalidBlock as exc:
            if isinstance(item, DefaultBlock):
                raise
            log.warning(
                "rejected batch for L2 block %d (L1 block %d): %s",
                number,
                derived_from.number,
                exc,
            )
            return
        self.finality.on_safe(header, derived_from.number)
        self.derived_blocks += 1
        self.derived_transactions += len(raw)
        log.debug(
            "safe block %d hash=%s txs=%d%s from L1 block %d",
            header.block_number,
            header.hash.hex()[:16],
            len(raw),
            " (sequencing window: empty)" if isinstance(item, DefaultBlock) else "",
            derived_from.number,
        )
        if isinstance(item, DefaultBlock):
            log.warning(
                "sequencing window of L1 origin %d expired: derived empty block %d",
                parent_origin_number,
                header.block_number,
            )
