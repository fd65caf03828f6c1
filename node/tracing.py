"""Instrumented execution for read-only tools: access-list discovery and call tracing.

py-evm has no tracer hooks, so each tool runs the ordinary Prague rules with a subclassed state
or computation that only *observes*:

- :class:`AccessRecordingState` notes every account and slot an opcode asks about (the EIP-2929
  warm/cold queries), which is what geth's access-list tracer records.
- :class:`TracingComputation` notes which opcode created each child frame, the one thing the
  computation tree py-evm already builds does not say (CALL vs CALLCODE, CREATE vs CREATE2).

:func:`replay_to` re-executes a committed block up to one transaction on its parent's state, and
:func:`call_frame` turns the finished computation tree into geth's ``callTracer`` frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from eth.abc import (
    AtomicDatabaseAPI,
    BlockHeaderAPI,
    ComputationAPI,
    ExecutionContextAPI,
    MessageAPI,
    SignedTransactionAPI,
    StateAPI,
)
from eth.exceptions import Revert
from eth.vm.forks.prague.computation import PragueComputation

from node.records import TransactionOutcome
from node.state import OpenLedgerState
from node.vm import OpenLedgerVM
from openledger.types import Address, Hash32

CALL_OPCODES: dict[int, str] = {
    0xF0: "CREATE",
    0xF1: "CALL",
    0xF2: "CALLCODE",
    0xF4: "DELEGATECALL",
    0xF5: "CREATE2",
    0xFA: "STATICCALL",
}
"""The opcodes that open a child frame, by the frame type geth's callTracer reports."""

CODE_RUNS_ELSEWHERE = frozenset({"CALLCODE", "DELEGATECALL"})
"""Frames whose ``to`` is the code's address, not the storage context's (geth's convention)."""

NO_VALUE_FRAMES = frozenset({"STATICCALL", "DELEGATECALL"})
"""Frames for which geth reports no ``value`` (none is transferred)."""


class VmFactory(Protocol):
    """``Chain.vm_at``: a VM of ``vm_class`` on ``header``'s state and block context."""

    def __call__(
        self, header: BlockHeaderAPI, vm_class: type[OpenLedgerVM] = OpenLedgerVM
    ) -> OpenLedgerVM: ...


class AccessRecordingState(OpenLedgerState):
    """Prague state that remembers every EIP-2929 warm/cold query an opcode makes.

    Only the *queries* are recorded, not the warm marks the transaction makes up front (sender,
    recipient, coinbase, the given access list), so the record is what the code itself touched.
    Unlike the warm set, the record is not journaled: accesses inside reverted frames count too,
    as they do for geth.
    """

    def __init__(
        self, db: AtomicDatabaseAPI, execution_context: ExecutionContextAPI, state_root: Hash32
    ) -> None:
        super().__init__(db, execution_context, state_root)
        self.touched_addresses: set[Address] = set()
        self.touched_slots: dict[Address, set[int]] = {}

    def is_address_warm(self, address: Address) -> bool:
        self.touched_addresses.add(address)
        return super().is_address_warm(address)

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        self.touched_slots.setdefault(address, set()).add(slot)
        return super().is_storage_warm(address, slot)


class AccessListVM(OpenLedgerVM):
    """The L2's rules with :class:`AccessRecordingState`; used only for ``eth_createAccessList``."""

    _state_class = AccessRecordingState


class TracingComputation(PragueComputation):
    """Prague computation that tags each child with the opcode that opened it."""

    call_opcode: int | None = None
    """The opening opcode; ``None`` for the transaction's own (top) frame."""

    def apply_child_computation(self, child_msg: MessageAPI) -> ComputationAPI:
        # The interpreter advanced the program counter past the CALL*/CREATE* byte already.
        opcode = self.code[self.code.program_counter - 1]
        child = self.generate_child_computation(child_msg)
        if isinstance(child, TracingComputation):
            child.call_opcode = opcode
        self.add_child_computation(child)
        return child


