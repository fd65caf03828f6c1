"""Contribution bytes, content-addressed: ``<root>/<sha256 hex>``.

The name of a file is the sha256 of its bytes, which is exactly the ``contentHash`` a
contributor registers on chain with ``DatanetRegistry.contribute``. So whoever holds an on-chain
contribution knows where its bytes are, and can prove they are the registered ones by hashing
them again: `get` does that on every read, because a disk or an operator may alter a file after
it was written, and a trainer must never learn from bytes that are not the contributed ones.

Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the
final name, so a crash leaves either no file or the whole file, never a prefix.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
DEFAULT_MAX_BYTES = 64 << 20
"""Largest contribution accepted: large enough for a corpus file, small enough that one upload
cannot fill the disk."""


class StoreError(Exception):
    """Root of the store's errors."""


class InvalidContentHash(StoreError, ValueError):
    """Not a sha256 in hex (64 hex digits, an optional ``0x``)."""


class ContentTooLarge(StoreError):
    """More bytes than the store's ``max_bytes``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"contribution of {size} bytes is over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class ContentMissing(StoreError, KeyError):
    """No bytes stored under that hash."""

    def __str__(self) -> str:  # KeyError would show the repr of its argument
        return str(self.args[0])


class ContentCorrupted(StoreError):
    """The stored file no longer hashes to its name: it is never returned."""


def normalize_sha256(sha256: str) -> str:
    """The canonical name of a hash: 64 lower-case hex digits, without ``0x``."""
    name = sha256.lower().removeprefix("0x")
    if not SHA256_HEX.fullmatch(name):
        raise InvalidContentHash(f"not a sha256 in hex: {sha256!r}")
    return name


CONTRIBUTIONS_DIR = "contributions"
"""The store's folder under the AI service's data directory."""


class ContributionStore:
    """Contribution bytes on a local disk, named by their sha256."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / normalize_sha256(sha256)

    def has(self, sha256: str) -> bool:
        """Whether bytes are stored under the hash (not re-hashed: `get` is the check)."""
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store `data` once; its sha256 in hex, the on-chain content hash."""
        if len(data) > self.max_bytes:
            raise ContentTooLarge(len(data), self.max_bytes)
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.root / sha256
        if final.is_file() and _sha256_file(final) == sha256:
            return sha256  # identical content, already stored
        fd, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, final)  # also replaces a corrupted copy
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        """The bytes stored under the hash, after checking that they still hash to it."""
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ContentMissing(f"no contribution stored under sha256 {path.name}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != path.name:
            raise ContentCorrupted(
                f"stored contribution {path.name} is corrupted: its bytes hash to {actual}"
            )
        return data


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
