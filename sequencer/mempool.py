"""The sequencer's transaction pool, following the rules of geth's ``legacypool``.

Wallets, ethers.js and Foundry read geth's rejection messages and nonce behaviour, so the pool
keeps both: per sender, *pending* transactions run gap-free from the state nonce (the block builder
may take them), *queued* ones wait behind a nonce gap until it is filled. A transaction with the
nonce of one already held replaces it only when it raises both fee caps by the price bump.

Every rejection is a :class:`node.exceptions.InvalidTransaction` carrying geth's message.

Durability: an admitted transaction is written to a journal (``ol:pool:<hash> -> raw``) before
:meth:`Mempool.add` returns, so an acknowledged transaction survives ``kill -9``. Keys of
included transactions are deleted inside the block's own atomic write batch
(:meth:`Mempool.journal_deletions`), so a crash never leaves a transaction both in a block and in
the journal.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth.abc import SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS, GAS_TX
from eth.vm.forks.prague.constants import STANDARD_TOKEN_COST, TOTAL_COST_FLOOR_PER_TOKEN
from eth.vm.forks.shanghai.constants import INITCODE_WORD_COST, MAX_INITCODE_SIZE

from node.exceptions import InvalidTransaction
from node.l1_fee import L1FeeParams
from node.l1_info import L1_INFO_GAS
from node.records import effective_gas_price
from node.transactions import AdmittedTransaction, admit
from openledger.config import MempoolConfig
from openledger.store import LevelStore, StoreError
from openledger.types import Address, Hash32

log = logging.getLogger(__name__)

JOURNAL_PREFIX = b"ol:pool:"
"""Journal keys: prefix + transaction hash -> raw bytes, in the chain's LevelDB database."""

WORD_BYTES = 32
"""EIP-3860 charges initcode per 32-byte word."""

Listener = Callable[[AdmittedTransaction], Any]


class AccountReader(Protocol):
    """The state the pool needs: a py-evm ``StateAPI`` at the head satisfies it.

    Storage is read for ``L1Block``'s fee parameters, which price the L1 data fee.
    """

    def get_nonce(self, address: bytes) -> int: ...

    def get_balance(self, address: bytes) -> int: ...

    def get_storage(self, address: bytes, slot: int, from_journal: bool = True) -> int: ...


# -- rules (pure functions) --------------------------------------------------------------------


def journal_key(tx_hash: bytes) -> bytes:
    return JOURNAL_PREFIX + tx_hash


def effective_tip(tx: SignedTransactionAPI, base_fee: int) -> int:
    """What the block producer earns per gas: min(tip, fee cap - base fee); below 0 if unpayable."""
    return effective_gas_price(tx, base_fee) - base_fee


