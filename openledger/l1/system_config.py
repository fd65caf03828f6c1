"""L1's ``SystemConfig``: who may post batches and where, as its events change them.

The contract emits ``BatcherUpdated(previous, new)`` and ``BatchInboxUpdated(previous, new)``
(both addresses indexed) and a change takes effect from the L1 block that emits it. Derivation
replays these events to know the batcher and inbox in force at every L1 block; the sequencer's
L1 watcher follows the batcher (it goes into every L1-attributes deposit) and its batcher reads
the current values before each post. The values in rollup.json are the ones in force at the
rollup's first L1 block (``openledger l1 deploy`` writes the constructor's arguments there).

The fee scalars are not in this contract (no setter exists): they stay fixed by rollup.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth_hash.auto import keccak
from eth_utils import to_canonical_address
from web3 import Web3

from openledger.contracts.artifacts import load_artifact
from openledger.l1.client import L1Client
from openledger.l1.deploy import L1_ARTIFACTS_DIR, SYSTEM_CONFIG
from openledger.l1.rollup_file import RollupFile

BATCHER_UPDATED_TOPIC = keccak(b"BatcherUpdated(address,address)")
BATCH_INBOX_UPDATED_TOPIC = keccak(b"BatchInboxUpdated(address,address)")
SYSTEM_CONFIG_TOPICS = (BATCHER_UPDATED_TOPIC, BATCH_INBOX_UPDATED_TOPIC)


@dataclass(frozen=True)
class SystemConfigLog:
    """One ``SystemConfig`` event: its topics and position in its L1 block."""

    topics: tuple[bytes, ...]
    log_index: int


@dataclass(frozen=True)
class SystemConfig:
    """The batcher and batch inbox in force at one L1 block (20-byte addresses)."""

    batcher: bytes
    batch_inbox: bytes

    @classmethod
    def from_rollup(cls, rollup: RollupFile) -> SystemConfig:
        """The values at the rollup's first L1 block."""
        return cls(
            batcher=to_canonical_address(rollup.batcher_address),
            batch_inbox=to_canonical_address(rollup.batch_inbox_address),
        )

    @property
    def batcher_hash(self) -> bytes:
        """The batcher as the L1-attributes deposit records it (left-padded to 32 bytes)."""
        return bytes(12) + self.batcher

    def updated(self, logs: Iterable[SystemConfigLog]) -> SystemConfig:
        """These values after ``logs``, applied in the order given (L1's: block, then log
        index); a log that is not a well-formed update is skipped (the contract emits none)."""
        config = self
        for entry in logs:
            if len(entry.topics) != 3 or entry.topics[2][:12] != bytes(12):
                continue
            new = entry.topics[2][12:]
            if entry.topics[0] == BATCHER_UPDATED_TOPIC:
                config = SystemConfig(batcher=new, batch_inbox=config.batch_inbox)
            elif entry.topics[0] == BATCH_INBOX_UPDATED_TOPIC:
                config = SystemConfig(batcher=config.batcher, batch_inbox=new)
        return config


class SystemConfigReader:
    """``batcher()`` and ``batchInbox()`` by ``eth_call``, for the batcher."""

    def __init__(self, client: L1Client, address: str) -> None:
        self.client = client
        self.contract = client.w3.eth.contract(
            address=Web3.to_checksum_address(address),
            abi=load_artifact(SYSTEM_CONFIG, L1_ARTIFACTS_DIR).abi_list(),
        )

    def current(self, block: int | str = "latest") -> SystemConfig:
        """The values at L1's head (or at ``block``, which a pruned L1 node keeps for recent
        blocks only). Raises :class:`~openledger.l1.exceptions.L1Unavailable` when L1 cannot
        answer."""
        batcher = self.client.view(self.contract.functions.batcher(), block)
        inbox = self.client.view(self.contract.functions.batchInbox(), block)
        return SystemConfig(to_canonical_address(batcher), to_canonical_address(inbox))
