"""Where derivation gets EIP-4844 blobs: a beacon node, or the dev L1's own JSON-RPC.

An execution node keeps only a blob's versioned hash (in the transaction); the blob itself is
on the consensus layer, for about 18 days. :class:`BlobSource` is the narrow interface:
the blobs of some versioned hashes of one L1 block, in that order, each checked against its
hash (KZG commitment, :func:`openledger.batch.blob.verify_blob`), so no source is trusted.
Anything missing or wrong is :class:`BlobUnavailable`, a temporary error: derivation waits and
asks again, as op-node does, because skipping a batcher blob would derive another chain.

- :class:`BeaconBlobSource` (``--l1-beacon URL``): the beacon API,
  ``GET /eth/v1/beacon/blobs/{block_id}?versioned_hashes=h1,h2`` (Fulu), falling back to
  ``GET /eth/v1/beacon/blob_sidecars/{block_id}`` (Deneb). The block id is the slot of the L1
  block (``(timestamp - genesis_time) / SECONDS_PER_SLOT``, from ``/eth/v1/beacon/genesis`` and
  ``/eth/v1/config/spec``); an endpoint without ``/eth/v1/config/spec`` (anvil serves the
  beacon blob routes on its JSON-RPC port, with blocks as their own slots) is asked by the
  execution block's hash.
- :class:`RpcBlobSource` (no ``--l1-beacon``): anvil's ``anvil_getBlobByHash`` on the L1
  JSON-RPC endpoint; an L1 node without that method makes the node ask for ``--l1-beacon``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import requests

from node.derivation.exceptions import RpcRejected, RpcUnavailable
from node.derivation.jsonrpc import JsonRpcClient
from node.rpc.sync_api import L1BlockRef
from openledger.batch.blob import BLOB_SIZE, blob_versioned_hash

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 30.0


class BlobUnavailable(RpcUnavailable):
    """The blobs of a batcher transaction cannot be had (yet) or do not match their hashes."""


class BlobSource(Protocol):
    def blobs(self, block: L1BlockRef, versioned_hashes: Sequence[bytes]) -> list[bytes]:
        """The blobs of ``versioned_hashes`` (all included in ``block``), in that order, each
        verified against its hash; :class:`BlobUnavailable` otherwise."""
        ...


def _hex_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected a hex string, got {type(value).__name__}")
    return bytes.fromhex(value.removeprefix("0x"))


def match_blobs(
    block: L1BlockRef, versioned_hashes: Sequence[bytes], candidates: Sequence[Any]
) -> list[bytes]:
    """Pick the blob of each versioned hash out of ``candidates`` (hex strings or bytes, any
    order, maybe more), by recomputing every candidate's versioned hash."""
    by_hash: dict[bytes, bytes] = {}
    wanted = set(versioned_hashes)
    for candidate in candidates:
        try:
            blob = candidate if isinstance(candidate, bytes) else _hex_bytes(candidate)
        except ValueError:
            continue
        if len(blob) != BLOB_SIZE:
            continue
        try:
            computed = blob_versioned_hash(blob)
        except ValueError:
            continue
        if computed in wanted:
            by_hash[computed] = blob
    missing = [h for h in versioned_hashes if h not in by_hash]
    if missing:
        raise BlobUnavailable(
            f"L1 block {block.number}: no valid blob for versioned hash "
            + ", ".join("0x" + h.hex() for h in missing)
        )
    return [by_hash[h] for h in versioned_hashes]


class RpcBlobSource:
    """Blobs from anvil's ``anvil_getBlobByHash`` (one JSON-RPC batch per block)."""

    def __init__(self, client: JsonRpcClient) -> None:
        self.client = client

    def blobs(self, block: L1BlockRef, versioned_hashes: Sequence[bytes]) -> list[bytes]:
        if not versioned_hashes:
            return []
        try:
            answers = self.client.batch(
                [("anvil_getBlobByHash", ["0x" + h.hex()]) for h in versioned_hashes]
            )
        except RpcRejected as exc:
            raise BlobUnavailable(
                f"L1 block {block.number} has batcher blobs, and the L1 node cannot serve "
                f"them ({exc}): start the node with --l1-beacon URL (a beacon node's API)"
            ) from exc
        return match_blobs(block, versioned_hashes, [a for a in answers if a is not None])


class BeaconBlobSource:
    """Blobs from a beacon node's REST API (or anvil's imitation of its blob routes)."""

    def __init__(self, url: str, timeout: float = HTTP_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._slots: tuple[int, int] | None = None
        """``(genesis_time, seconds_per_slot)``, or ``(0, 0)``: ask by block hash."""

    def _get(self, path: str, params: Any = None) -> tuple[int, Any]:
        try:
            response = self._session.get(self.url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise BlobUnavailable(f"beacon API {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    def _slot_timing(self) -> tuple[int, int]:
        if self._slots is None:
            status, genesis = self._get("/eth/v1/beacon/genesis")
            if status != 200 or not isinstance(genesis, dict):
                raise BlobUnavailable(f"beacon API {self.url}: /eth/v1/beacon/genesis {status}")
            status, spec = self._get("/eth/v1/config/spec")
            data = spec.get("data") if isinstance(spec, dict) else None
            if status == 200 and isinstance(data, dict) and "SECONDS_PER_SLOT" in data:
                self._slots = (
                    int(genesis["data"]["genesis_time"]),
                    int(data["SECONDS_PER_SLOT"]),
                )
            else:
                log.info("beacon API %s has no /eth/v1/config/spec: asking by block hash", self.url)
                self._slots = (0, 0)
        return self._slots

    def block_id(self, block: L1BlockRef) -> str:
        genesis_time, seconds_per_slot = self._slot_timing()
        if seconds_per_slot == 0:
            return "0x" + block.hash.hex()
        if block.timestamp < genesis_time or (block.timestamp - genesis_time) % seconds_per_slot:
            raise BlobUnavailable(
                f"L1 block {block.number} (time {block.timestamp}) is not at a slot boundary "
                f"of the beacon chain at {self.url}"
            )
        return str((block.timestamp - genesis_time) // seconds_per_slot)

    def blobs(self, block: L1BlockRef, versioned_hashes: Sequence[bytes]) -> list[bytes]:
        if not versioned_hashes:
            return []
        block_id = self.block_id(block)
        path = f"/eth/v1/beacon/blobs/{block_id}"
        hashes = ",".join("0x" + h.hex() for h in versioned_hashes)
        statuses = []
        # Filtered first (comma-separated, as anvil and the beacon nodes read it), then the
        # block's every blob (for a server that honours only part of the filter).
        for params in ({"versioned_hashes": hashes}, None):
            status, body = self._get(path, params)
            statuses.append(status)
            if status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
                try:
                    return match_blobs(block, versioned_hashes, body["data"])
                except BlobUnavailable:
                    if params is None:
                        raise
            elif status not in (200, 404, 405):
                break
        status, body = self._get(f"/eth/v1/beacon/blob_sidecars/{block_id}")
        if status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
            candidates = [s.get("blob") for s in body["data"] if isinstance(s, dict)]
            return match_blobs(block, versioned_hashes, candidates)
        raise BlobUnavailable(
            f"beacon API {self.url}: blobs of L1 block {block.number} (block id {block_id}): "
            f"HTTP {', '.join(map(str, statuses))} (blobs), {status} (blob_sidecars)"
        )
