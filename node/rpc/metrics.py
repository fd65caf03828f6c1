"""Prometheus counters for the RPC server, in the text exposition format."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any


class Metrics:
    """Request counts by method plus gauges read at scrape time."""

    def __init__(self, known_methods: frozenset[str]) -> None:
        self.requests: Counter[str] = Counter()
        # Only registered methods get a label of their own: a client sending made-up names
        # must not grow the label set without bound.
        self._known = known_methods
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self._gauges[name] = (help_text, read)

    def count_requests(self, payload: Any) -> None:
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("method"), str):
                method = item["method"]
                self.requests[method if method in self._known else "unknown"] += 1

    def render(self) -> str:
        lines = [
            "# HELP openledger_rpc_requests_total JSON-RPC requests by method.",
            "# TYPE openledger_rpc_requests_total counter",
        ]
        for method, count in sorted(self.requests.items()):
            lines.append(f'openledger_rpc_requests_total{{method="{method}"}} {count}')
        for name, (help_text, read) in sorted(self._gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read()}"]
        return "\n".join(lines) + "\n"
