"""The batched trie update (``node.account_trie``) against py-trie's one-key-at-a-time
``HexaryTrie``: same root after every batch, and every node py-trie reads (values, absent keys,
proofs) is in the database the batches wrote. Then ``BatchedAccountDB`` against py-evm's
``AccountDB`` on random account changes."""

from __future__ import annotations

import random

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.vm.interrupt import MissingAccountTrieNode
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from trie.exceptions import ValidationError as TrieValidationError

from node.account_db import BatchedAccountDB
from node.account_trie import MissingNode, update_trie
from node.trie_codec import decode, encode_bytes, encode_list

# Few distinct bytes, so keys share long prefixes: leaf and extension splits, collapsing
# branches and merging extensions all happen often.
_BYTE = st.sampled_from([0x00, 0x01, 0x0F, 0x10, 0x11, 0xF0, 0xFF])
FIXED_KEYS = st.lists(_BYTE, min_size=4, max_size=4).map(lambda b: bytes(b) + bytes(28))
"""32-byte keys, as in the account and storage tries (long shared tails: long extensions)."""
SHORT_KEYS = st.lists(_BYTE, min_size=0, max_size=3).map(bytes)
"""Keys of 0 to 3 bytes: some are prefixes of others, so branches carry values."""
VALUES = st.one_of(st.binary(min_size=1, max_size=4), st.binary(min_size=28, max_size=80))
"""Short values give nodes under 32 bytes (embedded), long ones stored nodes."""


def _batches(keys: st.SearchStrategy[bytes]) -> st.SearchStrategy[list[dict[bytes, bytes]]]:
    changes = st.dictionaries(keys, st.one_of(st.just(b""), VALUES, VALUES), max_size=12)
    return st.lists(changes, min_size=1, max_size=8)


def _check_batches(batches: list[dict[bytes, bytes]], seed_with_py_trie: bool) -> None:
    reference = HexaryTrie({})
    db: dict[bytes, bytes] = {}
    root = BLANK_ROOT_HASH
    model: dict[bytes, bytes] = {}
    touched: set[bytes] = set()
    for index, batch in enumerate(batches):
        for key, value in batch.items():
            reference[key] = value
        if index == 0 and seed_with_py_trie:
            # Start from a database py-trie wrote, as the node's existing chains do.
            db = dict(reference.db)
            root = reference.root_hash
        else:
            root, writes = update_trie(db.__getitem__, root, batch)
            db.update(writes)
        model.update(batch)
        touched.update(batch)
        assert root == reference.root_hash
        ours = HexaryTrie(db, root)
        for key in touched:
            assert _read(ours, key) == _read(reference, key) == model[key]
            assert _proof(ours, key) == _proof(reference, key)


def _read(trie: HexaryTrie, key: bytes) -> object:
    """``trie[key]``; py-trie cannot read a key that ends inside an extension's path (only
    possible with keys of different lengths), so that reads as ``b""`` here."""
    try:
        return trie[key]
    except TrieValidationError:
        return b""


def _proof(trie: HexaryTrie, key: bytes) -> object:
    try:
        return trie.get_proof(key)
    except TrieValidationError as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(batches=_batches(FIXED_KEYS), seed_with_py_trie=st.booleans())
def test_fixed_length_keys_match_py_trie(
    batches: list[dict[bytes, bytes]], seed_with_py_trie: bool
) -> None:
    _check_batches(batches, seed_with_py_trie)


@settings(max_examples=300, deadline=None)
@given(batches=_batches(SHORT_KEYS), seed_with_py_trie=st.booleans())
def test_prefix_keys_match_py_trie(
    batches: list[dict[bytes, bytes]], seed_with_py_trie: bool
) -> None:
    _check_batches(batches, seed_with_py_trie)


@settings(max_examples=50, deadline=None)
@given(batches=_batches(st.binary(min_size=32, max_size=32)))
def test_random_hashed_keys_match_py_trie(batches: list[dict[bytes, bytes]]) -> None:
    _check_batches(batches, seed_with_py_trie=False)


