"""Plain value transfers without the EVM machinery: the same state, receipt and errors, less work.

A transaction with no data and no access list, sent to an account that has no code and is not a
precompile, runs no code. py-evm still builds a message and a computation, snapshots the
journal, and writes the sender's account five times (L1 fee, gas purchase, nonce, value,
refund), each write a deep copy and an RLP encoding of the account: for a block of transfers
that was most of the execution time. Here the same effects are applied with one write per
account. Nothing else differs:

- validation is py-evm's own (``L1FeeTransactionExecutor.validate_transaction``: signature
  form, intrinsic gas, fee caps against the base fee, nonce, EIP-3607, and the balance for gas,
  value and L1 fee), so an invalid transfer raises the error the full path raises;
- the sender pays the L1 fee and 21,000 gas at the effective price (py-evm buys all the gas and
  refunds the unused part: the same net), the recipient gets the value, the coinbase the tip
  on 21,000 gas, the L1 fee vault the L1 fee;
- the recipient and the coinbase are touched, so an empty one is removed (EIP-161), as the
  full path removes them.

``tests/node/test_plain_transfer.py`` runs random transfers both ways (value 0, to oneself, to
the coinbase and the fee vault, to absent accounts, unaffordable ones) and compares state roots,
receipts and errors.
"""

from __future__ import annotations

from eth.abc import ReceiptAPI, SignedTransactionAPI
from eth.constants import EMPTY_SHA3
from eth.rlp.accounts import Account
from eth.vm.forks.byzantium.constants import EIP658_TRANSACTION_STATUS_CODE_SUCCESS

from node.l1_fee import L1FeeParams, compressed_size
from node.state import L1FeeTransactionExecutor, OpenLedgerState
from openledger.contracts.predeploys import L1_FEE_VAULT_ADDRESS

TRANSFER_GAS = 21_000
"""Intrinsic gas of a transaction without data or access list, which is all a transfer uses
(EIP-7623's floor for empty calldata is the same 21,000)."""

PLAIN_TYPES = frozenset({0, 2})
"""Legacy and EIP-1559 transactions; the others carry access lists, blobs or authorizations."""

PRECOMPILES = frozenset(OpenLedgerState.computation_class.get_precompiles())
"""Sending value to a precompile runs it, so such a transaction takes the full path."""


def is_plain_transfer(tx: SignedTransactionAPI) -> bool:
    """Stateless half of the test: no data, no access list, a recipient that is no precompile,
    enough gas (the full path reports too little in its own words).

    The other half, that the recipient has no code, needs the state (:func:`apply_plain_transfer`).
    """
    return (
        (getattr(tx, "type_id", None) or 0) in PLAIN_TYPES
        and tx.gas >= TRANSFER_GAS
        and not tx.data
        and bool(tx.to)
        and tx.to not in PRECOMPILES
        and not getattr(tx, "access_list", ())
    )


def apply_plain_transfer(
    state: OpenLedgerState, tx: SignedTransactionAPI, cumulative_gas_before: int
) -> ReceiptAPI | None:
    """Apply ``tx`` (which :func:`is_plain_transfer` accepted) and return its receipt; ``None``,
    having changed nothing, when the recipient has code and the full path must run it.

    Raises py-evm's ``ValidationError`` for an invalid transaction, changing nothing.
    """
    accounts = state._account_db
    if accounts.get_code_hash(tx.to) != EMPTY_SHA3:
        return None
    executor = L1FeeTransactionExecutor(state)
    l1_fee = L1FeeParams.from_state(state).fee(compressed_size(tx))
    executor.l1_fee = l1_fee
    executor.validate_transaction(tx)

    sender = tx.sender
    price = state.get_gas_price(tx)
    tip = state.get_tip(tx)
    paid = account_of(accounts, sender)
    accounts._set_account(
        sender,
        Account(
            paid.nonce + 1,
            paid.balance - l1_fee - TRANSFER_GAS * price - tx.value,
            paid.storage_root,
            paid.code_hash,
        ),
    )
    credit(accounts, tx.to, tx.value)
    coinbase = state.coinbase
    credit(accounts, coinbase, TRANSFER_GAS * tip)
    if l1_fee:
        credit(accounts, L1_FEE_VAULT_ADDRESS, l1_fee)
    for touched in {coinbase, tx.to}:
        if accounts.account_exists(touched) and accounts.account_is_empty(touched):
            state.delete_account(touched)
    return tx.make_receipt(
        EIP658_TRANSACTION_STATUS_CODE_SUCCESS, cumulative_gas_before + TRANSFER_GAS, ()
    )


def account_of(accounts: object, address: bytes) -> Account:
    """The journal's current account (an empty one when absent), without py-evm's checks."""
    return accounts._get_account(address)  # type: ignore[attr-defined, no-any-return]


def credit(accounts: object, address: bytes, amount: int) -> None:
    """Add ``amount`` (possibly 0: the account is still touched, as ``delta_balance`` does)."""
    account = account_of(accounts, address)
    accounts._set_account(  # type: ignore[attr-defined]
        address,
        Account(account.nonce, account.balance + amount, account.storage_root, account.code_hash),
    )
