"""Blob retrieval: the sources (beacon API, anvil's RPC), verification against versioned hashes,
and batcher blob transactions turned into payloads exactly like calldata."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from node.derivation.blobs import BeaconBlobSource, BlobUnavailable, RpcBlobSource, match_blobs
from node.derivation.exceptions import RpcRejected
from node.derivation.l1 import L1Block, L1Transaction
from node.derivation.l1_rpc import RpcL1Source
from node.derivation.retrieval import batcher_payloads
from node.rpc.sync_api import L1BlockRef
from openledger.batch.blob import BLOB_SIZE, blob_versioned_hash, encode_blob
from openledger.l1.system_config import SystemConfig

INBOX = b"\xff" * 20
BATCHER = b"\xbb" * 20
OTHER = b"\xcc" * 20
BLOCK = L1BlockRef(7, b"\x07" * 32, b"\x06" * 32, 1_000 + 7 * 12)

PAYLOAD_A = b"\x00" + b"frame-a" * 50
PAYLOAD_B = b"\x00" + b"frame-b" * 50
BLOB_A, BLOB_B = encode_blob(PAYLOAD_A), encode_blob(PAYLOAD_B)
HASH_A, HASH_B = blob_versioned_hash(BLOB_A), blob_versioned_hash(BLOB_B)


def hexed(data: bytes) -> str:
    return "0x" + data.hex()


# -- matching ---------------------------------------------------------------------------------


def test_match_picks_each_hashs_blob_in_order() -> None:
    candidates = [hexed(BLOB_B), BLOB_A, hexed(encode_blob(b"\x00spam"))]
    assert match_blobs(BLOCK, [HASH_A, HASH_B], candidates) == [BLOB_A, BLOB_B]


def test_match_ignores_junk_and_reports_what_is_missing() -> None:
    candidates = ["0xzz", 42, hexed(b"short"), hexed(b"\xff" * BLOB_SIZE), hexed(BLOB_A)]
    with pytest.raises(BlobUnavailable, match=f"L1 block 7: no valid blob .*{HASH_B.hex()}"):
        match_blobs(BLOCK, [HASH_A, HASH_B], candidates)


def test_a_blob_that_is_not_the_committed_one_is_refused() -> None:
    with pytest.raises(BlobUnavailable):
        match_blobs(BLOCK, [HASH_A], [hexed(BLOB_B)])


# -- anvil's RPC ------------------------------------------------------------------------------


@dataclass
class FakeRpc:
    blobs: dict[str, str] = field(default_factory=dict)
    reject: bool = False
    calls: list[list[tuple[str, list[Any]]]] = field(default_factory=list)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        self.calls.append(calls)
        if self.reject:
            raise RpcRejected(calls[0][0], {"code": -32601, "message": "Method not found"})
        return [self.blobs.get(params[0]) for _method, params in calls]


def test_rpc_source_asks_anvil_by_versioned_hash() -> None:
    rpc = FakeRpc({hexed(HASH_A): hexed(BLOB_A), hexed(HASH_B): hexed(BLOB_B)})
    assert RpcBlobSource(rpc).blobs(BLOCK, [HASH_B, HASH_A]) == [BLOB_B, BLOB_A]  # type: ignore[arg-type]
    assert rpc.calls == [
        [("anvil_getBlobByHash", [hexed(HASH_B)]), ("anvil_getBlobByHash", [hexed(HASH_A)])]
    ]


def test_rpc_source_without_the_method_asks_for_a_beacon() -> None:
    with pytest.raises(BlobUnavailable, match="--l1-beacon"):
        RpcBlobSource(FakeRpc(reject=True)).blobs(BLOCK, [HASH_A])  # type: ignore[arg-type]


def test_rpc_source_missing_blob_is_unavailable() -> None:
    with pytest.raises(BlobUnavailable, match=HASH_A.hex()):
        RpcBlobSource(FakeRpc()).blobs(BLOCK, [HASH_A])  # type: ignore[arg-type]


# -- a beacon API -----------------------------------------------------------------------------


@dataclass
class Beacon:
    """A fake beacon node: what it serves and what it was asked."""

    spec: bool = True
    blobs_route: bool = True
    sidecars: list[bytes] = field(default_factory=lambda: [BLOB_A, BLOB_B])
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def beacon() -> Iterator[tuple[Beacon, str]]:
    state = Beacon()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append(self.path)
            url = urlparse(self.path)
            body: Any = None
            if url.path == "/eth/v1/beacon/genesis":
                body = {"data": {"genesis_time": "1000"}}
            elif url.path == "/eth/v1/config/spec" and state.spec:
                body = {"data": {"SECONDS_PER_SLOT": "12"}}
            elif url.path.startswith("/eth/v1/beacon/blobs/") and state.blobs_route:
                query = parse_qs(url.query).get("versioned_hashes")
                wanted = query[0].split(",") if query else None
                blobs = [
                    b
                    for b in state.sidecars
                    if wanted is None or hexed(blob_versioned_hash(b)) in wanted
                ]
                body = {"data": [hexed(b) for b in blobs]}
            elif url.path.startswith("/eth/v1/beacon/blob_sidecars/"):
                body = {
                    "data": [
                        {"index": str(i), "blob": hexed(b)} for i, b in enumerate(state.sidecars)
                    ]
                }
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_beacon_source_asks_by_slot_with_versioned_hashes(beacon: tuple[Beacon, str]) -> None:
    state, url = beacon
    assert BeaconBlobSource(url).blobs(BLOCK, [HASH_B]) == [BLOB_B]
    blob_request = state.requests[-1]
    assert blob_request.startswith("/eth/v1/beacon/blobs/7?")  # (1084 - 1000) / 12
    assert parse_qs(urlparse(blob_request).query)["versioned_hashes"] == [hexed(HASH_B)]
    BeaconBlobSource(url).blobs(BLOCK, [HASH_A, HASH_B])
    query = parse_qs(urlparse(state.requests[-1]).query)
    assert query["versioned_hashes"] == [f"{hexed(HASH_A)},{hexed(HASH_B)}"]


def test_beacon_source_falls_back_to_blob_sidecars(beacon: tuple[Beacon, str]) -> None:
    state, url = beacon
    state.blobs_route = False
    assert BeaconBlobSource(url).blobs(BLOCK, [HASH_A, HASH_B]) == [BLOB_A, BLOB_B]
    assert state.requests[-1] == "/eth/v1/beacon/blob_sidecars/7"


def test_beacon_without_a_spec_is_asked_by_block_hash(beacon: tuple[Beacon, str]) -> None:
    """anvil's beacon routes: no /eth/v1/config/spec, blocks named by execution hash."""
    state, url = beacon
    state.spec = False
    assert BeaconBlobSource(url).blobs(BLOCK, [HASH_A]) == [BLOB_A]
    assert state.requests[-1].startswith(f"/eth/v1/beacon/blobs/{hexed(BLOCK.hash)}?")


