"""Who is credited for one answer: the contribution ids and weights a settlement carries.

The contract accepts, per settlement, a non-empty list of strictly ascending contribution ids,
each approved in the adapter's datanet at the adapter's version or earlier, with one positive
integer weight each, and splits the contributors' part of the fee pro rata to the weights
(`attribution.weights.Weights` holds exactly that, plus how it was decided).

The cashier sees only `AttributionSource`. Proof of Attribution (`attribution.source`) scores
each contribution's influence on the answer; `PoolAttribution` credits every contribution of
the adapter's datanet version equally, for adapters that carry no attribution data (uploaded
rather than trained here) and as the fallback when scoring fails.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from attribution.weights import Weights, pool_weights
from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.models import ModelRegistryClient
from serving.api.ports import AnsweredChoice


class AttributionSource(Protocol):
    def attribute(self, adapter_id: int, choices: Sequence[AnsweredChoice]) -> Weights:
        """The contributions credited for this answer of on-chain adapter `adapter_id`."""
        ...


class PoolAttribution:
    """All contributions of the adapter's datanet version, weight 1 each. An adapter's datanet
    version never changes, so each manifest is read once."""

    def __init__(self, models: ModelRegistryClient, datanets: DatanetRegistryClient) -> None:
        self.models = models
        self.datanets = datanets
        self._manifests: dict[int, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def manifest(self, adapter_id: int) -> tuple[int, ...]:
        """The contribution ids of the adapter's datanet version, ascending."""
        with self._lock:
            cached = self._manifests.get(adapter_id)
        if cached is not None:
            return cached
        adapter = self.models.adapter(adapter_id)
        count = self.datanets.version(adapter.datanet_id, adapter.datanet_version)
        leaves = self.datanets.approved_contribution_ids(adapter.datanet_id)
        ids = tuple(sorted(leaves[: count.contribution_count]))
        with self._lock:
            self._manifests[adapter_id] = ids
        return ids

    def attribute(self, adapter_id: int, choices: Sequence[AnsweredChoice]) -> Weights:
        return pool_weights(self.manifest(adapter_id))
