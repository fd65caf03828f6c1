"""``eth_subscribe`` over WebSocket: newHeads, logs and newPendingTransactions.

The hub is told about each committed block and each admitted transaction and pushes
``eth_subscription`` notifications onto the queues of the connections that asked for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from node.block_session import SealedBlock
from node.rpc.codec import data
from node.rpc.dispatch import error_response
from node.rpc.errors import INVALID_PARAMS, RpcError
from node.rpc.formatting import format_header, format_log, format_transaction
from node.rpc.logfilter import LogCriteria, matching_logs, parse_criteria
from node.transactions import AdmittedTransaction

log = logging.getLogger(__name__)

KINDS = ("newHeads", "logs", "newPendingTransactions")


@dataclass
class Connection:
    """One WebSocket client: its outgoing queue and its subscriptions."""

    queue: asyncio.Queue[str]
    subscriptions: dict[str, tuple[str, Any]] = field(default_factory=dict)
    closed: bool = False

    def push(self, subscription_id: str, result: Any) -> None:
        if self.closed:
            return
        message = {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": subscription_id, "result": result},
        }
        try:
            self.queue.put_nowait(json.dumps(message, separators=(",", ":")))
        except asyncio.QueueFull:
            log.warning("websocket client too slow: dropping its subscriptions")
            self.closed = True
            self.subscriptions.clear()


class SubscriptionHub:
    def __init__(self) -> None:
        self._connections: set[int] = set()
        self._by_id: dict[int, Connection] = {}

    def handle(self, connection: Connection, request: dict[str, Any]) -> dict[str, Any]:
        request_id = request.get("id")
        params = request.get("params") or []
        try:
            if request["method"] == "eth_subscribe":
                result: Any = self._subscribe(connection, params)
            else:
                result = self._unsubscribe(connection, params)
        except RpcError as error:
            return error_response(request_id, error)
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _subscribe(self, connection: Connection, params: list[Any]) -> str:
        if not params or params[0] not in KINDS:
            raise RpcError(INVALID_PARAMS, f"unsupported subscription; use one of {KINDS}")
        kind = params[0]
        argument: Any = None
        if kind == "logs":
            criteria = params[1] if len(params) > 1 else {}
            if not isinstance(criteria, dict):
                raise RpcError(INVALID_PARAMS, "invalid argument 1: expected a filter object")
            argument = parse_criteria(criteria)
        elif kind == "newPendingTransactions":
            argument = bool(params[1]) if len(params) > 1 else False
        subscription_id = "0x" + secrets.token_hex(16)
        connection.subscriptions[subscription_id] = (kind, argument)
        self._by_id[id(connection)] = connection
        return subscription_id

    def _unsubscribe(self, connection: Connection, params: list[Any]) -> bool:
        if not params or not isinstance(params[0], str):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: expected a subscription id")
        return connection.subscriptions.pop(params[0], None) is not None

    def drop_connection(self, connection: Connection) -> None:
        connection.closed = True
        self._by_id.pop(id(connection), None)

    def _subscribers(self, kind: str) -> list[tuple[Connection, str, Any]]:
        return [
            (connection, sub_id, argument)
            for connection in list(self._by_id.values())
            for sub_id, (sub_kind, argument) in list(connection.subscriptions.items())
            if sub_kind == kind
        ]

    def on_block(self, sealed: SealedBlock) -> None:
        header = sealed.header
        heads = self._subscribers("newHeads")
        if heads:
            head_json = format_header(header)
            for connection, sub_id, _ in heads:
                connection.push(sub_id, head_json)
        for connection, sub_id, criteria in self._subscribers("logs"):
            self._push_logs(connection, sub_id, criteria, sealed)

    @staticmethod
    def _push_logs(
        connection: Connection, sub_id: str, criteria: LogCriteria, sealed: SealedBlock
    ) -> None:
        header = sealed.header
        if not criteria.might_match(header.bloom):
            return
        for log_entry, tx_index, outcome, log_index in matching_logs(
            criteria, header, list(sealed.outcomes)
        ):
            connection.push(
                sub_id, format_log(log_entry, header, outcome.tx.hash, tx_index, log_index)
            )

    def on_pending(self, admitted: AdmittedTransaction) -> None:
        for connection, sub_id, full in self._subscribers("newPendingTransactions"):
            if full:
                connection.push(
                    sub_id, format_transaction(admitted.tx, admitted.sender, None, None)
                )
            else:
                connection.push(sub_id, data(admitted.hash))