def test_beacon_serving_the_wrong_blob_is_unavailable(beacon: tuple[Beacon, str]) -> None:
    state, url = beacon
    state.sidecars = [BLOB_B]
    with pytest.raises(BlobUnavailable, match=HASH_A.hex()):
        BeaconBlobSource(url).blobs(BLOCK, [HASH_A])


def test_block_off_the_slot_grid_is_unavailable(beacon: tuple[Beacon, str]) -> None:
    _state, url = beacon
    off = L1BlockRef(7, BLOCK.hash, BLOCK.parent_hash, BLOCK.timestamp + 1)
    with pytest.raises(BlobUnavailable, match="slot boundary"):
        BeaconBlobSource(url).blobs(off, [HASH_A])


def test_unreachable_beacon_is_unavailable() -> None:
    with pytest.raises(BlobUnavailable, match="beacon API"):
        BeaconBlobSource("http://127.0.0.1:9", timeout=2).blobs(BLOCK, [HASH_A])


# -- the L1 source attaches blobs, retrieval decodes them ---------------------------------------


@dataclass
class CountingSource:
    blobs_by_hash: dict[bytes, bytes]
    asked: list[list[bytes]] = field(default_factory=list)

    def blobs(self, block: L1BlockRef, versioned_hashes: Any) -> list[bytes]:
        self.asked.append(list(versioned_hashes))
        return match_blobs(block, versioned_hashes, list(self.blobs_by_hash.values()))


def l1_block(*transactions: L1Transaction) -> L1Block:
    return L1Block(7, BLOCK.hash, BLOCK.parent_hash, BLOCK.timestamp, 1, 1, transactions, ())


def blob_tx(sender: bytes, *hashes: bytes, to: bytes = INBOX, data: bytes = b"") -> L1Transaction:
    return L1Transaction(sender, to, data, blob_hashes=hashes)


def test_source_fetches_only_the_batchers_blobs_and_caches_them() -> None:
    source = CountingSource({HASH_A: BLOB_A, HASH_B: BLOB_B})
    l1 = RpcL1Source(
        None,  # type: ignore[arg-type]
        bytes(20),
        blobs=source,
        batcher_config=SystemConfig(BATCHER, INBOX),
    )
    block = l1_block(
        blob_tx(OTHER, HASH_B),  # not the batcher
        blob_tx(BATCHER, HASH_B, to=OTHER),  # not the inbox
        blob_tx(BATCHER, HASH_A, HASH_B),
    )
    cache: dict[bytes, bytes] = {}
    filled = l1._with_blobs(block, cache)
    assert source.asked == [[HASH_A, HASH_B]]
    assert filled.transactions[2].blobs == (BLOB_A, BLOB_B)
    assert filled.transactions[0].blobs == ()
    l1._blob_cache = cache
    again = l1._with_blobs(block, {})
    assert source.asked == [[HASH_A, HASH_B]]  # not fetched a second time
    assert again == filled


def test_source_without_blob_source_refuses_a_batcher_blob_block() -> None:
    l1 = RpcL1Source(None, bytes(20), batcher_config=SystemConfig(BATCHER, INBOX))  # type: ignore[arg-type]
    with pytest.raises(BlobUnavailable, match="no blob source"):
        l1._with_blobs(l1_block(blob_tx(BATCHER, HASH_A)), {})
    plain = l1_block(L1Transaction(BATCHER, INBOX, b"\x00calldata"))
    assert l1._with_blobs(plain, {}) is plain


def test_blob_payloads_come_in_transaction_order_with_calldata() -> None:
    block = l1_block(
        L1Transaction(BATCHER, INBOX, b"\x00first"),
        L1Transaction(BATCHER, INBOX, b"ignored", (HASH_A, HASH_B), (BLOB_A, BLOB_B)),
        L1Transaction(OTHER, INBOX, b"", (HASH_B,), (BLOB_B,)),
        L1Transaction(BATCHER, INBOX, b"\x00last"),
    )
    assert batcher_payloads(block, INBOX, BATCHER) == [
        b"\x00first",
        PAYLOAD_A,
        PAYLOAD_B,
        b"\x00last",
    ]


def test_a_malformed_blob_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    bad = bytearray(BLOB_A)
    bad[1] = 9  # encoding version 9
    block = l1_block(L1Transaction(BATCHER, INBOX, b"", (HASH_A, HASH_B), (bytes(bad), BLOB_B)))
    assert batcher_payloads(block, INBOX, BATCHER) == [PAYLOAD_B]
    assert "batcher blob 0 skipped: unknown blob encoding version 9" in caplog.text
