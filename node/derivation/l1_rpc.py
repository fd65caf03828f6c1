"""L1 over JSON-RPC: blocks with full transactions and the portal's logs, fetched ahead.

Derivation runs on the node's event loop next to the RPC server, so it must never wait on the
network there. The driver calls :meth:`RpcL1Source.refresh` in a worker thread; it fetches a
window of blocks (one JSON-RPC batch of ``eth_getBlockByNumber`` and one ``eth_getLogs``) and
L1's head/safe/finalized, and swaps them in whole. :meth:`RpcL1Source.block` then only reads
that snapshot.

Blobs (EIP-4844) are fetched in the same refresh: for each batcher transaction to the inbox
that carries blob versioned hashes, from the :class:`~node.derivation.blobs.BlobSource`
(verified against the hashes there), and attached to the transaction. A block whose batcher
blobs cannot be had fails the refresh (``BlobUnavailable``): derivation waits and retries.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from node.deposits import TRANSACTION_DEPOSITED_TOPIC, DepositLog
from node.derivation.blobs import BlobSource, BlobUnavailable
from node.derivation.exceptions import RpcUnavailable
from node.derivation.jsonrpc import JsonRpcClient
from node.derivation.l1 import L1Block, L1Transaction
from node.derivation.system_config import SystemConfigTracker
from node.rpc.sync_api import L1BlockRef
from openledger.l1.client import MIN_BLOB_BASE_FEE, blob_base_fee
from openledger.l1.system_config import SystemConfig

PREFETCH_BLOCKS = 200
"""L1 blocks fetched per refresh: one round trip for a stretch of history while catching up."""


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _int(value: str | None) -> int:
    return int(value, 16) if value else 0


class RpcL1Source:
    """An :class:`~node.derivation.l1.L1Source` over an L1 node's JSON-RPC."""

    def __init__(
        self,
        client: JsonRpcClient,
        portal: bytes,
        system_config: SystemConfigTracker | None = None,
        blobs: BlobSource | None = None,
        batcher_config: SystemConfig | None = None,
    ) -> None:
        """``system_config``: give every block the batcher and inbox in force there (without
        it, blocks carry none and rollup.json's apply). ``blobs``: where the batcher's blobs are
        fetched from; ``batcher_config``: the batcher and inbox of a block without a
        SystemConfig (without either, the blobs of every blob transaction are fetched)."""
        self.blob_source = blobs
        self.batcher_config = batcher_config
        self._blob_cache: dict[bytes, bytes] = {}
        """Verified blobs of the last snapshot, by versioned hash: not fetched again."""
        self.client = client
        self.portal = portal
        self.system_config = system_config
        self._lock = threading.Lock()
        self._blocks: dict[int, L1Block] = {}
        self.head: L1BlockRef | None = None
        self.safe: L1BlockRef | None = None
        self.finalized: L1BlockRef | None = None

    # -- fetching (worker thread) ---------------------------------------------------------

    def refresh(self, start: int, count: int = PREFETCH_BLOCKS) -> None:
        """Fetch L1's labelled heads and the canonical blocks ``start - 1 .. start + count - 1``
        (the one before ``start`` lets the traversal check the last block it consumed)."""
        head, safe, finalized = self.client.batch(
            [("eth_getBlockByNumber", [tag, False]) for tag in ("latest", "safe", "finalized")]
        )
        first = max(0, start - 1)
        last = min(start + count - 1, _int(head["number"]))
        blocks: dict[int, L1Block] = {}
        if last >= first:
            raws = self.client.batch(
                [("eth_getBlockByNumber", [hex(n), True]) for n in range(first, last + 1)]
            )
            raws = [raw for raw in raws if raw is not None]
            logs = self._deposit_logs(first, last) if raws else {}
            configs = self.system_config.configs(raws) if self.system_config else {}
            for raw in raws:
                block = self._block(raw, logs.get(_bytes(raw["hash"]), ()))
                blocks[block.number] = replace(block, system_config=configs.get(block.hash))
            stale = set(logs) - {block.hash for block in blocks.values()}
            if stale:
                # L1 reorganised between the two calls: this snapshot mixes two chains.
                raise RpcUnavailable("L1 changed while fetching; retrying")
            cache: dict[bytes, bytes] = {}
            for number, block in blocks.items():
                blocks[number] = self._with_blobs(block, cache)
            self._blob_cache = cache
        with self._lock:
            self._blocks = blocks
            self.head = self._ref(head)
            self.safe = self._ref(safe)
            self.finalized = self._ref(finalized)

    def _deposit_logs(self, first: int, last: int) -> dict[bytes, tuple[DepositLog, ...]]:
        raw_logs = self.client.call(
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                    "address": "0x" + self.portal.hex(),
                    "topics": ["0x" + TRANSACTION_DEPOSITED_TOPIC.hex()],
                }
            ],
        )
        grouped: dict[bytes, list[DepositLog]] = {}
        for raw in raw_logs:
            if raw.get("removed"):
                continue
            block_hash = _bytes(raw["blockHash"])
            grouped.setdefault(block_hash, []).append(
                DepositLog(
                    topics=tuple(_bytes(topic) for topic in raw["topics"]),
                    data=_bytes(raw["data"]),
                    block_hash=block_hash,
                    log_index=_int(raw["logIndex"]),
                )
            )
        return {
            block_hash: tuple(sorted(logs, key=lambda log: log.log_index))
            for block_hash, logs in grouped.items()
        }

    @staticmethod
    def _block(raw: dict[str, Any], logs: tuple[DepositLog, ...]) -> L1Block:
        return L1Block(
            number=_int(raw["number"]),
            hash=_bytes(raw["hash"]),
            parent_hash=_bytes(raw["parentHash"]),
            timestamp=_int(raw["timestamp"]),
            base_fee=_int(raw.get("baseFeePerGas")),
            blob_base_fee=(
                blob_base_fee(_int(raw["excessBlobGas"]))
                if raw.get("excessBlobGas") is not None
                else MIN_BLOB_BASE_FEE
            ),
            transactions=tuple(
                L1Transaction(
                    sender=_bytes(tx["from"]),
                    to=_bytes(tx["to"]) if tx.get("to") else None,
                    input=_bytes(tx.get("input") or "0x"),
                    blob_hashes=tuple(_bytes(h) for h in tx.get("blobVersionedHashes") or ()),
                )
                for tx in raw["transactions"]
            ),
            deposit_logs=logs,
        )

    def _with_blobs(self, block: L1Block, cache: dict[bytes, bytes]) -> L1Block:
        """``block`` with the blobs of its batcher blob transactions attached (each also put
        in ``cache``)."""
        config = block.system_config or self.batcher_config
        wanted = [
            index
            for index, tx in enumerate(block.transactions)
            if tx.blob_hashes
            and (config is None or (tx.to == config.batch_inbox and tx.sender == config.batcher))
        ]
        if not wanted:
            return block
        if self.blob_source is None:
            raise BlobUnavailable(
                f"L1 block {block.number} has batcher blobs and no blob source is configured"
            )
        hashes = [h for index in wanted for h in block.transactions[index].blob_hashes]
        missing = [h for h in dict.fromkeys(hashes) if h not in self._blob_cache]
        known = {h: self._blob_cache[h] for h in hashes if h in self._blob_cache}
        if missing:
            fetched = self.blob_source.blobs(block.ref(), missing)
            known.update(zip(missing, fetched, strict=True))
        cache.update(known)
        transactions = list(block.transactions)
        for index in wanted:
            tx = transactions[index]
            transactions[index] = replace(tx, blobs=tuple(known[h] for h in tx.blob_hashes))
        return replace(block, transactions=tuple(transactions))

    @staticmethod
    def _ref(raw: dict[str, Any] | None) -> L1BlockRef | None:
        if raw is None:
            return None
        return L1BlockRef(
            _int(raw["number"]),
            _bytes(raw["hash"]),
            _bytes(raw["parentHash"]),
            _int(raw["timestamp"]),
        )

    def first_changed(self, consumed: Mapping[int, bytes]) -> int | None:
        """The lowest of the ``consumed`` heights whose canonical hash is no longer the one
        consumed (a reorg's depth), or ``None`` if all still hold."""
        numbers = sorted(consumed)
        raws = self.client.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        for number, raw in zip(numbers, raws, strict=True):
            if raw is None or _bytes(raw["hash"]) != consumed[number]:
                return number
        return None

    # -- reading (event loop) -------------------------------------------------------------

    def block(self, number: int) -> L1Block | None:
        with self._lock:
            return self._blocks.get(number)
