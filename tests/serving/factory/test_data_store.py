"""The contribution store: content addressing, atomic writes, and corruption never read back."""

import hashlib
from pathlib import Path

import pytest

from serving.factory.data.store import (
    ContentCorrupted,
    ContentMissing,
    ContentTooLarge,
    ContributionStore,
    InvalidContentHash,
)


def test_put_names_the_file_by_its_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    store = ContributionStore(tmp_path / "contributions")
    data = b"first paragraph\n\nsecond paragraph\n"
    sha256 = store.put(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "contributions" / sha256).read_bytes() == data
    assert store.has(sha256) and store.has("0x" + sha256.upper())
    assert store.get("0x" + sha256) == data
    assert store.put(data) == sha256  # idempotent
    assert [p.name for p in (tmp_path / "contributions").iterdir()] == [sha256]  # no temp left


def test_a_corrupted_file_is_an_error_and_a_new_put_repairs_it(tmp_path: Path) -> None:
    store = ContributionStore(tmp_path)
    data = b'{"instruction": "add", "output": "2"}\n'
    sha256 = store.put(data)
    (tmp_path / sha256).write_bytes(data.replace(b"2", b"3"))
    with pytest.raises(ContentCorrupted, match=sha256):
        store.get(sha256)
    assert store.put(data) == sha256
    assert store.get(sha256) == data


def test_missing_oversized_and_malformed_hashes(tmp_path: Path) -> None:
    store = ContributionStore(tmp_path, max_bytes=8)
    with pytest.raises(ContentMissing):
        store.get("ab" * 32)
    assert not store.has("ab" * 32)
    with pytest.raises(ContentTooLarge):
        store.put(b"123456789")
    assert store.put(b"12345678") == hashlib.sha256(b"12345678").hexdigest()
    for bad in ("ab" * 31, "zz" * 32, "../" + "ab" * 32, ""):
        with pytest.raises(InvalidContentHash):
            store.get(bad)
