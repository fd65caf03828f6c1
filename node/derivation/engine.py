"""Engine: turn payload attributes into the next safe block on ``node.chain``.

The same code path as the sequencer: open a block on the parent, apply each transaction, seal
once, commit in one batch (here with the safe-head records). If the node already holds an
unsafe block at that height (followed from the sequencer) that is exactly these transactions
at this time on this parent, it is only marked safe ("consolidation", as op-node does);
otherwise the unsafe chain from that height on is rewound and the derived block replaces it.
"""

from __future__ import annotations

import logging

from eth.abc import BlockHeaderAPI

from node.block_session import Applied
from node.chain import Chain
from node.derivation.attributes import PayloadAttributes
from node.derivation.exceptions import InvalidBlock
from node.heads import ChainHeads
from node.rewind import rewind
from openledger.types import Address

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, chain: Chain, heads: ChainHeads) -> None:
        self.chain = chain
        self.heads = heads

    def _matches(self, existing: BlockHeaderAPI, attributes: PayloadAttributes) -> bool:
        if existing.parent_hash != self.heads.safe.hash:
            return False
        if existing.timestamp != attributes.timestamp:
            return False
        held = [outcome.hash for outcome in self.chain.outcomes(existing)]
        return held == [tx.hash for tx in attributes.transactions]

    def insert_safe(self, attributes: PayloadAttributes) -> BlockHeaderAPI:
        """Make the block of ``attributes`` the new safe head; raise :class:`InvalidBlock` (and
        import nothing) if a transaction cannot be included."""
        chain = self.chain
        parent = self.heads.safe
        number = parent.block_number + 1
        if chain.head.block_number >= number:
            existing = chain.header_by_number(number)
            if self._matches(existing, attributes):
                chain.move_head(
                    chain.head, ChainHeads.safe_writes(existing, attributes.derived_from)
                )
                self.heads.set_safe(existing)
                return existing
            log.warning(
                "unsafe block %d hash=%s differs from the one derived from L1: replacing it",
                number,
                existing.hash.hex()[:16],
            )
            rewind(chain, parent)
        session = chain.open_block(attributes.timestamp)
        for index, tx in enumerate(attributes.transactions):
            result = session.apply(tx, Address(tx.sender))
            if not isinstance(result, Applied):
                chain.abandon()
                raise InvalidBlock(f"transaction {index} ({tx.hash.hex()}): {result.reason}")
        sealed = session.seal()
        chain.commit(sealed, ChainHeads.safe_writes(sealed.header, attributes.derived_from))
        self.heads.set_safe(sealed.header)
        return sealed.header