def intrinsic_gas(tx: SignedTransactionAPI) -> int:
    """py-evm's intrinsic gas plus the EIP-3860 initcode word cost that geth also charges up front.

    py-evm deducts the initcode cost only while the creation runs, so its ``intrinsic_gas``
    would accept a creation that geth refuses.
    """
    gas = tx.intrinsic_gas
    if tx.to == CREATE_CONTRACT_ADDRESS:
        gas += INITCODE_WORD_COST * ((len(tx.data) + WORD_BYTES - 1) // WORD_BYTES)
    return gas


def floor_data_gas(data: bytes) -> int:
    """EIP-7623 (Prague): the least gas a transaction with this calldata must be able to pay.

    py-evm applies the floor only after execution, so without this check the pool would accept
    a transaction that cannot pay for its own calldata.
    """
    zero_bytes = data.count(0)
    tokens = zero_bytes + (len(data) - zero_bytes) * STANDARD_TOKEN_COST
    return GAS_TX + tokens * TOTAL_COST_FLOOR_PER_TOKEN


def validate_stateless(tx: SignedTransactionAPI, block_gas_limit: int) -> None:
    """geth's ``ValidateTransaction`` checks that need no state, in geth's order."""
    if tx.to == CREATE_CONTRACT_ADDRESS and len(tx.data) > MAX_INITCODE_SIZE:
        raise InvalidTransaction("max initcode size exceeded")
    if tx.gas > block_gas_limit:
        raise InvalidTransaction("exceeds block gas limit")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise InvalidTransaction("max priority fee per gas higher than max fee per gas")
    if tx.gas < intrinsic_gas(tx):
        raise InvalidTransaction("intrinsic gas too low")
    if tx.gas < floor_data_gas(tx.data):
        raise InvalidTransaction("insufficient gas for floor data gas cost")


def replacement_allowed(old: SignedTransactionAPI, new: SignedTransactionAPI, bump: int) -> bool:
    """geth's rule: the newcomer raises both fee cap and tip, each by at least ``bump`` percent."""
    if new.max_fee_per_gas <= old.max_fee_per_gas:
        return False
    if new.max_priority_fee_per_gas <= old.max_priority_fee_per_gas:
        return False
    fee_cap_threshold = old.max_fee_per_gas * (100 + bump) // 100
    tip_threshold = old.max_priority_fee_per_gas * (100 + bump) // 100
    return (
        new.max_fee_per_gas >= fee_cap_threshold and new.max_priority_fee_per_gas >= tip_threshold
    )


# -- state -------------------------------------------------------------------------------------


@dataclass
class _SenderTransactions:
    """One sender's transactions, split as geth splits them."""

    state_nonce: int
    """The account nonce at the head the pool last saw."""
    pending: dict[int, AdmittedTransaction] = field(default_factory=dict)
    """Nonces ``state_nonce .. state_nonce + len - 1``, no gap, inserted in nonce order."""
    queued: dict[int, AdmittedTransaction] = field(default_factory=dict)
    """Nonces beyond a gap: not executable until the gap is filled."""

    @property
    def next_nonce(self) -> int:
        return self.state_nonce + len(self.pending)

    def held(self, nonce: int) -> AdmittedTransaction | None:
        return self.pending.get(nonce) or self.queued.get(nonce)

    def __bool__(self) -> bool:
        return bool(self.pending or self.queued)


class Candidates:
    """Pending transactions in block order: geth's ``TransactionsByPriceAndNonce``.

    Each sender's transactions come in nonce order; across senders the head with the highest
    effective tip comes first, ties going to the earlier arrival. A heap of one head per sender
    makes every step O(log senders). A sender's run stops before its first transaction whose fee
    cap is below the base fee: neither it nor anything after it can go in this block.
    """

    def __init__(self, runs: list[list[tuple[int, AdmittedTransaction]]], base_fee: int) -> None:
        """``runs`` holds, per sender, (arrival number, transaction) in nonce order."""
        self._runs = runs
        self._positions = [0] * len(runs)
        self._base_fee = base_fee
        self._heap = [self._entry(index) for index in range(len(runs))]
        heapq.heapify(self._heap)

    def _entry(self, run: int) -> tuple[int, int, int]:
        arrival, admitted = self._runs[run][self._positions[run]]
        return (-effective_tip(admitted.tx, self._base_fee), arrival, run)

    def peek(self) -> AdmittedTransaction | None:
        """The best transaction now, or ``None`` when nothing is left."""
        if not self._heap:
            return None
        run = self._heap[0][2]
        return self._runs[run][self._positions[run]][1]

    def shift(self) -> None:
        """The peeked transaction went in: offer that sender's next nonce."""
        run = self._heap[0][2]
        self._positions[run] += 1
        if self._positions[run] < len(self._runs[run]):
            heapq.heapreplace(self._heap, self._entry(run))
        else:
            heapq.heappop(self._heap)

    def pop(self) -> None:
        """The peeked transaction cannot go in: skip the rest of that sender for this block."""
        heapq.heappop(self._heap)


class Mempool:
    """Admission, ordering and eviction of user transactions waiting for a block."""

    def __init__(
        self,
        config: MempoolConfig,
        chain_id: int,
        block_gas_limit: int,
        accounts: AccountReader,
        journal: LevelStore | None = None,
    ) -> None:
        self._config = config
        self._chain_id = chain_id
        self._user_gas_limit = block_gas_limit - L1_INFO_GAS
        """Most gas a user transaction can have: every block first reserves the L1-attributes
        deposit's gas, so a larger transaction could never be included."""
        self._accounts = accounts
        self._l1_fees = L1FeeParams.from_state(accounts)
        self._journal = journal
        self._senders: dict[Address, _SenderTransactions] = {}
        self._all: dict[Hash32, AdmittedTransaction] = {}
        self._arrival: dict[Hash32, int] = {}
        """Admission order: breaks ties between equal tips, oldest first."""
        self._arrivals = itertools.count()
        self._listeners: list[Listener] = []

    # -- admission -----------------------------------------------------------------------------

    def add(self, raw: bytes, base_fee: int) -> AdmittedTransaction:
        """Admit ``raw`` or raise ``InvalidTransaction``; journaled before this returns.

        ``base_fee`` is the next block's: it prices this transaction against others when the
        pool is full.
        """
        admitted = self._decode(raw)
        self._insert(admitted, base_fee)
        if self._journal is not None:
            try:
                self._journal.put(journal_key(admitted.hash), raw, sync=False)
            except StoreError:
                # Not journaled means not acknowledged: the client gets the error instead.
                self._discard(admitted, "journal write failed")
                raise
        for listener in self._listeners:
            try:
                listener(admitted)
            except Exception:
                # A subscriber's failure must not turn an admitted transaction into an error.
                log.exception("mempool listener failed on %s", admitted.hash.hex())
        return admitted

    def _decode(self, raw: bytes) -> AdmittedTransaction:
        """The stateless half: size (before decoding, as geth), signature, gas and fee caps."""
        if len(raw) > self._config.max_tx_bytes:
            raise InvalidTransaction("oversized data")
        admitted = admit(raw, self._chain_id)
        validate_stateless(admitted.tx, self._user_gas_limit)
        return admitted

    def _insert(self, admitted: AdmittedTransaction, base_fee: int) -> None:
        """The stateful half: nonce, funds, replacement, limits; then place the transaction."""
        if admitted.hash in self._all:
            raise InvalidTransaction("already known")
        sender = admitted.sender
        account = self._senders.get(sender) or _SenderTransactions(self._accounts.get_nonce(sender))
        nonce = admitted.nonce
        if nonce < account.state_nonce:
            raise InvalidTransaction("nonce too low")
        old = account.held(nonce)
        if old is not None and not replacement_allowed(
            old.tx, admitted.tx, self._config.price_bump_percent
        ):
            raise InvalidTransaction("replacement transaction underpriced")
        # geth's ValidateTransactionWithState: the newcomer on top of what pending already spends.
        spent = sum(self._cost(tx) for n, tx in account.pending.items() if n != nonce)
        if self._accounts.get_balance(sender) < spent + self._cost(admitted):
            raise InvalidTransaction("insufficient funds for gas * price + value")
        executable = nonce <= account.next_nonce
        if old is None:
            if executable and len(account.pending) >= self._config.max_per_sender:
                raise InvalidTransaction("account limit exceeded")
            if not executable and len(account.queued) >= self._config.max_future_per_sender:
                raise InvalidTransaction("future nonce gap too large")
            if len(self._all) >= self._config.max_total:
                self._make_room(admitted, executable, base_fee)
        else:
            self._forget(old)
            self._delete_journal(old.hash)
            log.info("replaced %s with %s", old.hash.hex(), admitted.hash.hex())
        self._senders[sender] = account
        self._all[admitted.hash] = admitted
        self._arrival[admitted.hash] = next(self._arrivals)
        if executable:
            account.pending[nonce] = admitted
            self._promote(account)
        else:
            account.queued[nonce] = admitted

    def _cost(self, admitted: AdmittedTransaction) -> int:
        """The most ``admitted`` can cost its sender: gas * fee cap + value + L1 data fee.

        The L1 fee is priced at the head's L1 parameters; the block may use newer ones (a new L1
        origin), as with the base fee, and execution checks again.
        """
        return admitted.upfront_cost + self._l1_fees.fee(admitted.compressed_size)

    def _promote(self, account: _SenderTransactions) -> None:
        """Move queued transactions whose gap is now filled into pending."""
        while account.next_nonce in account.queued and (
            len(account.pending) < self._config.max_per_sender
        ):
            nonce = account.next_nonce
            account.pending[nonce] = account.queued.pop(nonce)

    def _make_room(self, newcomer: AdmittedTransaction, executable: bool, base_fee: int) -> None:
        """Evict one transaction of another sender that is worth less than ``newcomer``.

        Queued transactions go first: the cheapest one yields to any executable newcomer, or to a
        queued one that tips more. Then, for an executable newcomer only, the cheapest last
        pending transaction of a sender (taking a sender's last nonce opens no gap). The scan is
        linear, but it runs only while the pool is full.
        """
        tip = effective_tip(newcomer.tx, base_fee)

        def worth(candidate: AdmittedTransaction) -> tuple[int, int]:
            # Cheapest first; among equals, the newest goes.
            return effective_tip(candidate.tx, base_fee), -self._arrival[candidate.hash]

        others = [a for s, a in self._senders.items() if s != newcomer.sender]
        queued = [tx for account in others for tx in account.queued.values()]
        victim = min(queued, key=worth, default=None)
        if victim is not None and (executable or worth(victim)[0] < tip):
            self._discard(victim, "evicted for a better-paying transaction")
            return
        if executable:
            tails = [
                account.pending[account.next_nonce - 1] for account in others if account.pending
            ]
            victim = min(tails, key=worth, default=None)
            if victim is not None and worth(victim)[0] < tip:
                self._discard(victim, "evicted for a better-paying transaction")
                return
        raise InvalidTransaction("txpool is full")

    # -- removal -------------------------------------------------------------------------------

    def drop(self, tx_hash: bytes, reason: str) -> None:
        """Remove a transaction the builder found can never be included."""
        admitted = self._all.get(Hash32(tx_hash))
        if admitted is not None:
            self._discard(admitted, reason)

    def _discard(self, admitted: AdmittedTransaction, reason: str) -> None:
        """Remove a transaction that leaves without being included: it leaves the journal too."""
        self._forget(admitted)
        self._delete_journal(admitted.hash)
        log.info("dropped %s: %s", admitted.hash.hex(), reason)
        account = self._senders.get(admitted.sender)
        if account is None:
            return
        nonce = admitted.nonce
        if account.pending.get(nonce) is admitted:
            # Later pending nonces now sit behind a gap: geth demotes them to the queue.
            del account.pending[nonce]
            later = sorted(n for n in account.pending if n > nonce)
            for n in later:
                account.queued[n] = account.pending.pop(n)
            self._trim_queue(account)
        elif account.queued.get(nonce) is admitted:
            del account.queued[nonce]
        if not account:
            # A nested discard (trimming the queue) may have removed the entry already.
            self._senders.pop(admitted.sender, None)

    def _trim_queue(self, account: _SenderTransactions) -> None:
        """Drop the highest queued nonces beyond the per-sender queue limit."""
        excess = len(account.queued) - self._config.max_future_per_sender
        for nonce in sorted(account.queued, reverse=True)[: max(excess, 0)]:
            self._discard(account.queued[nonce], "sender queue full")

    def _forget(self, admitted: AdmittedTransaction) -> None:
        """Remove from the indexes only; the caller fixes the sender's lists."""
        del self._all[admitted.hash]
        del self._arrival[admitted.hash]

    def _delete_journal(self, tx_hash: bytes) -> None:
        if self._journal is not None:
            self._journal.delete(journal_key(tx_hash))

    # -- blocks --------------------------------------------------------------------------------

    def candidates(self, base_fee: int) -> Candidates:
        """Pending transactions in the order a block should take them at ``base_fee``."""
        runs = []
        for account in self._senders.values():
            run = []
            for nonce in sorted(account.pending):
                admitted = account.pending[nonce]
                if admitted.tx.max_fee_per_gas < base_fee:
                    break
                run.append((self._arrival[admitted.hash], admitted))
            if run:
                runs.append(run)
        return Candidates(runs, base_fee)

    def journal_deletions(
        self, included: Iterable[AdmittedTransaction | bytes]
    ) -> dict[bytes, None]:
        """Journal keys of ``included``, for the builder to delete in the block's own batch."""
        if self._journal is None:
            return {}
        return {journal_key(_hash_of(item)): None for item in included}

    def on_new_block(
        self, included: Iterable[AdmittedTransaction | bytes], accounts: AccountReader
    ) -> None:
        """Forget ``included`` and re-sort every sender against the new head state.

        Like geth's reset: stale nonces and transactions the balance no longer covers leave;
        what the new state nonce makes gap-free is promoted, what sits behind a new gap is
        demoted. Included transactions keep their journal keys: the block's batch deleted them.
        """
        self._accounts = accounts
        self._l1_fees = L1FeeParams.from_state(accounts)
        for item in included:
            admitted = self._all.get(_hash_of(item))
            if admitted is None:
                continue
            self._forget(admitted)
            account = self._senders[admitted.sender]
            account.pending.pop(admitted.nonce, None)
            account.queued.pop(admitted.nonce, None)
        for sender in list(self._senders):
            self._reset_sender(sender)

    def _reset_sender(self, sender: Address) -> None:
        account = self._senders[sender]
        held = sorted({**account.pending, **account.queued}.items())
        state_nonce = self._accounts.get_nonce(sender)
        balance = self._accounts.get_balance(sender)
        account = _SenderTransactions(state_nonce)
        self._senders[sender] = account
        for nonce, admitted in held:
            if nonce < state_nonce:
                self._drop_unlinked(admitted, "nonce too low")
            elif self._cost(admitted) > balance:
                self._drop_unlinked(admitted, "insufficient funds for gas * price + value")
            elif nonce == account.next_nonce and len(account.pending) < self._config.max_per_sender:
                account.pending[nonce] = admitted
            elif len(account.queued) < self._config.max_future_per_sender:
                account.queued[nonce] = admitted
            else:
                self._drop_unlinked(admitted, "sender queue full")
        if not account:
            del self._senders[sender]

    def _drop_unlinked(self, admitted: AdmittedTransaction, reason: str) -> None:
        """Drop a transaction already taken out of its sender's lists (during a reset)."""
        self._forget(admitted)
        self._delete_journal(admitted.hash)
        log.info("dropped %s: %s", admitted.hash.hex(), reason)

    # -- start-up ------------------------------------------------------------------------------

    def restore(self, base_fee: int) -> int:
        """Re-admit every journaled transaction; delete what no longer passes. Returns the count.

        Entries are re-admitted per sender in nonce order, so each lands where it did before.
        """
        if self._journal is None:
            return 0
        decoded: list[tuple[bytes, AdmittedTransaction]] = []
        rejected: list[tuple[bytes, str]] = []
        for key, raw in list(self._journal.iterate_prefix(JOURNAL_PREFIX)):
            try:
                decoded.append((key, self._decode(raw)))
            except InvalidTransaction as exc:
                rejected.append((key, str(exc)))
        decoded.sort(key=lambda entry: (entry[1].sender, entry[1].nonce))
        restored = 0
        for key, admitted in decoded:
            try:
                self._insert(admitted, base_fee)
            except InvalidTransaction as exc:
                rejected.append((key, str(exc)))
            else:
                restored += 1
        for key, reason in rejected:
            log.info("journaled %s no longer admissible: %s", key.hex(), reason)
            self._journal.delete(key)
        return restored

    # -- reading -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with each newly admitted transaction (pending-tx filters)."""
        self._listeners.append(listener)

    def pending_nonce(self, address: bytes) -> int:
        """The nonce a wallet should use next: state nonce plus the gap-free pending run."""
        account = self._senders.get(Address(address))
        if account is None:
            return self._accounts.get_nonce(address)
        return account.next_nonce

    def get(self, tx_hash: bytes) -> AdmittedTransaction | None:
        return self._all.get(Hash32(tx_hash))

    def __len__(self) -> int:
        return len(self._all)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._all

    def status(self) -> tuple[int, int]:
        """(pending, queued) counts, as ``txpool_status`` reports them."""
        pending = sum(len(account.pending) for account in self._senders.values())
        return pending, len(self._all) - pending

    def content(self) -> dict[str, dict[bytes, dict[int, AdmittedTransaction]]]:
        """``{"pending"|"queued": {sender: {nonce: tx}}}`` in nonce order (``txpool_content``)."""
        pending: dict[bytes, dict[int, AdmittedTransaction]] = {}
        queued: dict[bytes, dict[int, AdmittedTransaction]] = {}
        for sender, account in self._senders.items():
            if account.pending:
                pending[sender] = dict(sorted(account.pending.items()))
            if account.queued:
                queued[sender] = dict(sorted(account.queued.items()))
        return {"pending": pending, "queued": queued}


def _hash_of(item: AdmittedTransaction | bytes) -> Hash32:
    return item.hash if isinstance(item, AdmittedTransaction) else Hash32(item)
