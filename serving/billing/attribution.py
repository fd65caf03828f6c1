"""Who is credited for one answer: the contribution ids and weights a settlement carries.

The contract accepts, per settlement, a non-empty list of strictly ascending contribution ids,
each approved in the adapter's datanet at the adapter's version or earlier, with one positive
integer weight each, and splits the contributors' part of the fee pro rata to the weights.
Proof of Attribution will score each contribution's influence on the output; until it exists,
`EqualWeightsAttribution` credits every contribution of the adapter's datanet version equally.
The cashier only sees `AttributionSource`, so the real scorer replaces it without other changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.models import ModelRegistryClient


@dataclass(frozen=True)
class Attribution:
    contribution_ids: tuple[int, ...]
    """Strictly ascending."""
    weights: tuple[int, ...]
    """Positive, one per contribution id."""

    def __post_init__(self) -> None:
        ids = self.contribution_ids
        if not ids or len(ids) != len(self.weights):
            raise ValueError("an attribution names at least one contribution, one weight each")
        if any(b <= a for a, b in pairwise(ids)):
            raise ValueError("contribution ids must be strictly ascending")
        if any(w <= 0 or w >= 2**64 for w in self.weights):
            raise ValueError("weights are positive uint64")


class AttributionSource(Protocol):
    def attribute(self, adapter_id: int, request_hash: bytes, output_hash: bytes) -> Attribution:
        """The contributions credited for this answer of on-chain adapter `adapter_id`."""
        ...


class EqualWeightsAttribution:
    """Stand-in for Proof of Attribution: all contributions of the adapter's datanet version,
    weight 1 each. An adapter's datanet version never changes, so each is read once."""

    def __init__(self, models: ModelRegistryClient, datanets: DatanetRegistryClient) -> None:
        self.models = models
        self.datanets = datanets
        self._cache: dict[int, Attribution] = {}
        self._lock = threading.Lock()

    def attribute(self, adapter_id: int, request_hash: bytes, output_hash: bytes) -> Attribution:
        with self._lock:
            cached = self._cache.get(adapter_id)
        if cached is not None:
            return cached
        adapter = self.models.adapter(adapter_id)
        count = self.datanets.version(adapter.datanet_id, adapter.datanet_version)
        leaves = self.datanets.approved_contribution_ids(adapter.datanet_id)
        ids = tuple(sorted(leaves[: count.contribution_count]))
        attribution = Attribution(ids, (1,) * len(ids))
        with self._lock:
            self._cache[adapter_id] = attribution
        return attribution
