"""LevelDB storage with one atomic write batch per block.

Everything the chain writes while it builds or imports a block (trie nodes, header, body,
receipts, indexes) goes into an in-memory overlay first; :meth:`StagedStore.commit` then writes
the whole overlay with a single LevelDB write batch. A crash before that write leaves the
database at the previous block, a crash after it leaves the new block complete: there is no
moment at which half a block is on disk.

Exception tree::

    OpenLedgerError
    └── StoreError            (plyvel failures, translated at this boundary)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import plyvel
from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB

from openledger.errors import OpenLedgerError

_DELETED = None
"""Marker in the overlay for a key deleted since the last commit."""


class StoreError(OpenLedgerError):
    """The database could not be opened, read or written."""


class LevelStore:
    """A thin wrapper around one plyvel database: the only code that touches plyvel."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = plyvel.DB(str(path), create_if_missing=True)
        except plyvel.Error as exc:
            raise StoreError(f"cannot open LevelDB at {path}: {exc}") from exc
        self.path = path

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        """Write one key outside any block (mempool journal, metadata)."""
        try:
            self._db.put(key, value, sync=sync)
        except plyvel.Error as exc:
            raise StoreError(f"write failed: {exc}") from exc

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        try:
            self._db.delete(key, sync=sync)
        except plyvel.Error as exc:
            raise StoreError(f"delete failed: {exc}") from exc

    def write(self, changes: dict[bytes, bytes | None], *, sync: bool = True) -> None:
        """Apply ``changes`` (``None`` deletes) in one atomic LevelDB write batch."""
        try:
            with self._db.write_batch(transaction=True, sync=sync) as batch:
                for key, value in changes.items():
                    if value is _DELETED:
                        batch.delete(key)
                    else:
                        batch.put(key, value)
        except plyvel.Error as exc:
            raise StoreError(f"atomic write of {len(changes)} keys failed: {exc}") from exc

    def iterate_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        yield from self._db.iterator(prefix=prefix)

    def close(self) -> None:
        self._db.close()


class StagedStore(BaseAtomicDB):
    """py-evm's database interface over a :class:`LevelStore`, staging writes until commit.

    Reads see staged writes first. Nothing reaches disk until :meth:`commit`, which writes the
    staged set as one batch; :meth:`discard` forgets it (a block that failed to build).
    """

    def __init__(self, level: LevelStore) -> None:
        self.level = level
        self._staged: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        if key in self._staged:
            value = self._staged[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        value = self.level.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._staged[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._staged[key] = _DELETED

    def _exists(self, key: bytes) -> bool:
        if key in self._staged:
            return self._staged[key] is not _DELETED
        return self.level.get(key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        """py-evm's nested batches land in the overlay; only :meth:`commit` touches disk."""
        with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
            yield batch

    def commit(self, *, sync: bool = True) -> None:
        """Write everything staged since the last commit in one atomic batch."""
        if self._staged:
            self.level.write(self._staged, sync=sync)
        self._staged = {}

    def discard(self) -> None:
        self._staged = {}
