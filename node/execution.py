"""Read-only execution: ``eth_call``, ``eth_estimateGas`` and access-list creation.

Semantics follow geth: the call runs on the state of the chosen block with that block's
context (number, timestamp, coinbase); when the caller gives no fee fields the base fee is taken
as zero, so an account with no balance can still call; nothing is ever persisted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from eth._utils.address import generate_contract_address
from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI
from eth.exceptions import Revert
from eth.vm.forks.london.transactions import UnsignedDynamicFeeTransaction
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode as abi_decode
from eth_utils import ValidationError

from node.exceptions import ExecutionReverted, InvalidTransaction
from node.tracing import AccessListVM, AccessRecordingState, VmFactory
from node.vm import OpenLedgerVM

CALL_STIPEND = 2_300
"""Gas a value-carrying CALL hands over for free; geth adds it to its first estimate."""

TX_GAS = 21_000
"""The cost of a plain transfer: the least any transaction can use (yellow paper G_transaction)."""

ERROR_SELECTOR = bytes.fromhex("08c379a0")
"""``Error(string)``: Solidity's revert-with-reason encoding."""

PANIC_SELECTOR = bytes.fromhex("4e487b71")
"""``Panic(uint256)``: Solidity's assert/overflow encoding."""

MAX_ACCESS_LIST_ROUNDS = 16
"""geth repeats until the list stops changing; this bounds a list that never settles."""

PRECOMPILES = frozenset(OpenLedgerVM.get_state_class().computation_class.get_precompiles())
"""Always warm (EIP-2929), so never worth listing."""


@dataclass(frozen=True)
class AccountOverride:
    """One entry of geth's state-override set for ``eth_call``."""

    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: dict[int, int] | None = None
    """Replaces the whole storage."""
    state_diff: dict[int, int] | None = None
    """Changes only these slots."""


@dataclass(frozen=True)
class CallRequest:
    sender: bytes = b"\x00" * 20
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    access_list: Sequence[tuple[bytes, Sequence[int]]] = field(default_factory=tuple)

    @property
    def has_fees(self) -> bool:
        return any(
            fee is not None
            for fee in (self.gas_price, self.max_fee_per_gas, self.max_priority_fee_per_gas)
        )


AccessList = tuple[tuple[bytes, tuple[int, ...]], ...]
"""``((address, (slot, ...)), ...)`` sorted by address and slot."""


@dataclass(frozen=True)
class AccessListResult:
    """What ``eth_createAccessList`` answers."""

    access_list: AccessList
    gas_used: int
    """Gas the call uses with ``access_list`` attached (intrinsic cost and refund included)."""
    error: str | None
    """The VM error of the final run (the call may revert and still yield a list)."""


def revert_message(output: bytes) -> str:
    """geth's error message for a revert: the decoded reason where there is one."""
    if output[:4] == ERROR_SELECTOR:
        try:
            (reason,) = abi_decode(["string"], output[4:])
            return f"execution reverted: {reason}"
        except Exception:
            return "execution reverted"
    if output[:4] == PANIC_SELECTOR and len(output) >= 36:
        code = int.from_bytes(output[4:36], "big")
        return f"execution reverted: panic code 0x{code:x}"
    return "execution reverted"


