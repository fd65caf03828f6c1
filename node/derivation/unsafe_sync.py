"""Following the sequencer's unsafe blocks before L1 has them.

Fetching runs in a worker thread (the block headers, then every raw transaction in one batch
per block range); importing runs on the event loop: each block is executed on the node's head
with the same block session as everything else and kept only if it re-executes to the hash the
sequencer gave. Derivation later confirms (consolidates) or replaces these blocks. Nothing at
or below the safe head is ever replaced from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import rlp
from eth.abc import SignedTransactionAPI

from node.block_session import Applied
from node.chain import Chain
from node.deposit_tx import DEPOSIT_TX_TYPE
from node.derivation.jsonrpc import JsonRpcClient
from node.exceptions import InvalidTransaction
from node.heads import ChainHeads
from node.rewind import rewind
from node.transactions import TransactionBuilder, admit
from openledger.types import Address

log = logging.getLogger(__name__)

FOLLOW_BATCH = 16
"""Sequencer blocks fetched (and executed, on the event loop) per round."""


@dataclass(frozen=True)
class RemoteBlock:
    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    transactions: tuple[bytes, ...]
    """Raw transactions, deposits included, in block order."""


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def fetch_blocks(client: JsonRpcClient, start: int, limit: int = FOLLOW_BATCH) -> list[RemoteBlock]:
    """The sequencer's blocks from ``start`` (at most ``limit``), with raw transactions."""
    head = int(client.call("eth_blockNumber", []), 16)
    numbers = range(start, min(head, start + limit - 1) + 1)
    raws = client.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    headers = [raw for raw in raws if raw is not None]
    hashes = [tx_hash for header in headers for tx_hash in header["transactions"]]
    bodies = iter(client.batch([("eth_getRawTransactionByHash", [h]) for h in hashes]))
    blocks = []
    for header in headers:
        transactions = tuple(_bytes(next(bodies) or "0x") for _ in header["transactions"])
        blocks.append(
            RemoteBlock(
                number=int(header["number"], 16),
                hash=_bytes(header["hash"]),
                parent_hash=_bytes(header["parentHash"]),
                timestamp=int(header["timestamp"], 16),
                transactions=transactions,
            )
        )
    return blocks


def decode_block_transaction(raw: bytes, chain_id: int) -> SignedTransactionAPI:
    """A transaction of a sequenced block: a deposit as it is (its sender is in it), any other
    one checked and its sender recovered as at admission."""
    if raw[:1] == bytes([DEPOSIT_TX_TYPE]):
        return TransactionBuilder.decode(raw)
    return admit(raw, chain_id).tx


class UnsafeFollower:
    def __init__(self, chain: Chain, heads: ChainHeads) -> None:
        self.chain = chain
        self.heads = heads
        self.imported = 0

    def next_number(self) -> int:
        return self.chain.head.block_number + 1

    def import_blocks(self, blocks: list[RemoteBlock]) -> int:
        """Execute and commit ``blocks`` in order while they extend the head; return how many."""
        count = 0
        for block in blocks:
            if block.parent_hash != self.chain.head.hash:
                safe = self.heads.safe
                if self.chain.head.block_number > safe.block_number:
                    log.warning(
                        "sequencer block %d does not extend our unsafe head: back to safe %d",
                        block.number,
                        safe.block_number,
                    )
                    rewind(self.chain, safe)
                else:
                    log.warning(
                        "sequencer block %d does not extend the safe head %d: not followed",
                        block.number,
                        safe.block_number,
                    )
                return count
            if not self._execute(block):
                return count
            count += 1
        self.imported += count
        return count

    def _execute(self, block: RemoteBlock) -> bool:
        chain = self.chain
        chain_id = chain.config.chain.chain_id
        session = chain.open_block(block.timestamp)
        try:
            for raw in block.transactions:
                tx = decode_block_transaction(raw, chain_id)
                result = session.apply(tx, Address(tx.sender))
                if not isinstance(result, Applied):
                    raise InvalidTransaction(result.reason)
            sealed = session.seal()
        except (InvalidTransaction, ValueError, rlp.exceptions.RLPException) as exc:
            chain.abandon()
            log.warning("sequencer block %d rejected: %s", block.number, exc)
            return False
        if sealed.header.hash != block.hash:
            chain.abandon()
            log.warning(
                "sequencer block %d re-executes to %s, not %s: rejected",
                block.number,
                sealed.header.hash.hex()[:16],
                block.hash.hex()[:16],
            )
            return False
        chain.commit(sealed)
        return True
