"""Execution rules of the L2 on top of Prague: deposits (type ``0x7E``) and the L1 data fee.

Deposits, as OP post-Regolith executes them (``deposits.md``):

- ``mint`` is credited to ``from`` first, outside the call's snapshot, so it stays even when
  the call fails;
- no signature, no nonce or balance check; the sender's nonce is still incremented;
- no gas is bought, nothing is refunded and nothing goes to the coinbase (gas price 0), but the
  gas used is accounted as for any transaction and counts against the block;
- a deposit that cannot even start (gas below its intrinsic or EIP-7623 floor gas) is still
  included: mint and nonce applied, status 0, its whole gas limit used;
- a deposit whose ``value`` exceeds the sender's balance after the mint fails (status 0) with
  only its intrinsic gas used, as op-geth's failed value transfer returns the call's gas.

Every other transaction pays the L1 data fee (``node.l1_fee``) on top of gas: checked with the
upfront balance, taken from the sender before execution, kept whatever the outcome, and
credited to the L1 fee vault. ``eth_call`` and ``eth_estimateGas`` run a ``SpoofTransaction``,
which pays no L1 fee (as in op-geth).
"""

from __future__ import annotations

from eth.abc import ComputationAPI, MessageAPI, SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import OutOfGas, VMError
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.message import Message
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

from node.account_db import BatchedAccountDB
from node.deposit_tx import deposit_payload, is_deposit
from node.l1_fee import L1FeeParams, compressed_size
from openledger.contracts.predeploys import L1_FEE_VAULT_ADDRESS


def deposit_minimum_gas(tx: SignedTransactionAPI) -> int:
    """The least gas a deposit needs to run: intrinsic gas and Prague's calldata floor."""
    return max(tx.intrinsic_gas, PragueTransactionExecutor.calc_data_floor_gas(tx, 0, 0))


class DepositValueExceedsBalance(VMError):
    """The deposit sends more than its sender holds: the call fails, its gas is not burnt."""

    burns_gas = False


class L1FeeTransactionExecutor(PragueTransactionExecutor):
    """Prague's executor, plus the L1 data fee for signed (non-spoofed) transactions."""

    l1_fee = 0

    def __call__(self, transaction: SignedTransactionAPI) -> ComputationAPI:
        if not isinstance(transaction, SpoofTransaction):
            params = L1FeeParams.from_state(self.vm_state)
            self.l1_fee = params.fee(compressed_size(transaction))
        return super().__call__(transaction)

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        super().validate_transaction(transaction)
        if not self.l1_fee:
            return
        cost = transaction.gas * transaction.max_fee_per_gas + transaction.value + self.l1_fee
        balance = self.vm_state.get_balance(transaction.sender)
        if balance < cost:
            raise ValidationError(
                f"insufficient funds for gas * price + value + l1 fee: have {balance} want {cost}"
            )

    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        self.vm_state.delta_balance(transaction.sender, -self.l1_fee)
        return super().build_evm_message(transaction)

    def finalize_computation(
        self, transaction: SignedTransactionAPI, computation: ComputationAPI
    ) -> ComputationAPI:
        computation = super().finalize_computation(transaction, computation)
        if self.l1_fee:
            self.vm_state.delta_balance(L1_FEE_VAULT_ADDRESS, self.l1_fee)
        return computation


class DepositTransactionExecutor(PragueTransactionExecutor):
    """Runs a type-``0x7E`` transaction (see the module docstring)."""

    def __call__(self, transaction: SignedTransactionAPI) -> ComputationAPI:
        if transaction.gas < deposit_minimum_gas(transaction):
            return self._failed_before_start(transaction)
        return super().__call__(transaction)

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        """No nonce, balance or fee checks: L1 already accepted the deposit."""

    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        """Mint, then Prague's message (gas price 0: buys no gas; increments the nonce)."""
        self.vm_state.delta_balance(transaction.sender, deposit_payload(transaction).mint)
        return super().build_evm_message(transaction)

    def build_computation(
        self, message: MessageAPI, transaction: SignedTransactionAPI
    ) -> ComputationAPI:
        """Prague's, except that an unaffordable value fails the deposit instead of raising
        (a signed transaction's balance check happens before; a deposit has none)."""
        balance = self.vm_state.get_balance(message.sender)
        if message.value <= balance:
            return super().build_computation(message, transaction)
        computation = self.vm_state.get_computation(
            message, self.vm_state.get_transaction_context(transaction)
        )
        computation.error = DepositValueExceedsBalance(
            f"deposit value {message.value} exceeds the balance {balance}"
        )
        return computation

    def finalize_computation(
        self, transaction: SignedTransactionAPI, computation: ComputationAPI
    ) -> ComputationAPI:
        """Gas accounting (refund counter, EIP-7623 floor) without paying anyone."""
        gas_used = transaction.gas - computation.get_gas_remaining()
        gas_refund = self.calculate_gas_refund(computation, gas_used)
        computation.data_floor_gas = self.calc_data_floor_gas(transaction, gas_used, gas_refund)
        for account in computation.get_accounts_for_deletion():
            self.vm_state.delete_account(account)
        return computation

    def _failed_before_start(self, transaction: SignedTransactionAPI) -> ComputationAPI:
        """Mint and bump the nonce, run nothing, and report all gas used with an error."""
        sender = transaction.sender
        self.vm_state.delta_balance(sender, deposit_payload(transaction).mint)
        self.vm_state.increment_nonce(sender)
        message = Message(
            gas=0,
            to=transaction.to or CREATE_CONTRACT_ADDRESS,
            sender=sender,
            value=0,
            data=b"",
            code=b"",
        )
        computation = self.vm_state.get_computation(
            message, self.vm_state.get_transaction_context(transaction)
        )
        computation.error = OutOfGas("deposit gas below its intrinsic gas")
        return computation


class OpenLedgerState(PragueState):
    """Prague's state with the L2's two transaction rules."""

    transaction_executor_class = L1FeeTransactionExecutor
    account_db_class = BatchedAccountDB  # the account trie updated in one pass per block

    def apply_transaction(self, transaction: SignedTransactionAPI) -> ComputationAPI:
        if is_deposit(transaction):
            return DepositTransactionExecutor(self)(transaction)
        return super().apply_transaction(transaction)
