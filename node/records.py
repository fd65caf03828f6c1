"""What the node stores per block besides py-evm's own schema: the body and the receipts.

py-evm keeps headers, the canonical chain and the tx-hash -> (block, index) lookup. The body and
the receipts are stored here as one record each, keyed by block hash, so that serving a block or
a receipt is one read rather than one trie walk per transaction. Senders are stored with the
receipts because they were recovered at admission and are needed for every RPC answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import ReceiptAPI, SignedTransactionAPI

from node.deposit_tx import OpenLedgerReceiptBuilder, deposit_receipt, is_deposit
from node.transactions import TransactionBuilder, pin_sender, transaction_type
from openledger.types import Address, Hash32

BODY_PREFIX = b"ol:body:"
RECEIPTS_PREFIX = b"ol:rcpt:"


def body_key(block_hash: bytes) -> bytes:
    return BODY_PREFIX + block_hash


def receipts_key(block_hash: bytes) -> bytes:
    return RECEIPTS_PREFIX + block_hash


@dataclass(frozen=True)
class TransactionOutcome:
    """One included transaction with everything an RPC receipt needs."""

    tx: SignedTransactionAPI
    sender: Address
    receipt: ReceiptAPI
    gas_used: int
    """Gas of this transaction alone (the receipt holds the cumulative figure)."""
    log_index_start: int
    """Block-wide index of this transaction's first log."""

    @property
    def nonce(self) -> int:
        """The sender's nonce the transaction used; a deposit's is in its receipt."""
        if is_deposit(self.tx):
            return int(deposit_receipt(self.receipt).deposit_nonce)
        return int(self.tx.nonce)

    @property
    def contract_address(self) -> Address | None:
        if self.tx.to:
            return None
        return Address(generate_contract_address(self.sender, self.nonce))

    @property
    def hash(self) -> Hash32:
        return Hash32(self.tx.hash)


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    """What the sender paid per gas: EIP-1559's min(max fee, base fee + priority fee)."""
    if transaction_type(tx) in (0, 1):
        return tx.gas_price
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def encode_body(transactions: tuple[SignedTransactionAPI, ...]) -> bytes:
    return rlp.encode([tx.encode() for tx in transactions])


def decode_body(data: bytes) -> list[SignedTransactionAPI]:
    return [TransactionBuilder.decode(raw) for raw in rlp.decode(data)]


def encode_receipts(senders: list[Address], receipts: tuple[ReceiptAPI, ...]) -> bytes:
    return rlp.encode(
        [[sender, receipt.encode()] for sender, receipt in zip(senders, receipts, strict=True)]
    )


def decode_outcomes(body: bytes, receipts_record: bytes) -> list[TransactionOutcome]:
    """Rebuild the per-transaction outcomes of a block from its two records."""
    transactions = decode_body(body)
    outcomes = []
    previous_cumulative = 0
    log_index = 0
    for tx, (sender, encoded) in zip(transactions, rlp.decode(receipts_record), strict=True):
        receipt = OpenLedgerReceiptBuilder.decode(encoded)
        pin_sender(tx, Address(sender))
        outcomes.append(
            TransactionOutcome(
                tx=tx,
                sender=Address(sender),
                receipt=receipt,
                gas_used=receipt.gas_used - previous_cumulative,
                log_index_start=log_index,
            )
        )
        previous_cumulative = receipt.gas_used
        log_index += len(receipt.logs)
    return outcomes
