"""The subscription hub: what each kind of eth_subscribe receives, and unsubscribe."""

from __future__ import annotations

import asyncio
import json

from node.rpc.subscriptions import Connection, SubscriptionHub
from node.transactions import admit
from tests.helpers.signing import CHAIN_ID, sign


def subscribe(hub: SubscriptionHub, connection: Connection, *params: object) -> str:
    answer = hub.handle(
        connection, {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": list(params)}
    )
    return answer["result"]


def test_new_pending_transactions_as_hashes_or_full_objects() -> None:
    hub = SubscriptionHub()
    connection = Connection(asyncio.Queue())
    by_hash = subscribe(hub, connection, "newPendingTransactions")
    full = subscribe(hub, connection, "newPendingTransactions", True)
    admitted = admit(sign(nonce=0), CHAIN_ID)
    hub.on_pending(admitted)
    messages = [json.loads(connection.queue.get_nowait()) for _ in range(2)]
    results = {m["params"]["subscription"]: m["params"]["result"] for m in messages}
    assert results[by_hash] == "0x" + admitted.hash.hex()
    assert results[full]["hash"] == "0x" + admitted.hash.hex()
    assert results[full]["blockNumber"] is None


def test_unsubscribed_connections_receive_nothing() -> None:
    hub = SubscriptionHub()
    connection = Connection(asyncio.Queue())
    subscription = subscribe(hub, connection, "newPendingTransactions")
    answer = hub.handle(
        connection,
        {"jsonrpc": "2.0", "id": 2, "method": "eth_unsubscribe", "params": [subscription]},
    )
    assert answer["result"] is True
    hub.on_pending(admit(sign(nonce=0), CHAIN_ID))
    assert connection.queue.empty()


def test_unknown_kind_is_invalid_params() -> None:
    hub = SubscriptionHub()
    answer = hub.handle(
        Connection(asyncio.Queue()),
        {"jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": ["syncing2"]},
    )
    assert answer["error"]["code"] == -32602


def test_a_slow_client_is_cut_off_instead_of_growing_memory() -> None:
    hub = SubscriptionHub()
    connection = Connection(asyncio.Queue(maxsize=1))
    subscribe(hub, connection, "newPendingTransactions")
    hub.on_pending(admit(sign(nonce=0), CHAIN_ID))
    hub.on_pending(admit(sign(nonce=1), CHAIN_ID))
    assert connection.closed
    assert connection.queue.qsize() == 1
