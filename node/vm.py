"""The execution rules of the L2: Prague plus deposits and the L1 data fee (``node.state``),
with the chain id and header template of this network."""

from __future__ import annotations

from collections.abc import Sequence

from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    ChainContextAPI,
    ComputationAPI,
    ReceiptAPI,
    SignedTransactionAPI,
    WithdrawalAPI,
)
from eth.chains.base import ChainContext
from eth.constants import BLANK_ROOT_HASH, ZERO_HASH32
from eth.rlp.logs import Log
from eth.vm.forks.byzantium.constants import (
    EIP658_TRANSACTION_STATUS_CODE_FAILURE,
    EIP658_TRANSACTION_STATUS_CODE_SUCCESS,
)
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.prague.constants import DEPOSIT_REQUEST_TYPE
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth_hash.auto import keccak
from eth_utils import ValidationError
from rlp.sedes import CountableList

from node.deposit_tx import (
    DEPOSIT_TX_TYPE,
    DepositReceipt,
    OpenLedgerReceiptBuilder,
    OpenLedgerTransactionBuilder,
    OpenLedgerTypedReceipt,
    is_deposit,
)
from node.plain_transfer import apply_plain_transfer, is_plain_transfer
from node.state import OpenLedgerState
from node.trie_root import ordered_trie_root
from openledger.config import NetworkConfig


class OpenLedgerBlock(PragueBlock):
    """A Prague block that also carries deposit transactions.

    Its ``copy`` shares the (immutable) transactions instead of cloning them.

    Sealing copies the block three times (requests hash, pack, state root); rlp's ``copy``
    deep-copies every field not overridden, which for a 1,000-transaction block cost a quarter
    of the sealing time. Transactions, uncles and withdrawals are never mutated, so sharing them
    is safe.
    """

    transaction_builder = OpenLedgerTransactionBuilder
    receipt_builder = OpenLedgerReceiptBuilder
    fields = [
        ("header", PragueBlockHeader),
        ("transactions", CountableList(OpenLedgerTransactionBuilder)),
        ("uncles", CountableList(None, max_length=0)),
        ("withdrawals", CountableList(Withdrawal)),
    ]

    def copy(self, **overrides: object) -> OpenLedgerBlock:
        fields = {name: overrides.pop(name, getattr(self, name)) for name in self._meta.field_names}
        if overrides:
            raise TypeError(f"unknown block fields: {', '.join(overrides)}")
        return type(self)(**fields)


