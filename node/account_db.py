"""py-evm's account database with the account trie updated in one batch per state root.

``AccountDB.make_state_root`` squashes the block's account changes (its journal diff) and hands
them to ``_apply_account_diff_without_proof``, which inserts them into a ``HexaryTrie`` one key
at a time: every insert rebuilds and re-hashes the whole path from the root. For blocks of plain
transfers that was about a third of the time to build or derive a block. Only that step is
replaced here, by :func:`node.account_trie.update_trie`, which applies the whole diff in one
bottom-up pass. Everything around it stays py-evm's: the journal, storage tries and their roots,
account deletion, ``squash_changes`` (the new nodes go to its scratch database, so a failure
leaves the trie untouched) and ``persist``.
"""

from __future__ import annotations

from typing import Any

from eth.abc import DatabaseAPI
from eth.db.account import AccountDB
from eth.db.diff import DBDiff
from eth.vm.interrupt import MissingAccountTrieNode
from eth_hash.auto import keccak

from node.account_trie import MissingNode, update_trie


class BatchedAccountDB(AccountDB):
    """``AccountDB`` whose account-trie update is one batch (see the module docstring)."""

    def _apply_account_diff_without_proof(self, diff: DBDiff, trie: DatabaseAPI) -> None:
        """Apply ``diff`` (address -> account RLP, or deleted) to ``trie`` in one pass.

        ``trie`` is the ``HashTrie`` that ``squash_changes`` yields: keys are hashed with keccak
        and it forwards ``db`` and ``root_hash`` to the ``HexaryTrie`` it wraps, whose nodes
        are read from and written to that ``db`` exactly as py-trie lays them out.
        """
        changes = {keccak(address): b"" for address in diff.deleted_keys()}
        changes.update((keccak(address), value) for address, value in diff.pending_items())
        hexary: Any = trie
        nodes = hexary.db
        try:
            root_hash, writes = update_trie(nodes.__getitem__, hexary.root_hash, changes)
        except MissingNode as exc:
            self.logger.debug(
                f"Missing node {exc.node_hash.hex()} while updating account key {exc.key.hex()}"
            )
            raise MissingAccountTrieNode(
                exc.node_hash, self._root_hash_at_last_persist, exc.key
            ) from exc
        for node_hash, encoded in writes.items():
            nodes[node_hash] = encoded
        hexary.root_hash = root_hash
