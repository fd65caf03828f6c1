"""The SystemConfig in force at each L1 block a source hands out (batcher and batch inbox).

op-node applies the SystemConfig events of each L1 block as its traversal reaches it; we do the
same in the L1 source, which already fetches each window of blocks with their logs: a block's
config is its parent's, updated by its own ``BatcherUpdated`` / ``BatchInboxUpdated`` events
(a change counts from the block that emits it). rollup.json holds the values at the rollup's
first L1 block; events in that block or before it are not applied.

The parent's config comes from the previous window (the traversal moves through the windows
in order). When it is not there (start-up, a reset, an L1 reorg), the events are replayed:
one ``eth_getLogs`` of the contract from the rollup's first L1 block on. A replay needs only
logs, not historical state, so it works against any L1 node, not only an archive node (an
``eth_call`` of ``batcher()`` at an old block would not).
"""

from __future__ import annotations

import logging
from typing import Any

from node.derivation.exceptions import RpcUnavailable
from node.derivation.jsonrpc import JsonRpcClient
from openledger.l1.system_config import SYSTEM_CONFIG_TOPICS, SystemConfig, SystemConfigLog

log = logging.getLogger(__name__)


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


class SystemConfigTracker:
    """Computes, for the blocks of one fetched window, the config in force at each."""

    def __init__(
        self, client: JsonRpcClient, address: bytes, genesis: SystemConfig, genesis_number: int
    ) -> None:
        """``genesis``: the values in force at L1 block ``genesis_number`` (rollup.json's)."""
        self.client = client
        self.address = address
        self.genesis = genesis
        self.genesis_number = genesis_number
        self._known: dict[bytes, SystemConfig] = {}
        """Block hash → config in force there: the last window and the block before it."""

    def configs(self, raw_blocks: list[dict[str, Any]]) -> dict[bytes, SystemConfig]:
        """The config of each of ``raw_blocks`` (consecutive ``eth_getBlockByNumber`` answers,
        in order), by block hash. Raises :class:`RpcUnavailable` if L1 changed meanwhile."""
        if not raw_blocks:
            return {}
        first = int(raw_blocks[0]["number"], 16)
        last = int(raw_blocks[-1]["number"], 16)
        parent_hash = _bytes(raw_blocks[0]["parentHash"])
        logs = self._logs(max(first, self.genesis_number + 1), last)
        hashes = {_bytes(raw["hash"]) for raw in raw_blocks}
        if any(block_hash not in hashes for block_hash, _number, _log in logs):
            raise RpcUnavailable("L1 changed while fetching SystemConfig logs; retrying")
        config = self._before(first, parent_hash)
        known = {parent_hash: config}
        previous = parent_hash
        for raw in raw_blocks:
            block_hash = _bytes(raw["hash"])
            if _bytes(raw["parentHash"]) != previous:
                raise RpcUnavailable("L1 blocks fetched do not link up (a reorg); retrying")
            previous = block_hash
            if int(raw["number"], 16) > self.genesis_number:
                updated = config.updated(entry for h, _n, entry in logs if h == block_hash)
                if updated != config and block_hash not in self._known:
                    log.info(
                        "SystemConfig changed in L1 block %d: batcher 0x%s, batch inbox 0x%s",
                        int(raw["number"], 16),
                        updated.batcher.hex(),
                        updated.batch_inbox.hex(),
                    )
                config = updated
            known[block_hash] = config
        self._known = known
        return {h: c for h, c in known.items() if h != parent_hash}

    def _before(self, first: int, parent_hash: bytes) -> SystemConfig:
        """The config in force at block ``first - 1`` (whose hash is ``parent_hash``)."""
        if first - 1 <= self.genesis_number:
            return self.genesis
        cached = self._known.get(parent_hash)
        if cached is not None:
            return cached
        logs = self._logs(self.genesis_number + 1, first - 1)
        config = self.genesis.updated(entry for _h, _n, entry in logs)
        log.info(
            "SystemConfig at L1 block %d (from %d events): batcher 0x%s, batch inbox 0x%s",
            first - 1,
            len(logs),
            config.batcher.hex(),
            config.batch_inbox.hex(),
        )
        return config

    def _logs(self, first: int, last: int) -> list[tuple[bytes, int, SystemConfigLog]]:
        """(block hash, block number, log) of the contract's config events, in L1 order."""
        if last < first:
            return []
        raw_logs = self.client.call(
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                    "address": "0x" + self.address.hex(),
                    "topics": [["0x" + topic.hex() for topic in SYSTEM_CONFIG_TOPICS]],
                }
            ],
        )
        entries = [
            (
                _bytes(raw["blockHash"]),
                int(raw["blockNumber"], 16),
                SystemConfigLog(
                    topics=tuple(_bytes(topic) for topic in raw["topics"]),
                    log_index=int(raw["logIndex"], 16),
                ),
            )
            for raw in raw_logs
            if not raw.get("removed")
        ]
        return sorted(entries, key=lambda e: (e[1], e[2].log_index))