def test_large_batches_match_py_trie() -> None:
    """Blocks' worth of account-like changes (hashed keys, 70-byte values, some deletions)."""
    rng = random.Random(7)
    keys = [keccak(index.to_bytes(4, "big")) for index in range(1500)]
    batches = []
    for size in (1000, 300, 300, 300):
        batch = {key: rng.randbytes(70) for key in rng.sample(keys, size)}
        batch.update({key: b"" for key in rng.sample(keys, size // 5)})
        batches.append(batch)
    _check_batches(batches, seed_with_py_trie=False)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {b"\x12\x34": b"a" * 40}),  # insert into the blank trie
        ({b"\x12\x34": b"a" * 40}, {b"\x12\x35": b"b" * 40}),  # leaf split
        ({b"\x12\x34": b"a", b"\x12\x35": b"b"}, {b"\x13\x00": b"c"}),  # extension split
        ({b"\x12\x34": b"a" * 40, b"\x12\x35": b"b" * 40}, {b"\x12\x35": b""}),  # collapse
        (  # deleting merges the remaining extension with its parent's nibble
            {b"\x10\x00": b"a" * 40, b"\x20\x00": b"b" * 40, b"\x20\x01": b"c" * 40},
            {b"\x10\x00": b""},
        ),
        ({b"\x12\x34": b"a" * 40}, {b"\x12\x34": b""}),  # the last key: the blank root
        ({b"\x12": b"a" * 40, b"\x12\x34": b"b" * 40}, {b"\x12\x34": b""}),  # branch value
    ],
)
def test_named_cases(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> None:
    _check_batches([before, after], seed_with_py_trie=True)
    _check_batches([before, after], seed_with_py_trie=False)


def test_no_changes_writes_nothing() -> None:
    assert update_trie({}.__getitem__, BLANK_ROOT_HASH, {}) == (BLANK_ROOT_HASH, {})


def test_a_missing_sibling_is_reported() -> None:
    """Deleting one of two leaves needs the other to collapse the branch, as in py-trie."""
    reference = HexaryTrie({})
    reference[b"\x10"] = b"a" * 40
    reference[b"\x20"] = b"b" * 40
    db = dict(reference.db)
    sibling = keccak(next(v for v in db.values() if b"b" * 40 in v and len(v) < 60))
    del db[sibling]
    with pytest.raises(MissingNode) as raised:
        update_trie(db.__getitem__, reference.root_hash, {b"\x10": b""})
    assert raised.value.node_hash == sibling


# --- the RLP subset the update encodes and decodes nodes with ---

RLP_ITEMS = st.recursive(
    st.one_of(st.binary(max_size=3), st.binary(min_size=50, max_size=300)),
    lambda children: st.lists(children, max_size=20),
    max_leaves=60,
)


def _encode(item: object) -> bytes:
    if isinstance(item, bytes):
        return encode_bytes(item)
    assert isinstance(item, list)
    return encode_list(b"".join(_encode(child) for child in item))


@settings(max_examples=500, deadline=None)
@given(item=RLP_ITEMS)
def test_codec_matches_pyrlp(item: object) -> None:
    assert _encode(item) == rlp.encode(item)
    assert decode(rlp.encode(item)) == item


@pytest.mark.parametrize("data", [b"\x82a", b"\xc2\x01", b"\xc1\x82ab", b"\x01\x02"])
def test_codec_rejects_malformed_data(data: bytes) -> None:
    with pytest.raises((ValueError, IndexError)):
        decode(data)


# --- BatchedAccountDB against AccountDB ---

ADDRESSES = [bytes([index]) * 20 for index in range(1, 9)]
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["balance", "nonce", "code", "storage", "delete", "touch"]),
        st.sampled_from(ADDRESSES),
        st.integers(min_value=0, max_value=2**70),
    ),
    max_size=20,
)


def _apply(db: AccountDB, operation: str, address: bytes, number: int) -> None:
    if operation == "balance":
        db.set_balance(address, number)
    elif operation == "nonce":
        db.set_nonce(address, number % 2**64)
    elif operation == "code":
        db.set_code(address, number.to_bytes(9, "big"))
    elif operation == "storage":
        db.set_storage(address, number % 4, number % 3)
    elif operation == "delete":
        db.delete_account(address)
    else:
        db.touch_account(address)


@settings(max_examples=100, deadline=None)
@given(blocks=st.lists(OPERATIONS, min_size=1, max_size=5))
def test_batched_account_db_matches_py_evm(
    blocks: list[list[tuple[str, bytes, int]]],
) -> None:
    expected_db, actual_db = AtomicDB(), AtomicDB()
    expected_root = actual_root = BLANK_ROOT_HASH
    for operations in blocks:
        expected = AccountDB(expected_db, expected_root)
        actual = BatchedAccountDB(actual_db, actual_root)
        for operation in operations:
            _apply(expected, *operation)
            _apply(actual, *operation)
        expected.persist()
        actual.persist()
        expected_root, actual_root = expected.state_root, actual.state_root
        assert actual_root == expected_root
        reader, stored = AccountDB(actual_db, actual_root), AccountDB(expected_db, expected_root)
        for address in ADDRESSES:
            assert reader._get_encoded_account(address) == stored._get_encoded_account(address)
            for slot in range(4):
                assert reader.get_storage(address, slot) == stored.get_storage(address, slot)


def test_batched_account_db_reports_a_missing_node() -> None:
    """A deletion whose collapse needs a node missing from the database raises py-evm's error."""
    memory = MemoryDB()
    base = AtomicDB(memory)
    accounts = BatchedAccountDB(base)
    first, second = ADDRESSES[0], ADDRESSES[1]
    accounts.set_balance(first, 10**18)
    accounts.set_balance(second, 10**18)
    accounts.persist()
    root = accounts.state_root
    second_leaf = keccak(
        next(
            value
            for key, value in memory.kv_store.items()
            if key != root and keccak(second)[-8:] in value
        )
    )
    del base[second_leaf]
    accounts = BatchedAccountDB(base, root)
    accounts.delete_account(first)
    with pytest.raises(MissingAccountTrieNode) as raised:
        accounts.make_state_root()
    assert raised.value.missing_node_hash == second_leaf
    assert raised.value.requested_key == keccak(first)
