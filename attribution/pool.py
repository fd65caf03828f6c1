"""The Datanet pool: every contribution of an adapter's datanet version, credited equally.

What an answer of an adapter without attribution data earns its contributors (an adapter
uploaded rather than trained by ModelFactory), and the fallback when scoring fails. The
contract needs at least one credited contribution per settlement, so the pool is never empty.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from attribution.weights import Weights, pool_weights
from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.models import ModelRegistryClient


class DatanetPool:
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

    def attribute(self, adapter_id: int, choices: Sequence[object] = ()) -> Weights:
        """The pool's credit for any answer of the adapter (`choices` are not read)."""
        return pool_weights(self.manifest(adapter_id))
