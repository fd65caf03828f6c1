"""Building one block: open on a parent, apply transactions one at a time, seal.

The sequencer drives a session with transactions from its mempool; a verifier (rollup derivation)
drives one with the transactions of a batch. Either way the state root is computed once, at
:meth:`BlockSession.seal`, never per transaction, and nothing reaches disk here: the session writes
into the chain's staged store and :meth:`node.chain.Chain.commit` persists the block in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth_utils import ValidationError

from node.records import TransactionOutcome
from node.vm import OpenLedgerVM
from openledger.types import Address


@dataclass(frozen=True)
class Applied:
    """The transaction is in the block."""

    outcome: TransactionOutcome


@dataclass(frozen=True)
class Skipped:
    """The transaction cannot go in this block; ``reason`` says why.

    ``fatal`` is true when it can never be included (a stale nonce, an unaffordable fee): the
    pool should drop it. Otherwise (no gas left in this block) it waits for the next block.
    """

    reason: str
    fatal: bool


ApplyResult = Applied | Skipped


@dataclass(frozen=True)
class SealedBlock:
    block: BlockAPI
    outcomes: tuple[TransactionOutcome, ...]

    @property
    def header(self) -> BlockHeaderAPI:
        return self.block.header


class BlockSession:
    """One block under construction on top of ``parent``."""

    def __init__(self, vm: OpenLedgerVM, template: BlockHeaderAPI) -> None:
        self._vm = vm
        self._header = template
        self._transactions: list[SignedTransactionAPI] = []
        self._receipts: list[ReceiptAPI] = []
        self._outcomes: list[TransactionOutcome] = []
        self._log_count = 0
        vm.block_preprocessing(vm.get_block())

    @property
    def base_fee(self) -> int:
        return self._header.base_fee_per_gas

    @property
    def gas_remaining(self) -> int:
        return self._header.gas_limit - self._header.gas_used

    def apply(self, tx: SignedTransactionAPI, sender: Address) -> ApplyResult:
        """Execute ``tx`` (sender already recovered and pinned) on top of what is applied."""
        if tx.gas > self.gas_remaining:
            return Skipped("gas limit reached", fatal=False)
        try:
            receipt = self._vm.apply_block_transaction(self._header, tx)
        except ValidationError as exc:
            # py-evm validates nonce, balance and fee caps before it changes any state.
            return Skipped(str(exc), fatal=True)
        gas_used = receipt.gas_used - self._header.gas_used
        self._header = self._vm.add_receipt_to_header(self._header, receipt)
        outcome = TransactionOutcome(
            tx=tx,
            sender=sender,
            receipt=receipt,
            gas_used=gas_used,
            log_index_start=self._log_count,
        )
        self._log_count += len(receipt.logs)
        self._transactions.append(tx)
        self._receipts.append(receipt)
        self._outcomes.append(outcome)
        return Applied(outcome)

    def seal(self) -> SealedBlock:
        """Compute the roots (the only state-root computation of the block) and return it."""
        vm = self._vm
        filled = vm.set_block_transactions_and_withdrawals(
            vm.get_block(),
            self._header,
            self._transactions,
            self._receipts,
            withdrawals=[],
        )
        processed = vm.block_postprocessing(filled)
        block = vm.mine_block(processed).block
        return SealedBlock(block=block, outcomes=tuple(self._outcomes))
