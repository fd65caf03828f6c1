"""L1 traversal: walk L1 one block at a time and notice when what was walked changes.

It keeps every block it has consumed since its last reset (from a little before the safe
head's L1 origin), because later stages look epochs up by number (an L2 block's origin and the
one after it) and because the hashes are what an L1 reorg is detected against: a new block
must name the last consumed one as its parent, and the last consumed one must still be what L1
reports at its height.
"""

from __future__ import annotations

from node.derivation.exceptions import L1Reorg
from node.derivation.l1 import L1Block, L1Source


class L1Traversal:
    def __init__(self, source: L1Source, start: int) -> None:
        self.source = source
        self.next = start
        self._consumed: dict[int, L1Block] = {}

    def reset(self, start: int) -> None:
        self.next = start
        self._consumed = {}

    @property
    def current(self) -> L1Block | None:
        """The last block consumed."""
        return self._consumed.get(self.next - 1)

    def block_at(self, number: int) -> L1Block | None:
        """A consumed block by number."""
        return self._consumed.get(number)

    def consumed_hashes(self) -> dict[int, bytes]:
        return {number: block.hash for number, block in self._consumed.items()}

    def advance(self) -> L1Block | None:
        """Consume the next canonical L1 block, or return ``None`` if L1 has none yet.

        Raises :class:`L1Reorg` if the last consumed block is no longer canonical.
        """
        previous = self.current
        if previous is not None:
            seen = self.source.block(previous.number)
            if seen is None or seen.hash != previous.hash:
                # Gone (L1 is shorter now) or replaced.
                raise L1Reorg(previous.number)
        block = self.source.block(self.next)
        if block is None:
            return None
        if previous is not None and block.parent_hash != previous.hash:
            raise L1Reorg(previous.number)
        self._consumed[block.number] = block
        self.next += 1
        return block

    def prune(self, below: int) -> None:
        """Forget consumed blocks under ``below`` (older than any epoch still needed)."""
        for number in [n for n in self._consumed if n < below]:
            del self._consumed[number]
