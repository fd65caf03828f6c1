"""Decoding and stateless checks of signed transactions, and the one-time sender recovery.

Admission (the mempool) decodes a raw transaction, checks what needs no state, and recovers the
sender once; :func:`pin_sender` then fixes the sender on the transaction object so that py-evm,
which otherwise recovers and verifies the signature on every ``.sender`` access and again in
``validate()``, never repeats that work while the block is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import rlp
from eth.abc import SignedTransactionAPI
from eth_utils import ValidationError

from node.deposit_tx import DEPOSIT_TX_TYPE, OpenLedgerTransactionBuilder
from node.exceptions import InvalidTransaction
from node.l1_fee import compressed_size, remember_compressed_size
from node.sender_worker import Recovered
from node.signer import SignatureError, recover_address
from openledger.types import Address, Hash32

SUPPORTED_TYPES = frozenset({0, 1, 2, 4})
"""Legacy, EIP-2930, EIP-1559 and EIP-7702. Blob transactions (3) have no place on an L2;
deposits (0x7E) come only from L1, through the block builder."""

TransactionBuilder = OpenLedgerTransactionBuilder


@dataclass(frozen=True)
class AdmittedTransaction:
    """A decoded transaction whose signature has been checked once, at admission."""

    tx: SignedTransactionAPI
    """The py-evm transaction, sender pinned."""
    sender: Address
    """Recovered once from the signature."""
    raw: bytes
    """The bytes as received: what the journal stores and ``eth_getRawTransaction`` returns."""

    @property
    def hash(self) -> Hash32:
        return Hash32(self.tx.hash)

    @property
    def nonce(self) -> int:
        return self.tx.nonce

    @cached_property
    def upfront_cost(self) -> int:
        """geth's ``tx.Cost()``: gas * fee cap + value; the L1 data fee comes on top."""
        return self.tx.gas * self.tx.max_fee_per_gas + self.tx.value

    @property
    def compressed_size(self) -> int:
        """FastLZ length of the raw bytes: what the L1 data fee is priced on (computed once)."""
        return compressed_size(self.tx)


def transaction_type(tx: SignedTransactionAPI) -> int:
    return getattr(tx, "type_id", None) or 0


def decode_transaction(raw: bytes) -> SignedTransactionAPI:
    """Decode EIP-2718 bytes (a typed envelope or a legacy RLP list)."""
    if not raw:
        raise InvalidTransaction("empty transaction")
    if raw[0] == DEPOSIT_TX_TYPE:
        raise InvalidTransaction(
            "deposit transactions (type 0x7e) cannot be submitted: they are made from L1 deposits"
        )
    if raw[0] <= 0x7F and raw[0] not in SUPPORTED_TYPES:
        raise InvalidTransaction("transaction type not supported")
    try:
        return TransactionBuilder.decode(raw)
    except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError) as exc:
        raise InvalidTransaction(f"invalid transaction encoding: {exc}") from exc


def pin_sender(tx: SignedTransactionAPI, sender: Address) -> None:
    """Make ``tx.sender`` return ``sender`` and skip re-verifying the signature.

    py-evm exposes no cache for the recovered sender, so the bound methods are shadowed on this
    instance (and on the inner payload of a typed transaction, which ``validate()`` uses).
    """
    targets = [tx]
    inner = getattr(tx, "_inner", None)
    if inner is not None:
        targets.append(inner)
    for target in targets:
        object.__setattr__(target, "get_sender", lambda: sender)
        object.__setattr__(target, "check_signature_validity", lambda: None)


def recover_sender(tx: SignedTransactionAPI, raw: bytes, chain_id: int) -> Address:
    """Check the signature's form and chain id, recover the signer from ``raw`` (the bytes
    ``tx`` was decoded from) and return it.

    Recovery alone suffices: a recovered key always verifies the signature it came from, so
    py-evm's check_signature_validity (recover, then verify) would do the work twice.
    """
    check_chain_id(tx, chain_id)
    try:
        return Address(recover_address(raw, *signature_of(tx)))
    except SignatureError as exc:
        raise InvalidTransaction(f"invalid sender: {exc}") from exc


def check_chain_id(tx: SignedTransactionAPI, chain_id: int) -> None:
    tx_chain_id = _chain_id_of(tx)
    if tx_chain_id is not None and tx_chain_id != chain_id:
        raise InvalidTransaction(f"invalid chain id for signer: have {tx_chain_id} want {chain_id}")


def signature_of(tx: SignedTransactionAPI) -> tuple[int, int, int]:
    """(v or y parity, r, s) as they are encoded."""
    return (tx.v if transaction_type(tx) == 0 else tx.y_parity), tx.r, tx.s


def _chain_id_of(tx: SignedTransactionAPI) -> int | None:
    """The chain id the signature commits to; ``None`` for a pre-EIP-155 legacy transaction."""
    if transaction_type(tx) != 0:
        return tx.chain_id
    if tx.v in (27, 28):
        return None
    return (tx.v - 35) // 2


def admit(raw: bytes, chain_id: int) -> AdmittedTransaction:
    """Decode, verify, pin, and compress once for the L1 fee: the stateless half of admission."""
    tx = decode_transaction(raw)
    sender = recover_sender(tx, raw, chain_id)
    pin_sender(tx, sender)
    compressed_size(tx)
    return AdmittedTransaction(tx=tx, sender=sender, raw=raw)


def admit_recovered(raw: bytes, chain_id: int, recovered: Recovered) -> AdmittedTransaction:
    """:func:`admit`, for bytes whose sender and FastLZ length another process has already
    computed (``node.sender_worker``, during derivation). The sender is used only if it was
    recovered from the very signature this process decodes; anything else is admitted here,
    which raises the error :func:`admit` raises."""
    sender, signature, flz_length = recovered
    tx = decode_transaction(raw)
    if sender is None or signature != signature_of(tx):
        return admit(raw, chain_id)
    check_chain_id(tx, chain_id)
    pin_sender(tx, Address(sender))
    remember_compressed_size(tx, flz_length)
    return AdmittedTransaction(tx=tx, sender=Address(sender), raw=raw)
