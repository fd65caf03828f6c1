"""A small blocking JSON-RPC client (requests) for the L1 node and the sequencer.

Batches are how derivation stays fast over HTTP: a stretch of L1 blocks, or a sequencer block's
raw transactions, cost one round trip. Failures of ``requests`` stop here, as
:class:`RpcUnavailable`; error objects become :class:`RpcRejected`.
"""

from __future__ import annotations

from typing import Any

import requests

from node.derivation.exceptions import RpcRejected, RpcUnavailable

MAX_BATCH = 500
"""Calls per HTTP request (our own server accepts 1,000)."""


class JsonRpcClient:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()

    def _post(self, body: Any) -> Any:
        try:
            response = self._session.post(self.url, json=body, timeout=self.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise RpcUnavailable(f"JSON-RPC {self.url}: {exc}") from exc

    def call(self, method: str, params: list[Any]) -> Any:
        payload = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if not isinstance(payload, dict):
            raise RpcUnavailable(f"{method}: malformed answer {payload!r}")
        if "error" in payload:
            raise RpcRejected(method, payload["error"])
        return payload.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls, ``MAX_BATCH`` per HTTP request; results in call order."""
        results: list[Any] = []
        for offset in range(0, len(calls), MAX_BATCH):
            chunk = calls[offset : offset + MAX_BATCH]
            body = [
                {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
                for index, (method, params) in enumerate(chunk)
            ]
            payload = self._post(body)
            if not isinstance(payload, list):
                raise RpcUnavailable(f"batch of {len(chunk)}: malformed answer {payload!r}")
            by_id = {item.get("id"): item for item in payload if isinstance(item, dict)}
            for index, (method, _params) in enumerate(chunk):
                item = by_id.get(index)
                if item is None:
                    raise RpcUnavailable(f"{method}: no answer in the batch")
                if "error" in item:
                    raise RpcRejected(method, item["error"])
                results.append(item.get("result"))
        return results
