"""Apply a whole batch of key changes to a stored hexary Merkle Patricia trie in one pass.

py-evm updates the account trie with one ``HexaryTrie.__setitem__`` per changed account; each
insert decodes the path from the root, re-encodes and re-hashes every node on it and writes them
all, so the nodes near the root are rebuilt once per account of the block. Here the changes are
sorted and pushed down the trie together: each stored node on a changed path is read once, each
new node is built once, and only the nodes of the final trie are encoded, hashed and returned for
writing. The layout is py-trie's (``hash -> rlp(node)``; a child whose RLP is under 32 bytes is
embedded in its parent; the root is always stored by hash, even when short; the blank trie is
``BLANK_ROOT_HASH`` and writes nothing), so ``HexaryTrie`` and proofs read the result unchanged.

Nodes in memory are py-trie's decoded lists: a leaf ``[hp(path, leaf), value]``, an extension
``[hp(path), child]``, a branch ``[child * 16, value]``. A child reference is ``b""``, a 32-byte
hash of a stored node, or a list (an embedded node, or a new node not yet encoded).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

from node.trie_codec import decode, encode_bytes, encode_list

HASH_THRESHOLD = 32
"""A node whose RLP is shorter than this is embedded in its parent rather than stored."""

BLANK_REFERENCE = encode_bytes(b"")
"""RLP of an empty child slot."""

HASH_HEADER = b"\xa0"
"""RLP header of a 32-byte string: a child stored by hash is this and the hash."""

Node = Any
"""``b""``, a 32-byte node hash, or a decoded node (a list)."""

Change = tuple[bytes, bytes]
"""A key as nibbles and its new value (``b""`` deletes it, as in py-trie)."""

NodeReader = Callable[[bytes], bytes]
"""Gives the RLP of the stored node with this hash; raises ``KeyError`` when it is missing."""


class MissingNode(KeyError):
    """A stored node the update has to read is not in the database.

    ``key`` is the changed key whose path needed it (the trie key, in bytes), so callers can
    report it as py-trie's ``MissingTrieNode`` does.
    """

    def __init__(self, node_hash: bytes, key: bytes) -> None:
        super().__init__(node_hash, key)
        self.node_hash = node_hash
        self.key = key


def nibbles(key: bytes) -> bytes:
    """Each byte of ``key`` as two nibbles, high first."""
    out = bytearray()
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return bytes(out)


def _nibbles_to_key(path: bytes) -> bytes:
    """Inverse of :func:`nibbles` (an odd trailing nibble is dropped; used for errors only)."""
    return bytes(path[i] << 4 | path[i + 1] for i in range(0, len(path) - 1, 2))


def hex_prefix(path: bytes, is_leaf: bool) -> bytes:
    """Yellow paper appendix C: flag nibble, a pad nibble when even, then the path packed."""
    flag = 2 if is_leaf else 0
    if len(path) % 2:
        head = bytes([(flag + 1) << 4 | path[0]])
        rest = path[1:]
    else:
        head = bytes([flag << 4])
        rest = path
    return head + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


def _decode_hex_prefix(encoded: bytes) -> tuple[bytes, bool]:
    """The path (nibbles) and the leaf flag of a hex-prefix encoded key."""
    first = encoded[0]
    path = nibbles(encoded[1:])
    if first & 0x10:
        path = bytes([first & 0x0F]) + path
    return path, bool(first & 0x20)


def _is_leaf(node: list[Any]) -> bool:
    return bool(node[0][0] & 0x20)


def _build(items: list[Change], level: int) -> Node:
    """A fresh subtree for ``items`` (sorted, distinct, non-empty values, sharing ``level``
    nibbles); children are left as unencoded lists for :meth:`_BatchUpdate.store`."""
    if not items:
        return b""
    if len(items) == 1:
        key, value = items[0]
        return [hex_prefix(key[level:], True), value]
    first = items[0][0]
    last = items[-1][0]
    # Sorted keys: the prefix common to all of them is the one the first and last share.
    end = level
    limit = min(len(first), len(last))
    while end < limit and first[end] == last[end]:
        end += 1
    if end > level:
        return [hex_prefix(first[level:end], False), _build(items, end)]
    branch: list[Any] = [b""] * 17
    start = 0
    if len(first) == level:
        branch[16] = items[0][1]
        start = 1
    while start < len(items):
        nibble = items[start][0][level]
        stop = start + 1
        while stop < len(items) and items[stop][0][level] == nibble:
            stop += 1
        branch[nibble] = _build(items[start:stop], level + 1)
        start = stop
    return branch


class _BatchUpdate:
    """One batch: reads stored nodes through ``read``, collects the new ones in ``writes``."""

    def __init__(self, read: NodeReader) -> None:
        self._read = read
        self.writes: dict[bytes, bytes] = {}

    def load(self, ref: Node, key: bytes) -> Node:
        """The decoded node behind a child reference (``key`` names the change that needs it)."""
        if isinstance(ref, list) or ref == b"":
            return ref
        try:
            encoded = self._read(ref)
        except KeyError as exc:
            raise MissingNode(ref, _nibbles_to_key(key)) from exc
        return decode(encoded)

    def update(self, ref: Node, level: int, changes: list[Change]) -> Node:
        """The subtree at ``ref`` with ``changes`` (sorted, non-empty, keys sharing ``level``
        nibbles) applied, in normal form (no branch with a single entry, no extension chains)."""
        node = self.load(ref, changes[0][0])
        if node == b"":
            return _build([change for change in changes if change[1]], level)
        if len(node) == 17:
            return self._update_branch(list(node), level, changes)
        path, is_leaf = _decode_hex_prefix(node[0])
        if is_leaf:
            # A leaf is a subtree of one item: merge it with the changes and rebuild.
            leaf_key = changes[0][0][:level] + path
            items = changes
            if all(change[0] != leaf_key for change in changes):
                items = sorted([*changes, (leaf_key, node[1])])
            return _build([item for item in items if item[1]], level)
        end = level + len(path)
        if all(key[level:end] == path for key, _ in changes):
            return self._extend(path, self.update(node[1], end, changes))
        # Some change leaves the extension's path: split one nibble off into a branch.
        branch: list[Any] = [b""] * 17
        branch[path[0]] = node[1] if len(path) == 1 else [hex_prefix(path[1:], False), node[1]]
        return self._update_branch(branch, level, changes)

    def _update_branch(self, branch: list[Any], level: int, changes: list[Change]) -> Node:
        start = 0
        if len(changes[0][0]) == level:
            branch[16] = changes[0][1]
            start = 1
        while start < len(changes):
            nibble = changes[start][0][level]
            stop = start + 1
            while stop < len(changes) and changes[stop][0][level] == nibble:
                stop += 1
            branch[nibble] = self.update(branch[nibble], level + 1, changes[start:stop])
            start = stop
        return self._normalize_branch(branch, changes[0][0])

    def _normalize_branch(self, branch: list[Any], key: bytes) -> Node:
        """py-trie's normal form: a branch keeps at least two entries (children or value)."""
        children = [index for index in range(16) if branch[index] != b""]
        if len(children) + (1 if branch[16] else 0) >= 2:
            return branch
        if not children:
            return [hex_prefix(b"", True), branch[16]] if branch[16] else b""
        index = children[0]
        return self._extend(bytes([index]), branch[index], key)

    def _extend(self, path: bytes, child: Node, key: bytes = b"") -> Node:
        """``child`` reached through ``path``: merged into a leaf or extension child, an
        extension over a branch, nothing over nothing."""
        node = self.load(child, key)
        if node == b"":
            return b""
        if len(node) == 17:
            return [hex_prefix(path, False), child]
        child_path, is_leaf = _decode_hex_prefix(node[0])
        return [hex_prefix(path + child_path, is_leaf), node[1]]

    def store(self, node: Node) -> bytes:
        """The RLP of the reference to ``node`` as its parent holds it: the node itself when
        its RLP is under 32 bytes (embedded), else its hash, the node going to ``writes``.
        Unchanged stored subtrees are hashes already and are not touched."""
        if node == b"":
            return BLANK_REFERENCE
        if not isinstance(node, list):
            return HASH_HEADER + node
        if len(node) == 17:
            payload = b"".join([self.store(child) for child in node[:16]])
            payload += encode_bytes(node[16])
        elif _is_leaf(node):
            payload = encode_bytes(node[0]) + encode_bytes(node[1])
        else:
            payload = encode_bytes(node[0]) + self.store(node[1])
        encoded = encode_list(payload)
        if len(encoded) < HASH_THRESHOLD:
            return encoded
        node_hash = keccak(encoded)
        self.writes[node_hash] = encoded
        return HASH_HEADER + node_hash


