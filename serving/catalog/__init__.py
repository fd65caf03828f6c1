"""The on-chain model catalogue: which models this service offers and what each call costs.

- :mod:`~serving.catalog.feed`: what changed in the ModelRegistry since the last look;
- :mod:`~serving.catalog.weights`: where an adapter's weights are found locally, by hash;
- :mod:`~serving.catalog.catalog`: the `ModelCatalog` built from both, refreshed in a thread.
"""

from serving.catalog.catalog import CatalogError, OnChainCatalog, adapter_card_id
from serving.catalog.weights import ContentStore, WeightsSource

__all__ = [
    "CatalogError",
    "ContentStore",
    "OnChainCatalog",
    "WeightsSource",
    "adapter_card_id",
]
