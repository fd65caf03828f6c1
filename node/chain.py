"""The canonical chain on LevelDB: open it, read it, extend it one atomic block at a time.

Writes: :meth:`Chain.open_block` starts a :class:`~node.block_session.BlockSession` whose trie
writes are staged; :meth:`Chain.commit` adds the header, canonical pointers, tx lookups, body,
receipts and any caller records (the mempool journal) to the same stage and writes it as one
LevelDB batch. Reads always see committed blocks only, because nothing else is ever staged
between two commits.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth.abc import BlockHeaderAPI, StateAPI
from eth.chains.base import ChainContext
from eth.db.chain import ChainDB
from eth.exceptions import HeaderNotFound, TransactionNotFound

from node.block_session import BlockSession, SealedBlock
from node.exceptions import BlockNotFound, ChainCorrupted
from node.genesis import genesis_header, write_genesis_state
from node.records import (
    TransactionOutcome,
    body_key,
    decode_outcomes,
    encode_body,
    encode_receipts,
    receipts_key,
)
from node.vm import OpenLedgerVM, chain_context, child_header
from openledger.config import NetworkConfig
from openledger.store import LevelStore, StagedStore
from openledger.types import Hash32

log = logging.getLogger(__name__)

GENESIS_KEY = b"ol:genesis-hash"
"""Which genesis this database belongs to: refusing another config's genesis avoids silent forks."""

BlockListener = Callable[[SealedBlock], None]

RECENT_BLOCKS_CACHED = 128
"""Blocks whose decoded transactions and receipts are kept in memory.

Clients poll receipts of the newest blocks; without this every ``eth_getTransactionReceipt``
decoded its whole block (and every filter poll did it again). Blocks never change under a hash,
so the cache needs no invalidation.
"""


@dataclass(frozen=True)
class TransactionLocation:
    header: BlockHeaderAPI
    index: int


