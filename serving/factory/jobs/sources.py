"""Where a job's training data comes from: ``file-<sha256>`` uploads and ``datanet:<id>@<v>``.

Both kinds end as the same thing, a `Dataset` (examples, each with its contribution id, and a
`TrainingManifest`), so the worker does not care which one a job names. The datanet source
needs a chain; an uploaded file needs only the contribution store, and is parsed as a single
contribution with id 0 (no datanet, version 0, no Merkle root): it has no on-chain provenance,
and its manifest says so rather than inventing one.

`check` runs when a job is created (cheap: syntax, the file exists) so a typo is a 400, while
`load` runs in the worker: parsing and, for a datanet, chain reads belong to the job, and their
failures (the `DatasetError` lines) become the job's error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from openledger.contracts.datanets import DatanetRegistryClient
from serving.factory.data.datanet import DatanetSpec, Dataset, load_dataset
from serving.factory.data.formats import parse_contribution
from serving.factory.data.manifest import ManifestEntry, TrainingManifest
from serving.factory.data.store import ContributionStore

FILE_ID = re.compile(r"file-([0-9a-f]{64})")
UPLOAD_CONTRIBUTION_ID = 0
NO_MERKLE_ROOT = bytes(32)


class DatasetSource(Protocol):
    """Turns a ``training_file`` spec into a dataset."""

    def accepts(self, spec: str) -> bool:
        """Whether the spec is of this source's kind (its prefix)."""
        ...

    def check(self, spec: str) -> None:
        """Raise ValueError if the spec cannot name a dataset (cheap, at job creation)."""
        ...

    def load(self, spec: str) -> Dataset:
        """The examples and manifest, or a `DatasetError` listing every bad line."""
        ...


def file_id(sha256: str) -> str:
    return f"file-{sha256}"


class UploadedFileSource:
    """``file-<sha256>``: bytes uploaded with ``POST /v1/files`` into the contribution store."""

    def __init__(self, store: ContributionStore) -> None:
        self.store = store

    def accepts(self, spec: str) -> bool:
        return spec.startswith("file-")

    def check(self, spec: str) -> None:
        match = FILE_ID.fullmatch(spec)
        if match is None:
            raise ValueError(f"not a file id: {spec!r} (expected file-<sha256 hex>)")
        if not self.store.has(match[1]):
            raise ValueError(f"no uploaded file {spec!r}")

    def load(self, spec: str) -> Dataset:
        self.check(spec)
        sha256 = spec.removeprefix("file-")
        fmt, examples = parse_contribution(UPLOAD_CONTRIBUTION_ID, self.store.get(sha256))
        entry = ManifestEntry(UPLOAD_CONTRIBUTION_ID, bytes.fromhex(sha256), fmt, len(examples))
        return Dataset(tuple(examples), TrainingManifest(0, 0, NO_MERKLE_ROOT, (entry,)))


class DatanetSource:
    """``datanet:<id>@<version>``: an approved Datanet version, read from the chain."""

    def __init__(self, datanets: DatanetRegistryClient, store: ContributionStore) -> None:
        self.datanets = datanets
        self.store = store

    def accepts(self, spec: str) -> bool:
        return spec.startswith("datanet:")

    def check(self, spec: str) -> None:
        DatanetSpec.parse(spec)  # DatanetSpecError is a ValueError

    def load(self, spec: str) -> Dataset:
        return load_dataset(self.datanets, self.store, DatanetSpec.parse(spec))


def source_for(sources: Sequence[DatasetSource], spec: str) -> DatasetSource:
    for source in sources:
        if source.accepts(spec):
            return source
    raise ValueError(f"training_file {spec!r} is neither an uploaded file-<sha256> nor a datanet")
