"""``datanet:<id>@<version>`` to training data: the exact examples of an approved version.

A version is what ``DatanetRegistry.approve`` published: its record holds a Merkle root and a
``contributionCount``, and its contributions are the first ``contributionCount`` ids of
``approvedContributionsOf(datanet)`` (leaf order; later approvals only append). Each one's bytes
come from the content store by its on-chain ``contentHash``; the store re-hashes them on read,
so bytes that are not the registered ones are refused, naming the contribution. Every problem of
every contribution (missing or altered bytes, bad rows) is gathered into one `DatasetError`, so
a curator sees the whole list at once and training never runs on a silent subset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.exceptions import ContractReverted
from serving.factory.data.formats import (
    DEFAULT_MAX_WORDS,
    DatasetError,
    Example,
    Problem,
    parse_contribution,
)
from serving.factory.data.manifest import (
    ManifestEntry,
    Split,
    TrainingManifest,
    split_examples,
)
from serving.factory.data.store import ContentCorrupted, ContentMissing, ContributionStore

SPEC = re.compile(r"datanet:([1-9][0-9]{0,76})@([1-9][0-9]{0,19}|latest)")


class DatanetSpecError(ValueError):
    """A spec that is malformed, or names a datanet or version the chain does not have."""


@dataclass(frozen=True)
class DatanetSpec:
    datanet_id: int
    version: int | None
    """None: the latest version, fixed when the spec is resolved."""

    @classmethod
    def parse(cls, spec: str) -> DatanetSpec:
        """``datanet:<id>@<version>`` or ``datanet:<id>@latest``; the version is never implied,
        so a job cannot silently follow a datanet that moves while it is queued."""
        match = SPEC.fullmatch(spec.strip())
        if match is None:
            raise DatanetSpecError(
                f"not a datanet version: {spec!r} (expected datanet:<id>@<version> or "
                "datanet:<id>@latest, ids from 1)"
            )
        version = None if match[2] == "latest" else int(match[2])
        return cls(int(match[1]), version)

    def __str__(self) -> str:
        return f"datanet:{self.datanet_id}@{self.version or 'latest'}"


@dataclass(frozen=True)
class ResolvedVersion:
    datanet_id: int
    version: int
    merkle_root: bytes
    contribution_ids: tuple[int, ...]
    """Leaf order."""


@dataclass(frozen=True)
class Dataset:
    examples: tuple[Example, ...]
    """Ascending contribution id, then position in the contribution."""
    manifest: TrainingManifest

    def split(self, held_out_fraction: float = 0.1) -> Split:
        """Train/held-out, seeded by the manifest hash (see `split_examples`)."""
        return split_examples(self.examples, self.manifest.hash, held_out_fraction)


def resolve_version(datanets: DatanetRegistryClient, spec: DatanetSpec) -> ResolvedVersion:
    """The version's record and its contribution ids, read from the chain."""
    try:
        latest = datanets.datanet(spec.datanet_id).latest_version
    except ContractReverted as exc:
        if exc.error_name == "UnknownDatanet":
            raise DatanetSpecError(f"datanet {spec.datanet_id} does not exist") from exc
        raise
    if latest == 0:
        raise DatanetSpecError(f"datanet {spec.datanet_id} has no approved version yet")
    version = latest if spec.version is None else spec.version
    if version > latest:
        raise DatanetSpecError(
            f"datanet {spec.datanet_id} has no version {version} (latest: {latest})"
        )
    record = datanets.version(spec.datanet_id, version)
    ids = datanets.approved_contribution_ids(spec.datanet_id)[: record.contribution_count]
    return ResolvedVersion(spec.datanet_id, version, record.merkle_root, tuple(ids))


def load_dataset(
    datanets: DatanetRegistryClient,
    store: ContributionStore,
    spec: DatanetSpec,
    max_words: int = DEFAULT_MAX_WORDS,
) -> Dataset:
    """Every example of the version with its manifest, or a `DatasetError` listing every
    contribution that cannot be trained on and why."""
    resolved = resolve_version(datanets, spec)
    examples: list[Example] = []
    entries: list[ManifestEntry] = []
    problems: list[Problem] = []
    for contribution_id in sorted(resolved.contribution_ids):
        contribution = datanets.contribution(contribution_id)
        try:
            data = store.get(contribution.content_hash.hex())
            fmt, parsed = parse_contribution(contribution_id, data, max_words=max_words)
        except ContentMissing:
            reason = f"no stored bytes for content hash 0x{contribution.content_hash.hex()}"
            problems.append(Problem(contribution_id, None, reason))
            continue
        except ContentCorrupted:
            reason = (
                f"stored bytes do not hash to the on-chain content hash "
                f"0x{contribution.content_hash.hex()}"
            )
            problems.append(Problem(contribution_id, None, reason))
            continue
        except DatasetError as exc:
            problems.extend(exc.problems)
            continue
        examples.extend(parsed)
        entries.append(ManifestEntry(contribution_id, contribution.content_hash, fmt, len(parsed)))
    if problems:
        raise DatasetError(problems)
    manifest = TrainingManifest(
        resolved.datanet_id, resolved.version, resolved.merkle_root, tuple(entries)
    )
    return Dataset(tuple(examples), manifest)
