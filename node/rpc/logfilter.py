"""Log filter criteria (addresses + positional topic sets) and the bloom pre-check.

One definition serves ``eth_getLogs``, ``eth_newFilter`` and the ``logs`` subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockHeaderAPI, LogAPI
from eth_bloom import BloomFilter

from node.records import TransactionOutcome
from node.rpc.codec import parse_address, parse_hash
from node.rpc.errors import invalid_params

MAX_TOPICS = 4


@dataclass(frozen=True)
class LogCriteria:
    addresses: frozenset[bytes]
    """Empty means any address."""
    topics: tuple[frozenset[int] | None, ...]
    """Per position: the allowed topics, or ``None`` for a wildcard."""

    def might_match(self, bloom: int) -> bool:
        """False only if the block's bloom proves no log can match."""
        bloom_filter = BloomFilter(bloom)
        if self.addresses and not any(a in bloom_filter for a in self.addresses):
            return False
        for allowed in self.topics:
            if allowed and not any(t.to_bytes(32, "big") in bloom_filter for t in allowed):
                return False
        return True

    def matches(self, log: LogAPI) -> bool:
        if self.addresses and log.address not in self.addresses:
            return False
        if len(self.topics) > len(log.topics):
            return False
        return all(
            allowed is None or topic in allowed
            for allowed, topic in zip(self.topics, log.topics, strict=False)
        )


def parse_criteria(params: dict[str, Any]) -> LogCriteria:
    address = params.get("address")
    if address is None:
        addresses: frozenset[bytes] = frozenset()
    elif isinstance(address, list):
        addresses = frozenset(parse_address(a, "address") for a in address)
    else:
        addresses = frozenset({parse_address(address, "address")})
    raw_topics = params.get("topics") or []
    if not isinstance(raw_topics, list) or len(raw_topics) > MAX_TOPICS:
        raise invalid_params("invalid argument topics: expected at most 4 positions")
    topics: list[frozenset[int] | None] = []
    for position, entry in enumerate(raw_topics):
        if entry is None or entry == []:
            topics.append(None)
        elif isinstance(entry, list):
            topics.append(
                frozenset(
                    int.from_bytes(parse_hash(t, f"topics[{position}]"), "big")
                    for t in entry
                    if t is not None
                )
                or None
            )
        else:
            topics.append(frozenset({int.from_bytes(parse_hash(entry, "topic"), "big")}))
    return LogCriteria(addresses, tuple(topics))


def matching_logs(
    criteria: LogCriteria, header: BlockHeaderAPI, outcomes: list[TransactionOutcome]
) -> Iterator[tuple[LogAPI, int, TransactionOutcome, int]]:
    """(log, tx index, outcome, block-wide log index) of every matching log in the block."""
    for tx_index, outcome in enumerate(outcomes):
        for offset, log in enumerate(outcome.receipt.logs):
            if criteria.matches(log):
                yield log, tx_index, outcome, outcome.log_index_start + offset