class OpenLedgerVM(PragueVM):
    """Prague (the newest fork py-evm implements) with no proof of work or stake to check.

    Blocks come from one sequencer; their validity is re-execution, which every node does.
    """

    fork = "openledger-prague"
    block_class = OpenLedgerBlock
    _state_class = OpenLedgerState

    def apply_block_transaction(
        self, header: BlockHeaderAPI, transaction: SignedTransactionAPI
    ) -> ReceiptAPI:
        """``apply_transaction``'s receipt, by ``node.plain_transfer``'s shorter path for a
        transaction that runs no code: what building and deriving blocks use."""
        if is_plain_transfer(transaction):
            self.validate_transaction_against_header(header, transaction)
            self.state.lock_changes()
            receipt = apply_plain_transfer(self.state, transaction, header.gas_used)
            if receipt is not None:
                return receipt
        return self.apply_transaction(header, transaction)[0]

    def apply_transaction(
        self, header: BlockHeaderAPI, transaction: SignedTransactionAPI
    ) -> tuple[ReceiptAPI, ComputationAPI]:
        """Deposits get a deposit receipt, which records the sender's nonce before the run."""
        if not is_deposit(transaction):
            return super().apply_transaction(header, transaction)
        self.validate_transaction_against_header(header, transaction)
        self.state.lock_changes()
        nonce = self.state.get_nonce(transaction.sender)
        computation = self.state.apply_transaction(transaction)
        status = (
            EIP658_TRANSACTION_STATUS_CODE_FAILURE
            if computation.is_error
            else EIP658_TRANSACTION_STATUS_CODE_SUCCESS
        )
        receipt = DepositReceipt(
            state_root=status,
            gas_used=header.gas_used + self.finalize_gas_used(transaction, computation),
            logs=[
                Log(address, topics, data)
                for address, topics, data in computation.get_log_entries()
            ],
            deposit_nonce=nonce,
        )
        return OpenLedgerTypedReceipt(DEPOSIT_TX_TYPE, receipt), computation

    def set_block_transactions_and_withdrawals(
        self,
        base_block: BlockAPI,
        new_header: BlockHeaderAPI,
        transactions: Sequence[SignedTransactionAPI],
        receipts: Sequence[ReceiptAPI],
        withdrawals: Sequence[WithdrawalAPI] | None = None,
    ) -> BlockAPI:
        """Set the roots without writing the tries: bodies and receipts are stored as records.

        An L2 block has no beacon-chain withdrawals, so the withdrawals root is the empty one.
        """
        if withdrawals:
            raise ValidationError("an L2 block carries no beacon-chain withdrawals")
        encoded = tuple(tx.encode() for tx in transactions)
        self._built_transactions = (encoded, ordered_trie_root(encoded))
        header = new_header.copy(
            transaction_root=self._built_transactions[1],
            receipt_root=ordered_trie_root([receipt.encode() for receipt in receipts]),
            withdrawals_root=BLANK_ROOT_HASH,
        )
        return base_block.copy(header=header, transactions=transactions, withdrawals=[])

    def _transactions_root(self, transactions: Sequence[SignedTransactionAPI]) -> bytes:
        """The root of ``transactions``; reused when they are the ones this VM just set, as
        ``mine_block`` validates the block it has just built."""
        encoded = tuple(tx.encode() for tx in transactions)
        built = getattr(self, "_built_transactions", None)
        if built is not None and built[0] == encoded:
            return built[1]
        return ordered_trie_root(encoded)

    def process_deposit_request_data(self, block: BlockAPI) -> None:
        """EIP-6110 reads beacon deposit-contract logs; an L2 has no beacon deposit contract.

        py-evm would read every receipt back from the receipts trie, which is not stored here.
        """
        block.block_requests.append(DEPOSIT_REQUEST_TYPE)

    def validate_block(self, block: BlockAPI) -> None:
        """py-evm's checks, with the transactions root computed in one pass."""
        if block.is_genesis:
            return
        parent = self.chaindb.get_block_header_by_hash(block.header.parent_hash)
        self.validate_header(block.header, parent)
        root = self._transactions_root(block.transactions)
        if root != block.header.transaction_root:
            raise ValidationError(
                f"transactions root {block.header.transaction_root.hex()} does not match "
                f"the transactions ({root.hex()})"
            )
        self.validate_block_blobs(block)


def chain_context(config: NetworkConfig) -> ChainContextAPI:
    return ChainContext(config.chain.chain_id)


def prev_randao(parent: BlockHeaderAPI) -> bytes:
    """PREVRANDAO of a child block: derived from the parent hash, so every node agrees.

    There is no beacon chain here; like an OP chain's L1-derived value it is not a safe source
    of randomness, only a deterministic, changing one.
    """
    return keccak(b"openledger-prevrandao" + parent.hash)


def child_header(config: NetworkConfig, parent: BlockHeaderAPI, timestamp: int) -> BlockHeaderAPI:
    """The header template of the next block: fee recipient, gas limit and base fee set."""
    return OpenLedgerVM.create_header_from_parent(
        parent,
        coinbase=config.chain.fee_recipient,
        timestamp=timestamp,
        gas_limit=config.chain.gas_limit,
        mix_hash=prev_randao(parent),
        parent_beacon_block_root=ZERO_HASH32,
        extra_data=b"",
    )
