"""The staged LevelDB store: nothing reaches disk before commit, and a commit is all-or-nothing."""

from pathlib import Path

import pytest

from openledger.store import LevelStore, StagedStore, StoreError


def test_staged_writes_are_visible_but_not_on_disk_until_commit(tmp_path: Path) -> None:
    store = StagedStore(LevelStore(tmp_path / "db"))
    store[b"a"] = b"1"
    assert store[b"a"] == b"1"
    assert store.level.get(b"a") is None
    store.commit()
    assert store.level.get(b"a") == b"1"


def test_discard_forgets_staged_writes(tmp_path: Path) -> None:
    store = StagedStore(LevelStore(tmp_path / "db"))
    store[b"a"] = b"1"
    store.discard()
    assert b"a" not in store
    with pytest.raises(KeyError):
        store[b"a"]


def test_delete_is_staged_too(tmp_path: Path) -> None:
    store = StagedStore(LevelStore(tmp_path / "db"))
    store[b"a"] = b"1"
    store.commit()
    del store[b"a"]
    assert b"a" not in store
    assert store.level.get(b"a") == b"1"
    store.commit()
    assert store.level.get(b"a") is None


def test_nested_atomic_batch_lands_in_the_stage(tmp_path: Path) -> None:
    store = StagedStore(LevelStore(tmp_path / "db"))
    with store.atomic_batch() as batch:
        batch[b"k"] = b"v"
    assert store[b"k"] == b"v"
    assert store.level.get(b"k") is None


def test_a_failed_atomic_batch_stages_nothing(tmp_path: Path) -> None:
    store = StagedStore(LevelStore(tmp_path / "db"))
    with pytest.raises(RuntimeError), store.atomic_batch() as batch:
        batch[b"k"] = b"v"
        raise RuntimeError("boom")
    assert b"k" not in store


def test_a_write_that_fails_midway_leaves_the_database_unchanged(tmp_path: Path) -> None:
    """A commit that dies inside the write batch must not leave some of its keys written."""
    level = LevelStore(tmp_path / "db")
    store = StagedStore(level)
    store[b"x"] = b"old"
    store.commit()
    store[b"x"] = b"new"
    store[b"y"] = 12345  # type: ignore[assignment]  # plyvel refuses it inside the batch
    store[b"z"] = b"new"
    with pytest.raises(TypeError):
        store.commit()
    assert level.get(b"x") == b"old"
    assert level.get(b"z") is None


def test_opening_a_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    first = LevelStore(tmp_path / "db")
    with pytest.raises(StoreError, match="cannot open LevelDB"):
        LevelStore(tmp_path / "db")
    first.close()
