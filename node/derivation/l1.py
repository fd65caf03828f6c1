"""L1 as derivation sees it: blocks with their batcher-relevant transactions and portal logs.

:class:`L1Source` is the narrow interface the stages pull from; :mod:`.l1_rpc` implements it
over JSON-RPC. A block is only ever handed out whole (transactions and deposit logs of the same
hash), so a stage never mixes two versions of an L1 block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from node.deposits import DepositLog
from node.l1_info import L1Origin
from node.rpc.sync_api import L1BlockRef
from openledger.l1.system_config import SystemConfig


@dataclass(frozen=True)
class L1Transaction:
    """The parts of an L1 transaction retrieval looks at."""

    sender: bytes
    to: bytes | None
    input: bytes
    blob_hashes: tuple[bytes, ...] = ()
    """EIP-4844 versioned hashes (a type-3 transaction's); its data is in ``blobs``."""
    blobs: tuple[bytes, ...] = ()
    """The blobs of ``blob_hashes``, verified, where the source fetched them (it does for the
    batcher's transactions to the inbox)."""


@dataclass(frozen=True)
class L1Block:
    """One L1 block: header fields, transactions and the portal's deposit logs, in log order."""

    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    base_fee: int
    blob_base_fee: int
    transactions: tuple[L1Transaction, ...]
    deposit_logs: tuple[DepositLog, ...]
    system_config: SystemConfig | None = None
    """The batcher and inbox in force at this block (its own SystemConfig events included);
    ``None`` from a source that does not follow SystemConfig: rollup.json's values apply."""

    def origin(self) -> L1Origin:
        """This block as an L2 block's L1 origin (what the L1-attributes deposit records)."""
        return L1Origin(
            number=self.number,
            timestamp=self.timestamp,
            hash=self.hash,
            base_fee=self.base_fee,
            blob_base_fee=self.blob_base_fee,
        )

    def ref(self) -> L1BlockRef:
        return L1BlockRef(self.number, self.hash, self.parent_hash, self.timestamp)


class L1Source(Protocol):
    """Canonical L1 blocks by number, as far as the source knows them now."""

    def block(self, number: int) -> L1Block | None:
        """The canonical block ``number``, or ``None`` if L1 does not have it (yet).

        A source must always know the block before the one the traversal asks for next (the
        last one it consumed): ``None`` there means L1 no longer has that height."""
        ...
