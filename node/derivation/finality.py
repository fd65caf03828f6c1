"""Finality: an L2 block is finalized once the L1 block it was derived from is finalized.

The safe blocks above the finalized head wait in a queue with the L1 block number each was
derived from; when L1's finalized block passes that number they become final. The finalized
head is persisted on its own (it changes no block).
"""

from __future__ import annotations

from collections import deque

from eth.abc import BlockHeaderAPI

from node.chain import Chain
from node.heads import ChainHeads


class Finality:
    def __init__(self, chain: Chain, heads: ChainHeads) -> None:
        self.chain = chain
        self.heads = heads
        self._waiting: deque[tuple[BlockHeaderAPI, int]] = deque()
        self.reload()

    def reload(self) -> None:
        """Rebuild the queue from the stored records between the finalized and safe heads."""
        waiting = []
        header = self.heads.safe
        while header.block_number > self.heads.finalized.block_number:
            derived = self.heads.derived_from(header)
            if derived is not None:
                waiting.append((header, derived.number))
            header = self.chain.header_by_hash(header.parent_hash)
        self._waiting = deque(reversed(waiting))

    def on_safe(self, header: BlockHeaderAPI, l1_number: int) -> None:
        self._waiting.append((header, l1_number))

    def on_rewind(self) -> None:
        """The safe head moved back: forget what is above it, and keep finalized at or below."""
        safe = self.heads.safe
        while self._waiting and self._waiting[-1][0].block_number > safe.block_number:
            self._waiting.pop()
        if self.heads.finalized.block_number > safe.block_number:
            self.chain.move_head(self.chain.head, ChainHeads.finalized_writes(safe))
            self.heads.set_finalized(safe)

    def update(self, l1_finalized: int) -> None:
        newest = None
        while self._waiting and self._waiting[0][1] <= l1_finalized:
            newest = self._waiting.popleft()[0]
        if newest is not None:
            self.chain.move_head(self.chain.head, ChainHeads.finalized_writes(newest))
            self.heads.set_finalized(newest)
