"""What changed in the ModelRegistry since the last look, from its logs.

One `eth_getLogs` over the registry's address per refresh says which adapters were registered,
repriced, transferred or deprecated since the previous refresh, so the catalogue re-reads only
those (one `getAdapter` each) instead of every adapter every few seconds. The registration
logs also give each adapter's and base model's block, hence its `created` timestamp (one
`eth_getBlockByNumber` per block, cached).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openledger.contracts.models import ModelRegistryClient
from serving.chain import block_timestamp, event_topic, get_logs, head_block

ADAPTER_EVENTS = ("AdapterRegistered", "PriceChanged", "AdapterTransferred", "AdapterDeprecated")
"""Every event that changes an adapter record; each has the adapter id as first indexed topic."""
BASE_MODEL_EVENT = "BaseModelRegistered"


@dataclass
class RegistryFeed:
    """Scans the registry's logs forward from genesis, one window per `poll`."""

    models: ModelRegistryClient
    next_block: int = 0
    adapter_created: dict[int, int] = field(default_factory=dict)
    """Adapter id -> unix time of the block that registered it."""
    base_created: dict[int, int] = field(default_factory=dict)
    """Base model id -> unix time of the block that registered it."""
    _timestamps: dict[int, int] = field(default_factory=dict)

    def poll(self) -> set[int]:
        """Ids of the adapters whose record changed since the last poll (all of them at first)."""
        transactor = self.models.transactor
        head = head_block(transactor)
        if head < self.next_block:
            return set()
        topics = {event_topic(self.models, name): name for name in ADAPTER_EVENTS}
        base_topic = event_topic(self.models, BASE_MODEL_EVENT)
        touched: set[int] = set()
        wanted = [[*topics, base_topic]]
        for log in get_logs(transactor, self.models.address, wanted, self.next_block, head):
            topic0 = bytes(log["topics"][0])
            record_id = int.from_bytes(bytes(log["topics"][1]), "big")
            if topic0 == base_topic:
                self.base_created[record_id] = self._timestamp(int(log["blockNumber"]))
                continue
            if topics[topic0] == "AdapterRegistered":
                self.adapter_created[record_id] = self._timestamp(int(log["blockNumber"]))
            touched.add(record_id)
        self.next_block = head + 1
        return touched

    def _timestamp(self, block_number: int) -> int:
        if block_number not in self._timestamps:
            self._timestamps[block_number] = block_timestamp(self.models.transactor, block_number)
        return self._timestamps[block_number]