class TracingState(OpenLedgerState):
    computation_class = TracingComputation


class TracingVM(OpenLedgerVM):
    """The L2's rules with :class:`TracingComputation`; used only by ``debug_trace*``."""

    _state_class = TracingState


@dataclass(frozen=True)
class CallFrame:
    """One frame of geth's callTracer output."""

    kind: str
    """CALL, STATICCALL, DELEGATECALL, CALLCODE, CREATE or CREATE2."""
    sender: bytes
    to: bytes
    value: int | None
    """``None`` where geth omits it (STATICCALL, DELEGATECALL)."""
    gas: int
    gas_used: int
    input: bytes
    output: bytes
    """Return data, the deployed code of a CREATE, or the revert payload; empty after a fault."""
    error: Exception | None
    """The VM error that ended the frame (:class:`eth.exceptions.Revert` for a revert)."""
    calls: tuple[CallFrame, ...]

    @property
    def reverted(self) -> bool:
        return isinstance(self.error, Revert)


def replay_to(
    vm_at: VmFactory,
    header: BlockHeaderAPI,
    parent: BlockHeaderAPI,
    earlier: Sequence[TransactionOutcome],
    vm_class: type[OpenLedgerVM],
) -> StateAPI:
    """The state just before a transaction of ``header``'s block: parent state, block context,
    the block's system updates (EIP-4788, EIP-2935) and ``earlier`` applied. Nothing persists.
    """
    vm = vm_at(header.copy(state_root=parent.state_root), vm_class)
    vm.block_preprocessing(vm.get_block_class()(header, transactions=[], withdrawals=[]))
    state = vm.state
    for outcome in earlier:
        apply_in_block(state, outcome.tx)
    return state


def apply_in_block(state: StateAPI, tx: SignedTransactionAPI) -> ComputationAPI:
    """Apply ``tx`` as a block does: first close the previous transaction, which makes its
    writes the "original" values (EIP-2200) and empties the warm sets (EIP-2929).
    """
    state.lock_changes()
    return state.apply_transaction(tx)


def _frame(computation: ComputationAPI, kind: str, sender: bytes, to: bytes) -> CallFrame:
    msg = computation.msg
    error = computation.error if computation.is_error else None
    return CallFrame(
        kind=kind,
        sender=sender,
        to=to,
        value=None if kind in NO_VALUE_FRAMES else msg.value,
        gas=msg.gas,
        gas_used=computation.get_gas_used(),
        input=msg.code if msg.is_create else bytes(msg.data),
        # A fault (not a revert) leaves no output, as in geth.
        output=computation.output if error is None or isinstance(error, Revert) else b"",
        error=error,
        calls=tuple(_child_frame(child, msg.storage_address) for child in computation.children),
    )


def _child_frame(computation: ComputationAPI, caller: bytes) -> CallFrame:
    msg = computation.msg
    opcode = computation.call_opcode if isinstance(computation, TracingComputation) else None
    kind = CALL_OPCODES.get(opcode or 0, "CREATE" if msg.is_create else "CALL")
    to = msg.code_address if kind in CODE_RUNS_ELSEWHERE else msg.storage_address
    return _frame(computation, kind, caller, to)


def call_frame(
    tx: SignedTransactionAPI, sender: bytes, computation: ComputationAPI, gas_used: int
) -> CallFrame:
    """geth's callTracer tree of a finished transaction.

    The top frame reports the transaction's gas limit and its receipt's gas used (intrinsic
    cost and refund included), as geth does; inner frames report the gas handed to them.
    """
    msg = computation.msg
    top = _frame(computation, "CREATE" if msg.is_create else "CALL", sender, msg.storage_address)
    return CallFrame(
        kind=top.kind,
        sender=top.sender,
        to=top.to,
        value=tx.value,
        gas=tx.gas,
        gas_used=gas_used,
        input=tx.data if tx.to else msg.code,
        output=top.output,
        error=top.error,
        calls=top.calls,
    )
