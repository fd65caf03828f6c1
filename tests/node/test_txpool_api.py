"""``txpool_*``: geth's shapes over the pool protocol."""

from __future__ import annotations

from eth_utils import to_checksum_address

from node.transactions import admit
from tests.helpers.signing import CHAIN_ID, DEV, GWEI, RECIPIENT, sign
from tests.node.conftest import Node


def fill(node: Node) -> None:
    pool = node.pool
    for nonce in (0, 1):
        admitted = admit(sign(nonce=nonce, value=5), CHAIN_ID)
        pool.pending.setdefault(admitted.sender, {})[nonce] = admitted
    future = admit(sign(1, nonce=7, to=b"", data=b"\x00", gas=60_000, value=0), CHAIN_ID)
    pool.queued.setdefault(future.sender, {})[7] = future


def test_status_counts_as_hex(node: Node) -> None:
    fill(node)
    assert node.rpc("txpool_status") == {"pending": "0x2", "queued": "0x1"}


def test_content_is_keyed_by_checksum_address_and_decimal_nonce(node: Node) -> None:
    fill(node)
    content = node.rpc("txpool_content")
    sender = to_checksum_address(DEV[0].address)
    assert list(content["pending"]) == [sender]
    assert list(content["pending"][sender]) == ["0", "1"]
    first = content["pending"][sender]["0"]
    assert first["blockHash"] is None and first["nonce"] == "0x0" and first["value"] == "0x5"
    queued_sender = to_checksum_address(DEV[1].address)
    assert list(content["queued"][queued_sender]) == ["7"]
    assert node.rpc("txpool_contentFrom", sender) == {
        "pending": content["pending"][sender],
        "queued": {},
    }


def test_inspect_summarises_like_geth(node: Node) -> None:
    fill(node)
    inspect = node.rpc("txpool_inspect")
    sender = to_checksum_address(DEV[0].address)
    assert inspect["pending"][sender]["1"] == (
        f"{RECIPIENT}: 5 wei + 21000 gas \u00d7 {3 * GWEI} wei"
    )
    queued = inspect["queued"][to_checksum_address(DEV[1].address)]["7"]
    assert queued == f"contract creation: 0 wei + 60000 gas \u00d7 {3 * GWEI} wei"