class Executor:
    """Runs calls against any block's state; owns the gas cap."""

    def __init__(self, vm_at: VmFactory, chain_id: int, gas_cap: int) -> None:
        self._vm_at = vm_at
        self._chain_id = chain_id
        self.gas_cap = gas_cap

    def _state(
        self,
        header: BlockHeaderAPI,
        request: CallRequest,
        vm_class: type[OpenLedgerVM] = OpenLedgerVM,
    ) -> StateAPI:
        context_header = header if request.has_fees else header.copy(base_fee_per_gas=0)
        return self._vm_at(context_header, vm_class).state

    def _gas_limit(self, header: BlockHeaderAPI, request: CallRequest) -> int:
        limit = request.gas if request.gas is not None else header.gas_limit
        return min(limit, self.gas_cap)

    def _transaction(self, state: StateAPI, request: CallRequest, gas: int) -> SpoofTransaction:
        if request.gas_price is not None:
            max_fee = priority = request.gas_price
        else:
            max_fee = request.max_fee_per_gas or 0
            priority = min(request.max_priority_fee_per_gas or 0, max_fee)
        nonce = request.nonce if request.nonce is not None else state.get_nonce(request.sender)
        unsigned = UnsignedDynamicFeeTransaction(
            chain_id=self._chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=priority,
            max_fee_per_gas=max_fee,
            gas=gas,
            to=request.to or b"",
            value=request.value,
            data=request.data,
            access_list=[(address, list(keys)) for address, keys in request.access_list],
        )
        return SpoofTransaction(unsigned, from_=request.sender)

    def _run(self, state: StateAPI, request: CallRequest, gas: int) -> ComputationAPI:
        return self._apply(state, self._transaction(state, request, gas))

    @staticmethod
    def _apply(state: StateAPI, tx: SpoofTransaction) -> ComputationAPI:
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(tx)
        except ValidationError as exc:
            raise InvalidTransaction(_geth_message(str(exc))) from exc
        finally:
            state.revert(snapshot)

    def call(
        self,
        request: CallRequest,
        header: BlockHeaderAPI,
        overrides: dict[bytes, AccountOverride] | None = None,
    ) -> bytes:
        """Return data of the call; raises :class:`ExecutionReverted` on REVERT."""
        state = self._state(header, request)
        apply_overrides(state, overrides or {})
        computation = self._run(state, request, self._gas_limit(header, request))
        return _output_or_raise(computation)

    def estimate_gas(
        self,
        request: CallRequest,
        header: BlockHeaderAPI,
        overrides: dict[bytes, AccountOverride] | None = None,
    ) -> int:
        """The least gas limit with which the call succeeds (binary search, as geth does)."""
        state = self._state(header, request)
        apply_overrides(state, overrides or {})
        high = self._gas_limit(header, request)
        computation = self._run(state, request, high)
        _output_or_raise(computation)
        if request.to and not request.data and not state.get_code(request.to):
            return TX_GAS
        intrinsic = self._transaction(state, request, high).intrinsic_gas
        used = intrinsic + computation.get_gas_used()
        low = max(used - 1, TX_GAS - 1)
        # Most calls succeed with what they used plus the 63/64 rule's reserve: try that first.
        optimistic = min(high, (used + computation.get_gas_refund() + CALL_STIPEND) * 64 // 63)
        if optimistic < high and self._succeeds(state, request, optimistic):
            high = optimistic
        while low + 1 < high:
            middle = (low + high) // 2
            if self._succeeds(state, request, middle):
                high = middle
            else:
                low = middle
        return high

    def _succeeds(self, state: StateAPI, request: CallRequest, gas: int) -> bool:
        try:
            return not self._run(state, request, gas).is_error
        except InvalidTransaction:
            return False

    def create_access_list(self, request: CallRequest, header: BlockHeaderAPI) -> AccessListResult:
        """geth's ``eth_createAccessList``: run, list what the code touched, rerun with that
        list attached, until the list no longer changes (attaching a list can change the path
        the code takes, e.g. through ``GAS``).

        Listed: every slot the code read or wrote (whatever the account) and every other
        account it touched, except the sender, the recipient (or the created contract) and the
        precompiles, which are warm anyway. A given ``accessList`` seeds the first run.
        """
        base = self._state(header, request)
        nonce = request.nonce if request.nonce is not None else base.get_nonce(request.sender)
        recipient = request.to or generate_contract_address(request.sender, nonce)
        excluded = PRECOMPILES | {request.sender, recipient}
        current = _normalise(request.access_list, excluded)
        for _ in range(MAX_ACCESS_LIST_ROUNDS):
            attempt = replace(request, nonce=nonce, access_list=current)
            state = self._state(header, attempt, AccessListVM)
            gas = self._gas_limit(header, attempt)
            tx = self._transaction(state, attempt, gas)
            computation = self._apply(state, tx)
            if not isinstance(state, AccessRecordingState):
                raise TypeError("AccessListVM must build an AccessRecordingState")
            found = _normalise(
                current
                + tuple((address, tuple(slots)) for address, slots in state.touched_slots.items())
                + tuple((address, ()) for address in state.touched_addresses),
                excluded,
            )
            if found == current:
                error = None
                if computation.is_error:
                    error = (
                        "execution reverted"
                        if isinstance(computation.error, Revert)
                        else execution_error_message(computation.error)
                    )
                gas_used = OpenLedgerVM.finalize_gas_used(tx, computation)
                return AccessListResult(current, gas_used, error)
            current = found
        raise InvalidTransaction("access list did not settle")


def _normalise(
    entries: Sequence[tuple[bytes, Sequence[int]]], excluded: frozenset[bytes]
) -> AccessList:
    """Merge duplicate addresses, drop excluded accounts that carry no slots, and sort."""
    merged: dict[bytes, set[int]] = {}
    for address, slots in entries:
        if slots or address not in excluded:
            merged.setdefault(bytes(address), set()).update(slots)
    return tuple((address, tuple(sorted(merged[address]))) for address in sorted(merged))


def _output_or_raise(computation: ComputationAPI) -> bytes:
    if computation.is_error:
        error = computation.error
        if isinstance(error, Revert):
            output = computation.output
            raise ExecutionReverted(revert_message(output), output)
        raise InvalidTransaction(execution_error_message(error))
    return computation.output


def execution_error_message(error: Exception) -> str:
    """geth's wording of a VM fault other than a revert."""
    name = type(error).__name__
    messages = {
        "OutOfGas": "out of gas",
        "InsufficientFunds": "insufficient funds for transfer",
        "InvalidInstruction": "invalid opcode",
        "StackDepthLimit": "max call depth exceeded",
        "WriteProtection": "write protection",
        "InvalidJumpDestination": "invalid jump destination",
        "InsufficientStack": "stack underflow",
        "FullStack": "stack limit reached",
        "OutOfBoundsRead": "return data out of bounds",
        "ContractCreationCollision": "contract address collision",
    }
    return messages.get(name, f"execution failed: {name}: {error}")


def _geth_message(message: str) -> str:
    """py-evm's pre-execution failures, reworded as geth reports them."""
    lowered = message.lower()
    if "balance" in lowered or "afford" in lowered:
        return "insufficient funds for gas * price + value"
    if "nonce" in lowered:
        return "nonce too low" if "expected" in lowered else message
    if "base fee" in lowered:
        return "max fee per gas less than block base fee"
    if "intrinsic" in lowered or "insufficient gas" in lowered:
        return "intrinsic gas too low"
    return message


def apply_overrides(state: StateAPI, overrides: dict[bytes, AccountOverride]) -> None:
    for address, override in overrides.items():
        if override.balance is not None:
            state.set_balance(address, override.balance)
        if override.nonce is not None:
            state.set_nonce(address, override.nonce)
        if override.code is not None:
            state.set_code(address, override.code)
        if override.state is not None:
            state.delete_storage(address)
            for slot, value in override.state.items():
                state.set_storage(address, slot, value)
        if override.state_diff is not None:
            for slot, value in override.state_diff.items():
                state.set_storage(address, slot, value)
