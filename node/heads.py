"""The rollup's labelled heads: ``safe`` and ``finalized`` beside the chain's own (``unsafe``) head.

``unsafe`` is :attr:`node.chain.Chain.head`, whatever the node last executed (from the sequencer
or from derivation). ``safe`` is the newest block derived from L1 data; ``finalized`` the newest
one derived from finalized L1 blocks. Both are persisted, together with, for every derived block,
the L1 block whose data made it safe ("derived from"), so that a restart resumes derivation where
it stopped and an L1 reorg knows which L2 blocks it invalidates. These records are written in the
same LevelDB batch as the block (or the rewind) that changes them, never on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth.abc import BlockHeaderAPI
from rlp.sedes import Binary, big_endian_int

from node.chain import Chain

SAFE_HEAD_KEY = b"ol:head:safe"
FINALIZED_HEAD_KEY = b"ol:head:finalized"
DERIVED_FROM_PREFIX = b"ol:derived-from:"
"""``DERIVED_FROM_PREFIX + l2 block hash -> rlp([l1 number, l1 hash])``."""

_hash32 = Binary.fixed_length(32)


@dataclass(frozen=True)
class L1Ref:
    """An L1 block by number and hash."""

    number: int
    hash: bytes


class _L1RefRecord(rlp.Serializable):
    fields = [("number", big_endian_int), ("hash", _hash32)]


def derived_from_key(l2_hash: bytes) -> bytes:
    return DERIVED_FROM_PREFIX + l2_hash


def encode_l1_ref(ref: L1Ref) -> bytes:
    return rlp.encode(_L1RefRecord(ref.number, ref.hash))


def decode_l1_ref(encoded: bytes) -> L1Ref:
    record = rlp.decode(encoded, sedes=_L1RefRecord)
    return L1Ref(record.number, record.hash)


class ChainHeads:
    """The persisted ``safe`` and ``finalized`` heads of one chain.

    Writers stage their changes through :meth:`safe_writes` / :meth:`finalized_writes` into the
    chain's commit and then call :meth:`set_safe` / :meth:`set_finalized` once it has succeeded,
    so memory never runs ahead of disk.
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        genesis = chain.header_by_number(0)
        self._safe = self._load(SAFE_HEAD_KEY) or genesis
        self._finalized = self._load(FINALIZED_HEAD_KEY) or genesis

    def _load(self, key: bytes) -> BlockHeaderAPI | None:
        stored = self.chain.store.level.get(key)
        if stored is None:
            return None
        return self.chain.header_by_hash(stored)

    @property
    def safe(self) -> BlockHeaderAPI:
        return self._safe

    @property
    def finalized(self) -> BlockHeaderAPI:
        return self._finalized

    def derived_from(self, header: BlockHeaderAPI) -> L1Ref | None:
        """The L1 block whose data made ``header`` safe; ``None`` for genesis or unsafe blocks."""
        stored = self.chain.store.level.get(derived_from_key(header.hash))
        return decode_l1_ref(stored) if stored is not None else None

    @staticmethod
    def safe_writes(header: BlockHeaderAPI, l1: L1Ref) -> dict[bytes, bytes | None]:
        return {SAFE_HEAD_KEY: header.hash, derived_from_key(header.hash): encode_l1_ref(l1)}

    @staticmethod
    def finalized_writes(header: BlockHeaderAPI) -> dict[bytes, bytes | None]:
        return {FINALIZED_HEAD_KEY: header.hash}

    def set_safe(self, header: BlockHeaderAPI) -> None:
        self._safe = header

    def set_finalized(self, header: BlockHeaderAPI) -> None:
        self._finalized = header
