"""The OP Stack deposit transaction (type ``0x7E``) and its receipt, as py-evm payloads.

A deposit is not signed: its sender is whoever the L1 portal (or, for the L1-attributes
transaction, the protocol) says it is, and its identity is ``sourceHash``, which makes every
deposit unique. Encoding, as in the OP specs (``deposits.md``)::

    0x7E || rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data])

``to`` is empty for a contract creation. The receipt (Canyon's)::

    0x7E || rlp([status, cumulativeGasUsed, logsBloom, logs, depositNonce, depositReceiptVersion])

``depositNonce`` is the sender's nonce before the deposit ran, which is the only place it is
recorded: a deposit carries no nonce of its own. Execution rules live in ``node.state``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rlp
from eth.abc import ReceiptAPI, SignedTransactionAPI, TransactionDecoderAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.rlp.sedes import address as optional_address
from eth.rlp.sedes import uint256
from eth.vm.forks.berlin.transactions import calculate_txn_intrinsic_gas_berlin
from eth.vm.forks.prague.receipts import PragueReceiptBuilder, PragueTypedReceipt
from eth.vm.forks.prague.transactions import PragueTransactionBuilder, PragueTypedTransaction
from rlp.sedes import Binary, CountableList, big_endian_int, binary, boolean

from openledger.types import Address, Hash32

DEPOSIT_TX_TYPE = 0x7E
DEPOSIT_RECEIPT_VERSION = 1
"""Canyon's receipt version: the receipt carries ``depositReceiptVersion``."""

hash32 = Binary.fixed_length(32)
address20 = Binary.fixed_length(20)


class DepositTransaction(rlp.Serializable):
    """The payload of a type-``0x7E`` transaction (wrapped by :class:`DepositTypedTransaction`).

    It answers the fee and signature questions py-evm asks of every transaction with zero:
    a deposit pays no gas fee (its gas was paid for on L1) and has no signature.
    """

    fields = [
        ("source_hash", hash32),
        ("from_address", address20),
        ("to", optional_address),
        ("mint", big_endian_int),
        ("value", big_endian_int),
        ("gas", big_endian_int),
        ("is_system_tx", boolean),
        ("data", binary),
    ]

    source_hash: bytes
    from_address: bytes
    to: bytes
    mint: int
    value: int
    gas: int
    is_system_tx: bool
    data: bytes

    gas_price = 0
    max_fee_per_gas = 0
    max_priority_fee_per_gas = 0
    max_fee_per_blob_gas = 0
    blob_versioned_hashes: tuple[Hash32, ...] = ()
    access_list: tuple[tuple[Address, tuple[int, ...]], ...] = ()
    authorization_list: tuple[Any, ...] = ()
    chain_id = None
    y_parity = 0
    r = 0
    s = 0

    def get_sender(self) -> Address:
        return Address(self.from_address)

    def check_signature_validity(self) -> None:
        """Nothing to check: a deposit's sender is attested by L1, not by a signature."""

    def validate(self) -> None:
        """Deposits are valid by construction (derived from L1); execution decides success."""

    def get_intrinsic_gas(self) -> int:
        """Prague's intrinsic gas of the same call (no access list): op-geth charges it too."""
        return calculate_txn_intrinsic_gas_berlin(self)

    @property
    def intrinsic_gas(self) -> int:
        return self.get_intrinsic_gas()

    @property
    def is_creation(self) -> bool:
        return self.to == CREATE_CONTRACT_ADDRESS

    def encode(self) -> bytes:
        return rlp.encode(self)


class DepositPayloadDecoder(TransactionDecoderAPI):
    @classmethod
    def decode(cls, payload: bytes) -> SignedTransactionAPI:
        return rlp.decode(payload, sedes=DepositTransaction)  # type: ignore[no-any-return]


class DepositReceipt(Receipt):
    """A receipt with the two deposit fields appended (OP Canyon)."""

    fields = [
        ("state_root", binary),
        ("gas_used", big_endian_int),
        ("bloom", uint256),
        ("logs", CountableList(Log)),
        ("deposit_nonce", big_endian_int),
        ("deposit_receipt_version", big_endian_int),
    ]

    deposit_nonce: int
    deposit_receipt_version: int

    def __init__(
        self,
        state_root: bytes,
        gas_used: int,
        logs: Iterable[Log],
        deposit_nonce: int,
        deposit_receipt_version: int = DEPOSIT_RECEIPT_VERSION,
        bloom: int | None = None,
    ) -> None:
        logs = tuple(logs)
        if bloom is None:
            bloom = int(Receipt(state_root, gas_used, logs).bloom)
        rlp.Serializable.__init__(
            self,
            state_root=state_root,
            gas_used=gas_used,
            bloom=bloom,
            logs=logs,
            deposit_nonce=deposit_nonce,
            deposit_receipt_version=deposit_receipt_version,
        )


class OpenLedgerTypedReceipt(PragueTypedReceipt):
    codecs = {**PragueTypedReceipt.codecs, DEPOSIT_TX_TYPE: DepositReceipt}


class OpenLedgerReceiptBuilder(PragueReceiptBuilder):
    """Prague's receipts plus the deposit receipt."""

    typed_receipt_class = OpenLedgerTypedReceipt


class OpenLedgerTypedTransaction(PragueTypedTransaction):
    """Prague's typed transactions plus the deposit."""

    decoders = {**PragueTypedTransaction.decoders, DEPOSIT_TX_TYPE: DepositPayloadDecoder}
    receipt_builder = OpenLedgerReceiptBuilder


class OpenLedgerTransactionBuilder(PragueTransactionBuilder):
    """Decodes every transaction of an L2 block, deposits included."""

    typed_transaction = OpenLedgerTypedTransaction


def is_deposit(tx: SignedTransactionAPI) -> bool:
    return getattr(tx, "type_id", None) == DEPOSIT_TX_TYPE


def deposit_payload(tx: SignedTransactionAPI) -> DepositTransaction:
    """The deposit fields of a type-``0x7E`` transaction."""
    inner = getattr(tx, "_inner", None)
    if not isinstance(inner, DepositTransaction):
        raise TypeError("not a deposit transaction")
    return inner


def deposit_receipt(receipt: ReceiptAPI) -> DepositReceipt:
    """The deposit fields of a type-``0x7E`` receipt."""
    inner = getattr(receipt, "_inner", None)
    if not isinstance(inner, DepositReceipt):
        raise TypeError("not a deposit receipt")
    return inner


def make_deposit(
    *,
    source_hash: bytes,
    sender: bytes,
    to: bytes | None,
    mint: int,
    value: int,
    gas: int,
    data: bytes,
    is_system_tx: bool = False,
) -> SignedTransactionAPI:
    """A deposit transaction; ``to=None`` creates a contract."""
    payload = DepositTransaction(
        source_hash=source_hash,
        from_address=sender,
        to=to if to is not None else CREATE_CONTRACT_ADDRESS,
        mint=mint,
        value=value,
        gas=gas,
        is_system_tx=is_system_tx,
        data=data,
    )
    return OpenLedgerTypedTransaction(DEPOSIT_TX_TYPE, payload)  # type: ignore[arg-type]
