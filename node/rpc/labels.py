"""The ``safe`` and ``finalized`` block tags: which headers they name.

A full node hands in its :class:`node.heads.ChainHeads` (derived from L1); the sequencer its
batcher's confirmations (``sequencer.rollup_services.BatcherLabels``). A chain with no L1 keeps
both tags at genesis (:class:`GenesisLabels`): never claim safety that L1 has not given.
"""

from __future__ import annotations

from typing import Protocol

from eth.abc import BlockHeaderAPI

from node.chain import Chain


class HeadLabels(Protocol):
    @property
    def safe(self) -> BlockHeaderAPI: ...

    @property
    def finalized(self) -> BlockHeaderAPI: ...


class GenesisLabels:
    """Both labels at the genesis block."""

    def __init__(self, chain: Chain) -> None:
        self._genesis = chain.header_by_number(0)

    @property
    def safe(self) -> BlockHeaderAPI:
        return self._genesis

    @property
    def finalized(self) -> BlockHeaderAPI:
        return self._genesis