def update_trie(
    read: NodeReader, root_hash: bytes, changes: Mapping[bytes, bytes]
) -> tuple[bytes, dict[bytes, bytes]]:
    """Apply ``changes`` (trie key -> new value, ``b""`` to delete) to the trie at ``root_hash``.

    Returns the new root hash and the nodes to store (hash -> RLP): every node of the new trie
    on a changed path (stored subtrees off those paths are left as they are), the root always
    among them unless the trie is blank. Reads only nodes on the changed paths (and, where a
    deletion collapses a branch, the surviving sibling). Raises :class:`MissingNode` if one of
    those is absent.
    """
    if not changes:
        return root_hash, {}
    batch = _BatchUpdate(read)
    ordered = sorted((nibbles(key), value) for key, value in changes.items())
    root_ref = b"" if root_hash == BLANK_ROOT_HASH else root_hash
    root = batch.update(root_ref, 0, ordered)
    reference = batch.store(root)
    if reference == BLANK_REFERENCE:
        return BLANK_ROOT_HASH, batch.writes
    if reference[0] == HASH_HEADER[0]:
        return reference[1:], batch.writes
    # A short root is still stored by hash, as py-trie does.
    root_hash = keccak(reference)
    batch.writes[root_hash] = reference
    return root_hash, batch.writes
