"""The training manifest: exactly which contributions an adapter was trained on, and its hash.

Its hash (``openledger.contracts.models.manifest_hash``) is what ``ModelRegistry.registerAdapter``
takes as ``manifestHash`` (docs/contracts.md), so anyone can recompute it from an adapter's
Datanet version and check that the adapter's owner claims the contributions it was trained on.
It also seeds the held-out split, so the same contributions always give the same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from openledger.contracts.models import manifest_hash
from serving.factory.data.formats import Example, Format


@dataclass(frozen=True)
class ManifestEntry:
    contribution_id: int
    content_hash: bytes
    """The on-chain sha256 the contribution's bytes were checked against."""
    format: Format
    examples: int


@dataclass(frozen=True)
class TrainingManifest:
    datanet_id: int
    version: int
    merkle_root: bytes
    """The version's root on chain: the contributions below are its leaves."""
    entries: tuple[ManifestEntry, ...]
    """Ascending contribution id."""

    @property
    def contribution_ids(self) -> tuple[int, ...]:
        return tuple(e.contribution_id for e in self.entries)

    @property
    def hash(self) -> bytes:
        return manifest_hash(self.contribution_ids)

    def to_json(self) -> dict[str, Any]:
        """What a training job records next to its adapter (hex with ``0x``)."""
        return {
            "datanet_id": self.datanet_id,
            "version": self.version,
            "merkle_root": "0x" + self.merkle_root.hex(),
            "manifest_hash": "0x" + self.hash.hex(),
            "contributions": [
                {
                    "id": e.contribution_id,
                    "content_hash": "0x" + e.content_hash.hex(),
                    "format": e.format.value,
                    "examples": e.examples,
                }
                for e in self.entries
            ],
        }


@dataclass(frozen=True)
class Split:
    train: tuple[Example, ...]
    held_out: tuple[Example, ...]


def split_examples(
    examples: Sequence[Example], seed: bytes, held_out_fraction: float = 0.1
) -> Split:
    """A deterministic train/held-out split: an example is held out when its rank by
    ``keccak256(seed || uint256 contribution id || uint256 index)`` is among the lowest
    ``max(1, floor(n * fraction))``. Ranking each example by its own key (not by position)
    means the split does not depend on the order examples were read in. Both parts keep the
    input order. At least one example is trained on and one held out, so n ≥ 2."""
    if not 0 < held_out_fraction < 1:
        raise ValueError("held_out_fraction must be between 0 and 1")
    if len(examples) < 2:
        raise ValueError(f"cannot split {len(examples)} example(s): at least 2 are needed")
    count = min(max(1, int(len(examples) * held_out_fraction)), len(examples) - 1)

    def rank(position: int) -> bytes:
        e = examples[position]
        return keccak(seed + e.contribution_id.to_bytes(32, "big") + e.index.to_bytes(32, "big"))

    held = set(sorted(range(len(examples)), key=rank)[:count])
    return Split(
        tuple(e for i, e in enumerate(examples) if i not in held),
        tuple(e for i, e in enumerate(examples) if i in held),
    )
