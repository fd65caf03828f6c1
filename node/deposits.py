"""User deposits: from the L1 portal's ``TransactionDeposited`` log to an L2 deposit transaction.

The L1 watcher (and later derivation) hands each portal log of an L1 block here, in log order,
and gives the resulting transactions to the block builder with that block as the L1 origin.
The log format is ``OpenPortal``'s (docs/rollup.md, "Deposits")::

    TransactionDeposited(address indexed from, address indexed to, uint256 indexed version,
                         bytes opaqueData)
    opaqueData (version 0) = mint u256 | value u256 | gasLimit u64 | isCreation u8 | data

The source hash commits to the L1 block hash and the log's index in that block, as OP's
user-deposited source hash does, so the same log always yields the same L2 transaction hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak

from node.deposit_tx import make_deposit
from node.l1_info import USER_DEPOSIT_DOMAIN, source_hash

TRANSACTION_DEPOSITED_TOPIC = keccak(b"TransactionDeposited(address,address,uint256,bytes)")
DEPOSIT_VERSION = 0
OPAQUE_HEADER_LENGTH = 32 + 32 + 8 + 1
"""mint, value, gasLimit, isCreation: the fixed part of ``opaqueData`` before ``data``."""


class InvalidDepositLog(ValueError):
    """The log is not a well-formed version-0 ``TransactionDeposited`` event."""


@dataclass(frozen=True)
class DepositLog:
    """One portal log as an L1 client reports it (the watcher filters by the portal address)."""

    topics: tuple[bytes, ...]
    data: bytes
    block_hash: bytes
    """Hash of the L1 block that holds the log."""
    log_index: int
    """Index of the log within that L1 block (not within its transaction)."""


def user_deposit_source_hash(l1_block_hash: bytes, log_index: int) -> bytes:
    """OP's user-deposited source hash (domain 0)."""
    return source_hash(USER_DEPOSIT_DOMAIN, l1_block_hash, log_index)


def deposit_from_log(log: DepositLog) -> SignedTransactionAPI:
    """The L2 deposit transaction of one ``TransactionDeposited`` log."""
    if len(log.topics) != 4 or log.topics[0] != TRANSACTION_DEPOSITED_TOPIC:
        raise InvalidDepositLog("not a TransactionDeposited log")
    version = int.from_bytes(log.topics[3], "big")
    if version != DEPOSIT_VERSION:
        raise InvalidDepositLog(f"unknown deposit version {version}")
    opaque = _abi_bytes(log.data)
    if len(opaque) < OPAQUE_HEADER_LENGTH:
        raise InvalidDepositLog("opaqueData shorter than its 73-byte header")
    is_creation = opaque[72]
    if is_creation not in (0, 1):
        raise InvalidDepositLog("isCreation is not a bool")
    return make_deposit(
        source_hash=user_deposit_source_hash(log.block_hash, log.log_index),
        sender=_topic_address(log.topics[1]),
        to=None if is_creation else _topic_address(log.topics[2]),
        mint=int.from_bytes(opaque[0:32], "big"),
        value=int.from_bytes(opaque[32:64], "big"),
        gas=int.from_bytes(opaque[64:72], "big"),
        data=opaque[OPAQUE_HEADER_LENGTH:],
    )


def _topic_address(topic: bytes) -> bytes:
    if len(topic) != 32 or any(topic[:12]):
        raise InvalidDepositLog("indexed address is not a left-padded 20-byte value")
    return topic[12:]


def _abi_bytes(data: bytes) -> bytes:
    """Decode the single ``bytes`` of the event data (offset, length, padded bytes)."""
    if len(data) < 64 or int.from_bytes(data[:32], "big") != 32:
        raise InvalidDepositLog("event data is not one ABI-encoded bytes value")
    length = int.from_bytes(data[32:64], "big")
    if 64 + length > len(data):
        raise InvalidDepositLog("opaqueData runs past the event data")
    return data[64 : 64 + length]
