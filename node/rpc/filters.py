"""``eth_getLogs`` and the polled filters (``eth_newFilter`` and friends), geth's semantics.

A query names a range (``fromBlock``/``toBlock``, default ``latest``) or one block
(``blockHash``), never both. Range queries check each header's bloom before reading its receipts,
and are bounded twice so that one request cannot pin the node: at most ``max_block_range``
blocks and ``max_logs`` results, each refused with -32005 and a message saying the limit.

Installed filters learn about blocks from ``chain.subscribe`` and about admitted transactions
from ``pool.subscribe``; each keeps a bounded backlog that ``eth_getFilterChanges`` drains. A
filter nobody polled for ``timeout`` seconds is dropped, as geth does after five minutes.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from eth.abc import BlockHeaderAPI

from node.block_session import SealedBlock
from node.records import TransactionOutcome
from node.rpc.codec import BlockId, data, parse_block_id, parse_hash
from node.rpc.errors import LIMIT_EXCEEDED, SERVER_ERROR, RpcError, invalid_params
from node.rpc.eth_api import ChainReader
from node.rpc.formatting import format_log
from node.rpc.logfilter import LogCriteria, matching_logs, parse_criteria
from node.transactions import AdmittedTransaction

log = logging.getLogger(__name__)

FILTER_TIMEOUT = 300.0
"""Seconds without a poll after which a filter is dropped (geth's ``--rpc.filter-timeout``)."""

MAX_BLOCK_RANGE = 10_000
"""Blocks one ``eth_getLogs`` may scan (what public providers allow)."""

MAX_LOGS = 10_000
"""Logs one ``eth_getLogs`` may return."""

MAX_BACKLOG = 10_000
"""Unpolled items one filter keeps; the oldest go first (geth keeps all, unbounded)."""

FILTER_NOT_FOUND = "filter not found"


@dataclass(frozen=True)
class LogQuery:
    """A parsed filter object."""

    criteria: LogCriteria
    from_block: BlockId
    to_block: BlockId
    block_hash: bytes | None = None
    """When set, the query is this one block and the range is ignored."""


def _range_end(value: Any, name: str) -> BlockId:
    block_id = parse_block_id(value, name)
    if block_id.hash is not None:
        raise invalid_params(f"invalid argument {name}: expected a block number or tag")
    return block_id


def parse_log_query(value: Any) -> LogQuery:
    if not isinstance(value, dict):
        raise invalid_params("invalid argument 0: expected a filter object")
    from_value, to_value = value.get("fromBlock"), value.get("toBlock")
    block_hash = value.get("blockHash")
    if block_hash is not None and (from_value is not None or to_value is not None):
        raise invalid_params(
            "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
        )
    query = LogQuery(
        criteria=parse_criteria(value),
        from_block=_range_end(from_value, "fromBlock"),
        to_block=_range_end(to_value, "toBlock"),
        block_hash=parse_hash(block_hash, "blockHash") if block_hash is not None else None,
    )
    start, end = query.from_block.number, query.to_block.number
    if start is not None and end is not None and start > end:
        raise invalid_params("invalid block range params: fromBlock is after toBlock")
    return query


def block_logs(
    criteria: LogCriteria, header: BlockHeaderAPI, outcomes: list[TransactionOutcome]
) -> list[dict[str, Any]]:
    """The block's logs that match, formatted; empty at once when the bloom rules them out."""
    if not criteria.might_match(header.bloom):
        return []
    return [
        format_log(entry, header, outcome.tx.hash, tx_index, log_index)
        for entry, tx_index, outcome, log_index in matching_logs(criteria, header, outcomes)
    ]


class LogReader:
    """Runs a :class:`LogQuery` against the canonical chain, within the limits."""

    def __init__(
        self, reader: ChainReader, max_block_range: int = MAX_BLOCK_RANGE, max_logs: int = MAX_LOGS
    ) -> None:
        self.reader = reader
        self.chain = reader.chain
        self.max_block_range = max_block_range
        self.max_logs = max_logs

    def _number(self, block_id: BlockId) -> int:
        if block_id.number is not None:
            return block_id.number
        if block_id.tag in ("latest", "pending"):
            return self.chain.head.block_number
        return self.reader.header(block_id).block_number

    def logs(self, query: LogQuery) -> list[dict[str, Any]]:
        if query.block_hash is not None:
            header = self.reader.header(BlockId(hash=query.block_hash))
            return self._limited(block_logs(query.criteria, header, self.chain.outcomes(header)))
        start = self._number(query.from_block)
        end = min(self._number(query.to_block), self.chain.head.block_number)
        if start > end:
            return []
        if end - start + 1 > self.max_block_range:
            raise RpcError(LIMIT_EXCEEDED, f"query exceeds max block range {self.max_block_range}")
        found: list[dict[str, Any]] = []
        for number in range(start, end + 1):
            header = self.chain.header_by_number(number)
            if not query.criteria.might_match(header.bloom):
                continue
            found.extend(block_logs(query.criteria, header, self.chain.outcomes(header)))
            self._limited(found)
        return found

    def _limited(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(found) > self.max_logs:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"query returned more than {self.max_logs} results; narrow the block range",
            )
        return found


class FilterKind(Enum):
    LOGS = "logs"
    BLOCKS = "blocks"
    PENDING = "pending"


@dataclass
class InstalledFilter:
    kind: FilterKind
    deadline: float
    query: LogQuery | None = None
    backlog: deque[Any] = field(default_factory=lambda: deque(maxlen=MAX_BACKLOG))


def _in_range(query: LogQuery, header: BlockHeaderAPI) -> bool:
    """Whether a new block falls in a log filter's range; tags (``latest``...) bound nothing."""
    if query.block_hash is not None:
        return False
    start, end = query.from_block.number, query.to_block.number
    number = header.block_number
    return (start is None or number >= start) and (end is None or number <= end)


def parse_filter_id(value: Any) -> str:
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise invalid_params("invalid argument 0: expected a hex filter id")
    try:
        int(value[2:], 16)
    except ValueError:
        raise invalid_params("invalid argument 0: expected a hex filter id") from None
    return value.lower()


class FilterApi:
    """Polled filters plus ``eth_getLogs``.

    Listeners may be called from the block builder's thread while requests are served, so the
    filter table is guarded by one lock; no chain reads happen under it.
    """

    def __init__(
        self,
        logs: LogReader,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = FILTER_TIMEOUT,
    ) -> None:
        self.logs = logs
        self.clock = clock
        self.timeout = timeout
        self._filters: dict[str, InstalledFilter] = {}
        self._lock = threading.Lock()

    def handlers(self) -> dict[str, Any]:
        return {
            "eth_getLogs": self.get_logs,
            "eth_newFilter": self.new_filter,
            "eth_newBlockFilter": self.new_block_filter,
            "eth_newPendingTransactionFilter": self.new_pending_transaction_filter,
            "eth_getFilterChanges": self.get_filter_changes,
            "eth_getFilterLogs": self.get_filter_logs,
            "eth_uninstallFilter": self.uninstall_filter,
        }

    # -- events ---------------------------------------------------------------------------

    def on_block(self, sealed: SealedBlock) -> None:
        """Chain listener: queue the block hash and the matching logs."""
        header = sealed.header
        outcomes = list(sealed.outcomes)
        with self._lock:
            self._expire()
            for installed in self._filters.values():
                if installed.kind is FilterKind.BLOCKS:
                    installed.backlog.append(data(header.hash))
                elif installed.query is not None and _in_range(installed.query, header):
                    installed.backlog.extend(block_logs(installed.query.criteria, header, outcomes))

    def on_pending(self, admitted: AdmittedTransaction) -> None:
        """Pool listener: queue the hash of each admitted transaction."""
        with self._lock:
            self._expire()
            for installed in self._filters.values():
                if installed.kind is FilterKind.PENDING:
                    installed.backlog.append(data(admitted.hash))

    # -- table ----------------------------------------------------------------------------

    def _expire(self) -> None:
        """Drop filters past their deadline (call with the lock held)."""
        now = self.clock()
        for filter_id in [i for i, f in self._filters.items() if f.deadline < now]:
            del self._filters[filter_id]
            log.info("filter %s expired after %.0f s without a poll", filter_id, self.timeout)

    def _install(self, kind: FilterKind, query: LogQuery | None = None) -> str:
        filter_id = "0x" + secrets.token_hex(16)
        with self._lock:
            self._expire()
            self._filters[filter_id] = InstalledFilter(kind, self.clock() + self.timeout, query)
        return filter_id

    def _find(self, value: Any) -> InstalledFilter:
        filter_id = parse_filter_id(value)
        with self._lock:
            self._expire()
            installed = self._filters.get(filter_id)
        if installed is None:
            raise RpcError(SERVER_ERROR, FILTER_NOT_FOUND)
        return installed

    # -- methods --------------------------------------------------------------------------

    def get_logs(self, criteria: Any) -> list[dict[str, Any]]:
        return self.logs.logs(parse_log_query(criteria))

    def new_filter(self, criteria: Any) -> str:
        return self._install(FilterKind.LOGS, parse_log_query(criteria))

    def new_block_filter(self) -> str:
        return self._install(FilterKind.BLOCKS)

    def new_pending_transaction_filter(self) -> str:
        return self._install(FilterKind.PENDING)

    def get_filter_changes(self, filter_id: Any) -> list[Any]:
        """Everything queued since the last poll; polling also keeps the filter alive."""
        installed = self._find(filter_id)
        with self._lock:
            installed.deadline = self.clock() + self.timeout
            changes = list(installed.backlog)
            installed.backlog.clear()
        return changes

    def get_filter_logs(self, filter_id: Any) -> list[dict[str, Any]]:
        """The log filter's whole query, run now (geth: does not reset the deadline)."""
        installed = self._find(filter_id)
        if installed.query is None:
            raise RpcError(SERVER_ERROR, FILTER_NOT_FOUND)
        return self.logs.logs(installed.query)

    def uninstall_filter(self, filter_id: Any) -> bool:
        key = parse_filter_id(filter_id)
        with self._lock:
            return self._filters.pop(key, None) is not None