class Chain:
    """The node's chain: one LevelDB database, one canonical head."""

    def __init__(self, config: NetworkConfig, store: StagedStore) -> None:
        self.config = config
        self.store = store
        self.chaindb = ChainDB(store)
        self._context: ChainContext = chain_context(config)
        self._listeners: list[BlockListener] = []
        self._recent: OrderedDict[bytes, tuple[TransactionOutcome, ...]] = OrderedDict()
        self._head = self._load_or_create_genesis()

    @classmethod
    def open(cls, config: NetworkConfig, datadir: Path) -> Chain:
        """Open (or create) the chain database under ``datadir/chaindata``."""
        return cls(config, StagedStore(LevelStore(datadir / "chaindata")))

    def close(self) -> None:
        self.store.level.close()

    def _load_or_create_genesis(self) -> BlockHeaderAPI:
        expected = genesis_header(self.config, write_genesis_state(self.config, self.store))
        stored = self.store.level.get(GENESIS_KEY)
        if stored is None:
            self.chaindb.persist_header(expected)
            self.store[body_key(expected.hash)] = encode_body(())
            self.store[receipts_key(expected.hash)] = encode_receipts([], ())
            self.store[GENESIS_KEY] = expected.hash
            self.store.commit()
            log.info("created genesis block %s", expected.hash.hex())
        else:
            # The genesis state was re-staged above only to compute the hash; drop it.
            self.store.discard()
            if stored != expected.hash:
                raise ChainCorrupted(
                    f"database genesis {stored.hex()} differs from the config's "
                    f"{expected.hash.hex()}: wrong --datadir or config"
                )
        try:
            return self.chaindb.get_canonical_head()
        except HeaderNotFound as exc:
            raise ChainCorrupted("canonical head missing from the database") from exc

    # -- reading --------------------------------------------------------------------------

    @property
    def head(self) -> BlockHeaderAPI:
        return self._head

    @property
    def genesis_hash(self) -> Hash32:
        return Hash32(self.chaindb.get_canonical_block_hash(0))

    def header_by_number(self, number: int) -> BlockHeaderAPI:
        if number < 0 or number > self._head.block_number:
            raise BlockNotFound(f"block {number} not found")
        return self.chaindb.get_canonical_block_header_by_number(number)

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI:
        try:
            return self.chaindb.get_block_header_by_hash(block_hash)
        except HeaderNotFound as exc:
            raise BlockNotFound(f"block {block_hash.hex()} not found") from exc

    def is_canonical(self, header: BlockHeaderAPI) -> bool:
        if header.block_number > self._head.block_number:
            return False
        return self.chaindb.get_canonical_block_hash(header.block_number) == header.hash

    def outcomes(self, header: BlockHeaderAPI) -> list[TransactionOutcome]:
        """Every transaction of the block with its sender and receipt, in order."""
        cached = self._recent.get(header.hash)
        if cached is None:
            body = self.store.level.get(body_key(header.hash))
            receipts = self.store.level.get(receipts_key(header.hash))
            if body is None or receipts is None:
                raise ChainCorrupted(f"block {header.block_number} has no stored body or receipts")
            cached = tuple(decode_outcomes(body, receipts))
            self._remember(header.hash, cached)
        return list(cached)

    def _remember(self, block_hash: bytes, outcomes: tuple[TransactionOutcome, ...]) -> None:
        self._recent[block_hash] = outcomes
        self._recent.move_to_end(block_hash)
        if len(self._recent) > RECENT_BLOCKS_CACHED:
            self._recent.popitem(last=False)

    def transaction_location(self, tx_hash: bytes) -> TransactionLocation | None:
        try:
            number, index = self.chaindb.get_transaction_index(tx_hash)
        except TransactionNotFound:
            return None
        if number > self._head.block_number:
            return None
        return TransactionLocation(self.header_by_number(number), index)

    def state_at(self, header: BlockHeaderAPI) -> StateAPI:
        """A throwaway state at ``header`` with that block's context (geth's eth_call rule)."""
        return self.vm_at(header).state

    def vm_at(
        self, header: BlockHeaderAPI, vm_class: type[OpenLedgerVM] = OpenLedgerVM
    ) -> OpenLedgerVM:
        """A VM whose block context is ``header`` and whose state is ``header.state_root``.

        ``vm_class`` lets read-only tools (access lists, tracing) run the same rules with an
        instrumented state class.
        """
        return vm_class(
            header=header,
            chaindb=self.chaindb,
            chain_context=self._context,
            consensus_context=None,
        )

    # -- writing --------------------------------------------------------------------------

    def next_timestamp(self, now: float) -> int:
        """Wall-clock time, but strictly after the parent (every block must advance time)."""
        return max(int(now), self._head.timestamp + 1)

    def open_block(self, timestamp: int) -> BlockSession:
        template = child_header(self.config, self._head, timestamp)
        return BlockSession(self.vm_at(template), template)

    def commit(
        self, sealed: SealedBlock, extra_writes: dict[bytes, bytes | None] | None = None
    ) -> None:
        """Persist ``sealed`` and ``extra_writes`` in one atomic batch, then tell listeners."""
        block = sealed.block
        try:
            self.chaindb.persist_block(block)
            self.store[body_key(block.hash)] = encode_body(block.transactions)
            self.store[receipts_key(block.hash)] = encode_receipts(
                [outcome.sender for outcome in sealed.outcomes],
                tuple(outcome.receipt for outcome in sealed.outcomes),
            )
            for key, value in (extra_writes or {}).items():
                if value is None:
                    self.store.delete(key)
                else:
                    self.store[key] = value
            self.store.commit(sync=self.config.chain.fsync)
        except BaseException:
            self.store.discard()
            raise
        self._head = block.header
        self._remember(block.hash, sealed.outcomes)
        for listener in self._listeners:
            listener(sealed)

    def move_head(self, header: BlockHeaderAPI, writes: dict[bytes, bytes | None]) -> None:
        """Write ``writes`` in one atomic batch and make ``header`` the head (``node.rewind``
        computes the writes that un-index the blocks above it)."""
        try:
            for key, value in writes.items():
                if value is None:
                    self.store.delete(key)
                else:
                    self.store[key] = value
            self.store.commit(sync=self.config.chain.fsync)
        except BaseException:
            self.store.discard()
            raise
        self._head = header

    def abandon(self) -> None:
        """Forget a session that will not be committed (its trie writes are only staged)."""
        self.store.discard()

    def subscribe(self, listener: BlockListener) -> None:
        """Call ``listener`` after each committed block (filters, subscriptions, the pool)."""
        self._listeners.append(listener)
