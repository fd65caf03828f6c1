"""The mempool: geth's admission messages, pending/queued bookkeeping, block order, journal."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from node.exceptions import InvalidTransaction
from node.l1_info import L1_INFO_GAS
from node.transactions import AdmittedTransaction, TransactionBuilder, admit
from openledger.config import MempoolConfig
from openledger.store import LevelStore
from sequencer.mempool import (
    JOURNAL_PREFIX,
    Candidates,
    Mempool,
    effective_tip,
    floor_data_gas,
    intrinsic_gas,
    journal_key,
    replacement_allowed,
)
from tests.helpers.signing import CHAIN_ID, DEV, GWEI, sign

BASE_FEE = GWEI
BLOCK_GAS_LIMIT = 30_000_000
ETHER = 10**18
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group: ``N - s`` is the malleable twin of a signature's ``s``."""

ALICE, BOB, CAROL, DAVE = (account.address for account in DEV[:4])


@dataclass
class FakeAccounts:
    """The state reads the pool makes, from dicts; every dev account starts rich.

    Storage is empty, so ``L1Block`` holds no L1 prices and the L1 data fee is 0 here; the
    fee is tested against a real chain in ``test_l1_fee_admission.py``.
    """

    nonces: dict[bytes, int] = field(default_factory=dict)
    balances: dict[bytes, int] = field(
        default_factory=lambda: {account.address: 10_000 * ETHER for account in DEV}
    )

    def get_nonce(self, address: bytes) -> int:
        return self.nonces.get(address, 0)

    def get_balance(self, address: bytes) -> int:
        return self.balances.get(address, 0)

    def get_storage(self, address: bytes, slot: int, from_journal: bool = True) -> int:
        return 0


def make_pool(
    accounts: FakeAccounts | None = None,
    journal: LevelStore | None = None,
    **limits: int,
) -> Mempool:
    return Mempool(
        replace(MempoolConfig(), **limits),
        CHAIN_ID,
        BLOCK_GAS_LIMIT,
        accounts or FakeAccounts(),
        journal,
    )


def tip_tx(account: int, nonce: int, tip_gwei: float, **fields: Any) -> bytes:
    """An EIP-1559 transfer with a generous fee cap, so the tip alone decides its rank."""
    fees = {"maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": int(tip_gwei * GWEI)}
    return sign(account, nonce=nonce, **{**fees, **fields})


def drain(candidates: Candidates) -> list[tuple[bytes, int]]:
    """Take every offered transaction, as a block with unlimited gas would."""
    taken = []
    while (admitted := candidates.peek()) is not None:
        taken.append((admitted.sender, admitted.nonce))
        candidates.shift()
    return taken


def with_signature(raw: bytes, **overrides: int) -> bytes:
    """The same transaction with its signature fields changed (no re-signing)."""
    return TransactionBuilder.decode(raw).copy(**overrides).encode()


# -- rejections: one per geth message ------------------------------------------------------------


def test_oversized_data_is_refused_before_decoding() -> None:
    pool = make_pool(max_tx_bytes=200)
    with pytest.raises(InvalidTransaction, match=r"^oversized data$"):
        pool.add(sign(data=b"\x01" * 300, gas=100_000), BASE_FEE)
    # Garbage that would fail to decode still gets the size message first.
    with pytest.raises(InvalidTransaction, match=r"^oversized data$"):
        pool.add(b"\x02" + b"\xff" * 300, BASE_FEE)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x03" + b"\xc0", "^transaction type not supported$"),
        (b"\x02\xc0", "^invalid transaction encoding"),
        (sign(chainId=1), "^invalid chain id for signer: have 1 want 901$"),
    ],
    ids=["blob-type", "bad-rlp", "other-chain"],
)
def test_stateless_decoding_errors(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidTransaction, match=message):
        make_pool().add(raw, BASE_FEE)


@pytest.mark.parametrize(
    "overrides",
    [
        {"s": SECP256K1_N - admit(sign(), CHAIN_ID).tx.s},
        {"r": 0},
    ],
    ids=["malleable-s", "zero-r"],
)
def test_invalid_sender(overrides: dict[str, int]) -> None:
    with pytest.raises(InvalidTransaction, match=r"^invalid sender: "):
        make_pool().add(with_signature(sign(), **overrides), BASE_FEE)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gas": 20_999}, "intrinsic gas too low"),
        # py-evm's 54,600 for this creation omits EIP-3860's 2 gas per initcode word (4 words).
        ({"to": None, "data": b"\x01" * 100, "gas": 54_600}, "intrinsic gas too low"),
        # Enough for 37,000 intrinsic gas, not for the 61,000 EIP-7623 calldata floor.
        ({"data": b"\x01" * 1000, "gas": 40_000}, "insufficient gas for floor data gas cost"),
        ({"to": None, "data": b"\x01" * 49_153, "gas": 20_000_000}, "max initcode size exceeded"),
        ({"gas": BLOCK_GAS_LIMIT + 1}, "exceeds block gas limit"),
        # Every block first reserves the L1-attributes deposit's gas.
        ({"gas": BLOCK_GAS_LIMIT - L1_INFO_GAS + 1}, "exceeds block gas limit"),
        (
            {"maxFeePerGas": 3 * GWEI, "maxPriorityFeePerGas": 4 * GWEI},
            "max priority fee per gas higher than max fee per gas",
        ),
    ],
    ids=[
        "intrinsic",
        "initcode-words",
        "calldata-floor",
        "initcode-size",
        "gas-limit",
        "gas-limit-after-l1-attributes",
        "tip",
    ],
)
def test_stateless_gas_and_fee_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidTransaction, match=f"^{message}$"):
        make_pool().add(sign(**fields), BASE_FEE)


def test_exact_intrinsic_gas_and_floor_are_accepted() -> None:
    pool = make_pool()
    pool.add(sign(nonce=0, to=None, data=b"\x01" * 100, gas=54_608), BASE_FEE)
    pool.add(sign(nonce=1, data=b"\x01" * 1000, gas=61_000), BASE_FEE)
    assert len(pool) == 2


def test_nonce_too_low() -> None:
    pool = make_pool(FakeAccounts(nonces={ALICE: 5}))
    with pytest.raises(InvalidTransaction, match=r"^nonce too low$"):
        pool.add(sign(nonce=4), BASE_FEE)


def test_insufficient_funds_for_one_transaction() -> None:
    cost = 21_000 * 3 * GWEI + 1
    pool = make_pool(FakeAccounts(balances={ALICE: cost - 1}))
    with pytest.raises(InvalidTransaction, match=r"^insufficient funds for gas \* price \+ value$"):
        pool.add(sign(), BASE_FEE)
    make_pool(FakeAccounts(balances={ALICE: cost})).add(sign(), BASE_FEE)


def test_insufficient_funds_counts_what_pending_already_spends() -> None:
    cost = 21_000 * 3 * GWEI + 1
    pool = make_pool(FakeAccounts(balances={ALICE: 2 * cost - 1}))
    pool.add(sign(nonce=0), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^insufficient funds"):
        pool.add(sign(nonce=1), BASE_FEE)


def test_already_known() -> None:
    pool = make_pool()
    raw = sign()
    pool.add(raw, BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^already known$"):
        pool.add(raw, BASE_FEE)


def test_account_limit_exceeded_for_pending() -> None:
    pool = make_pool(max_per_sender=2)
    pool.add(sign(nonce=0), BASE_FEE)
    pool.add(sign(nonce=1), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^account limit exceeded$"):
        pool.add(sign(nonce=2), BASE_FEE)


def test_future_queue_full() -> None:
    pool = make_pool(max_future_per_sender=1)
    pool.add(sign(nonce=2), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^future nonce gap too large$"):
        pool.add(sign(nonce=3), BASE_FEE)


# -- replacement ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ((100, 10), (110, 11), True),  # exactly +10% on both
        ((100, 10), (200, 20), True),
        ((100, 10), (109, 20), False),  # fee cap short of +10%
        ((100, 10), (200, 10), False),  # tip not raised
        ((100, 10), (110, 10), False),
        ((1, 1), (1, 1), False),  # +10% of 1 rounds to 1: geth still wants a strict raise
        ((1, 1), (2, 2), True),
        ((0, 0), (1, 1), True),
    ],
)
def test_replacement_rule(old: tuple[int, int], new: tuple[int, int], allowed: bool) -> None:
    def fees(fee_cap: int, tip: int) -> Any:
        return SimpleNamespace(max_fee_per_gas=fee_cap, max_priority_fee_per_gas=tip)

    assert replacement_allowed(fees(*old), fees(*new), bump=10) is allowed


def test_replacement_at_ten_percent_is_accepted_and_journal_follows(tmp_path: Path) -> None:
    journal = LevelStore(tmp_path / "db")
    pool = make_pool(journal=journal)
    old = pool.add(sign(maxFeePerGas=10 * GWEI, maxPriorityFeePerGas=2 * GWEI), BASE_FEE)
    new = pool.add(sign(maxFeePerGas=11 * GWEI, maxPriorityFeePerGas=int(2.2 * GWEI)), BASE_FEE)
    assert old.hash not in pool
    assert pool.get(new.hash) is new
    assert pool.status() == (1, 0)
    assert journal.get(journal_key(old.hash)) is None
    assert journal.get(journal_key(new.hash)) == new.raw
    journal.close()


def test_replacement_below_the_bump_is_underpriced() -> None:
    pool = make_pool()
    old = pool.add(sign(maxFeePerGas=10 * GWEI, maxPriorityFeePerGas=2 * GWEI), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^replacement transaction underpriced$"):
        pool.add(sign(maxFeePerGas=10_900_000_000, maxPriorityFeePerGas=3 * GWEI), BASE_FEE)
    assert old.hash in pool


def test_queued_transaction_can_be_replaced_in_the_queue() -> None:
    pool = make_pool()
    pool.add(tip_tx(0, nonce=3, tip_gwei=1), BASE_FEE)
    new = pool.add(tip_tx(0, nonce=3, tip_gwei=2, maxFeePerGas=200 * GWEI), BASE_FEE)
    assert pool.content()["queued"] == {ALICE: {3: new}}


# -- pending and queued ------------------------------------------------------------------------


def test_gap_free_nonces_are_pending_in_order() -> None:
    pool = make_pool(FakeAccounts(nonces={ALICE: 7}))
    assert pool.pending_nonce(ALICE) == 7
    for nonce in (7, 8, 9):
        pool.add(sign(nonce=nonce), BASE_FEE)
    assert pool.pending_nonce(ALICE) == 10
    assert pool.status() == (3, 0)
    assert list(pool.content()["pending"][ALICE]) == [7, 8, 9]


def test_queued_transactions_are_promoted_when_the_gap_fills() -> None:
    pool = make_pool()
    pool.add(sign(nonce=2), BASE_FEE)
    pool.add(sign(nonce=1), BASE_FEE)
    assert pool.status() == (0, 2)
    assert pool.pending_nonce(ALICE) == 0
    assert drain(pool.candidates(BASE_FEE)) == []
    pool.add(sign(nonce=0), BASE_FEE)
    assert pool.status() == (3, 0)
    assert pool.pending_nonce(ALICE) == 3
    assert drain(pool.candidates(BASE_FEE)) == [(ALICE, 0), (ALICE, 1), (ALICE, 2)]


def test_content_get_len_contains() -> None:
    pool = make_pool()
    zero = pool.add(sign(nonce=0), BASE_FEE)
    five = pool.add(sign(nonce=5), BASE_FEE)
    bob = pool.add(sign(1, nonce=0), BASE_FEE)
    assert pool.content() == {
        "pending": {ALICE: {0: zero}, BOB: {0: bob}},
        "queued": {ALICE: {5: five}},
    }
    assert len(pool) == 3
    assert five.hash in pool
    assert pool.get(b"\x00" * 32) is None


# -- block order ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "tip"),
    [
        ({"maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": 2 * GWEI}, 2 * GWEI),
        ({"maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": 2 * GWEI}, GWEI),  # capped by fee
        ({"maxFeePerGas": GWEI // 2, "maxPriorityFeePerGas": 0}, -GWEI // 2),  # unpayable
        ({"gasPrice": 3 * GWEI}, 2 * GWEI),  # legacy: gas price - base fee
        ({"gasPrice": 3 * GWEI, "type": 1, "accessList": []}, 2 * GWEI),
    ],
    ids=["tip", "fee-capped", "under-base-fee", "legacy", "access-list"],
)
def test_effective_tip(fields: dict[str, Any], tip: int) -> None:
    assert effective_tip(admit(sign(**fields), CHAIN_ID).tx, BASE_FEE) == tip


@pytest.mark.parametrize(
    ("fields", "cost"),
    [
        ({"value": 5}, 21_000 * 3 * GWEI + 5),
        ({"gasPrice": 2 * GWEI, "value": 0}, 21_000 * 2 * GWEI),
    ],
    ids=["dynamic-fee", "legacy"],
)
def test_upfront_cost(fields: dict[str, Any], cost: int) -> None:
    assert admit(sign(**fields), CHAIN_ID).upfront_cost == cost


@pytest.mark.parametrize(
    ("data", "gas"),
    [
        (b"", 21_000),
        (b"\x00" * 10, 21_000 + 10 * 10),
        (b"\x01" * 10, 21_000 + 40 * 10),
    ],
)
def test_floor_data_gas(data: bytes, gas: int) -> None:
    assert floor_data_gas(data) == gas


@pytest.mark.parametrize(
    ("fields", "gas"),
    [
        ({}, 21_000),
        ({"data": b"\x00\x01"}, 21_000 + 4 + 16),
        ({"to": None, "data": b"\x01" * 33, "gas": 100_000}, 21_000 + 32_000 + 33 * 16 + 2 * 2),
    ],
    ids=["transfer", "calldata", "creation"],
)
def test_intrinsic_gas(fields: dict[str, Any], gas: int) -> None:
    assert intrinsic_gas(admit(sign(**fields), CHAIN_ID).tx) == gas


def test_candidates_order_by_tip_then_arrival_and_nonce_within_a_sender() -> None:
    pool = make_pool()
    pool.add(tip_tx(0, nonce=0, tip_gwei=1), BASE_FEE)
    pool.add(tip_tx(0, nonce=1, tip_gwei=5), BASE_FEE)
    pool.add(tip_tx(1, nonce=0, tip_gwei=2), BASE_FEE)
    pool.add(tip_tx(2, nonce=0, tip_gwei=2), BASE_FEE)
    pool.add(sign(3, nonce=0, gasPrice=4 * GWEI), BASE_FEE)
    # Dave's legacy 4 gwei tips 3; Bob beats Carol by arrival; Alice's 5 gwei waits for her nonce 0.
    assert drain(pool.candidates(BASE_FEE)) == [
        (DAVE, 0),
        (BOB, 0),
        (CAROL, 0),
        (ALICE, 0),
        (ALICE, 1),
    ]


def test_candidates_stop_a_sender_at_a_fee_cap_below_the_base_fee() -> None:
    pool = make_pool()
    pool.add(sign(0, nonce=0, maxFeePerGas=3 * GWEI), BASE_FEE)
    pool.add(sign(0, nonce=1, maxFeePerGas=GWEI, maxPriorityFeePerGas=GWEI), BASE_FEE)
    pool.add(sign(0, nonce=2, maxFeePerGas=9 * GWEI), BASE_FEE)
    pool.add(sign(1, nonce=0, maxFeePerGas=GWEI, maxPriorityFeePerGas=GWEI), BASE_FEE)
    assert drain(pool.candidates(2 * GWEI)) == [(ALICE, 0)]
    assert pool.status() == (4, 0)


def test_pop_skips_the_rest_of_that_sender_and_shift_moves_to_the_next_nonce() -> None:
    pool = make_pool()
    for nonce in range(3):
        pool.add(tip_tx(0, nonce=nonce, tip_gwei=3), BASE_FEE)
    pool.add(tip_tx(1, nonce=0, tip_gwei=2), BASE_FEE)
    pool.add(tip_tx(1, nonce=1, tip_gwei=2), BASE_FEE)
    candidates = pool.candidates(BASE_FEE)

    def peeked() -> tuple[bytes, int]:
        admitted = candidates.peek()
        assert admitted is not None
        return admitted.sender, admitted.nonce

    assert peeked() == (ALICE, 0)
    candidates.shift()
    assert peeked() == (ALICE, 1)
    candidates.pop()
    assert peeked() == (BOB, 0)
    candidates.shift()
    assert peeked() == (BOB, 1)
    candidates.shift()
    assert candidates.peek() is None


def test_candidates_match_a_brute_force_greedy_order() -> None:
    """Many senders and random tips: the heap must agree with picking the best head each step."""
    rng = random.Random(901)
    pool = make_pool()
    tips: dict[tuple[bytes, int], int] = {}
    for index, account in enumerate(DEV):
        for nonce in range(rng.randint(1, 6)):
            tip = rng.randint(0, 5)
            pool.add(tip_tx(index, nonce=nonce, tip_gwei=tip), BASE_FEE)
            tips[(account.address, nonce)] = tip
    heads = {account.address: 0 for account in DEV}
    expected = []
    while heads:
        # Highest tip first; ties to the sender whose head arrived first (lower account index
        # signed everything first, so it is the earlier arrival).
        order = [account.address for account in DEV if account.address in heads]
        sender = max(order, key=lambda s: (tips[(s, heads[s])], -order.index(s)))
        expected.append((sender, heads[sender]))
        heads[sender] += 1
        if (sender, heads[sender]) not in tips:
            del heads[sender]
    assert drain(pool.candidates(BASE_FEE)) == expected


# -- eviction when full ------------------------------------------------------------------------


def test_txpool_is_full_when_nothing_is_cheaper() -> None:
    pool = make_pool(max_total=2)
    pool.add(tip_tx(0, nonce=0, tip_gwei=5), BASE_FEE)
    pool.add(tip_tx(1, nonce=0, tip_gwei=5), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^txpool is full$"):
        pool.add(tip_tx(2, nonce=0, tip_gwei=1), BASE_FEE)


def test_a_sender_never_evicts_its_own_transactions() -> None:
    pool = make_pool(max_total=2)
    pool.add(tip_tx(0, nonce=0, tip_gwei=1), BASE_FEE)
    pool.add(tip_tx(0, nonce=5, tip_gwei=1), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^txpool is full$"):
        pool.add(tip_tx(0, nonce=1, tip_gwei=50), BASE_FEE)


def test_full_pool_evicts_the_cheapest_queued_transaction_first(tmp_path: Path) -> None:
    journal = LevelStore(tmp_path / "db")
    pool = make_pool(journal=journal, max_total=3)
    pending_cheap = pool.add(tip_tx(0, nonce=0, tip_gwei=1), BASE_FEE)
    queued_rich = pool.add(tip_tx(1, nonce=4, tip_gwei=9), BASE_FEE)
    queued_poor = pool.add(tip_tx(2, nonce=4, tip_gwei=3), BASE_FEE)
    newcomer = pool.add(tip_tx(3, nonce=0, tip_gwei=2), BASE_FEE)
    assert queued_poor.hash not in pool
    assert journal.get(journal_key(queued_poor.hash)) is None
    assert {pending_cheap.hash, queued_rich.hash, newcomer.hash} <= set(
        tx.hash
        for group in pool.content().values()
        for txs in group.values()
        for tx in txs.values()
    )
    journal.close()


def test_full_pool_evicts_the_cheapest_last_pending_transaction() -> None:
    pool = make_pool(max_total=3)
    alice_first = pool.add(tip_tx(0, nonce=0, tip_gwei=4), BASE_FEE)
    alice_last = pool.add(tip_tx(0, nonce=1, tip_gwei=1), BASE_FEE)
    bob = pool.add(tip_tx(1, nonce=0, tip_gwei=2), BASE_FEE)
    pool.add(tip_tx(2, nonce=0, tip_gwei=3), BASE_FEE)
    assert alice_last.hash not in pool
    assert alice_first.hash in pool and bob.hash in pool
    assert pool.pending_nonce(ALICE) == 1


def test_queued_newcomer_does_not_evict_pending_transactions() -> None:
    pool = make_pool(max_total=1)
    pool.add(tip_tx(0, nonce=0, tip_gwei=1), BASE_FEE)
    with pytest.raises(InvalidTransaction, match=r"^txpool is full$"):
        pool.add(tip_tx(1, nonce=3, tip_gwei=50), BASE_FEE)


# -- blocks ------------------------------------------------------------------------------------


def test_new_block_removes_included_and_stale_and_promotes_queued(tmp_path: Path) -> None:
    journal = LevelStore(tmp_path / "db")
    accounts = FakeAccounts()
    pool = make_pool(accounts, journal)
    included = pool.add(sign(0, nonce=0), BASE_FEE)
    stale = pool.add(sign(1, nonce=0), BASE_FEE)
    bob_future = pool.add(sign(1, nonce=2), BASE_FEE)
    assert pool.journal_deletions([included]) == {journal_key(included.hash): None}

    # Alice's tx went in; Bob's nonces 0 and 1 were used elsewhere (say, by deposits).
    accounts.nonces.update({ALICE: 1, BOB: 2})
    pool.on_new_block([included.hash], accounts)

    assert included.hash not in pool and stale.hash not in pool
    assert pool.content() == {"pending": {BOB: {2: bob_future}}, "queued": {}}
    assert pool.pending_nonce(ALICE) == 1
    assert pool.pending_nonce(BOB) == 3
    # The block's own batch deletes the included key; the pool deletes only the stale one.
    assert journal.get(journal_key(included.hash)) == included.raw
    assert journal.get(journal_key(stale.hash)) is None
    journal.close()


def test_new_block_drops_what_the_balance_no_longer_covers_and_demotes_the_rest() -> None:
    accounts = FakeAccounts()
    pool = make_pool(accounts)
    pool.add(sign(nonce=0), BASE_FEE)
    pool.add(sign(nonce=1, value=ETHER), BASE_FEE)
    third = pool.add(sign(nonce=2), BASE_FEE)
    accounts.balances[ALICE] = ETHER // 2
    pool.on_new_block([], accounts)
    assert pool.content() == {
        "pending": {ALICE: {0: pool.content()["pending"][ALICE][0]}},
        "queued": {ALICE: {2: third}},
    }
    assert pool.pending_nonce(ALICE) == 1


def test_drop_demotes_later_nonces_and_leaves_the_journal(tmp_path: Path) -> None:
    journal = LevelStore(tmp_path / "db")
    pool = make_pool(journal=journal)
    first, second, third = (pool.add(sign(nonce=n), BASE_FEE) for n in range(3))
    pool.drop(first.hash, "nonce too high")
    pool.drop(b"\x00" * 32, "unknown hashes are ignored")
    assert pool.content() == {"pending": {}, "queued": {ALICE: {1: second, 2: third}}}
    assert journal.get(journal_key(first.hash)) is None
    assert journal.get(journal_key(second.hash)) == second.raw
    journal.close()


@pytest.mark.parametrize("queue_limit", [0, 1])
def test_demotion_past_the_queue_limit_drops_the_highest_nonces(
    tmp_path: Path, queue_limit: int
) -> None:
    journal = LevelStore(tmp_path / "db")
    pool = make_pool(journal=journal, max_future_per_sender=queue_limit)
    first, second, third = (pool.add(sign(nonce=n), BASE_FEE) for n in range(3))
    pool.drop(first.hash, "unincludable")
    kept = [second][:queue_limit]
    assert pool.content()["queued"] == ({ALICE: {1: second}} if kept else {})
    assert len(pool) == len(kept)
    assert journal.get(journal_key(third.hash)) is None
    journal.close()


# -- journal -----------------------------------------------------------------------------------


def test_journal_restore_readmits_and_deletes_what_no_longer_passes(tmp_path: Path) -> None:
    journal = LevelStore(tmp_path / "db")
    pool = make_pool(journal=journal)
    alice = [pool.add(sign(0, nonce=n), BASE_FEE) for n in range(3)]
    bob = pool.add(sign(1, nonce=0), BASE_FEE)
    carol_future = pool.add(sign(2, nonce=4), BASE_FEE)
    journal.put(journal_key(b"\x11" * 32), b"\x02\xc0")  # a corrupt entry

    # A restart: Bob's transaction was included meanwhile, but its key survived.
    restarted = make_pool(FakeAccounts(nonces={BOB: 1}), journal)
    assert restarted.restore(BASE_FEE) == 4
    assert restarted.content() == {
        "pending": {ALICE: {n: alice[n] for n in range(3)}},
        "queued": {CAROL: {4: carol_future}},
    }
    assert restarted.get(alice[0].hash) == alice[0]
    kept = {key for key, _ in journal.iterate_prefix(JOURNAL_PREFIX)}
    assert kept == {journal_key(tx.hash) for tx in [*alice, carol_future]}
    assert journal_key(bob.hash) not in kept
    journal.close()


def test_journal_survives_reopening_the_database(tmp_path: Path) -> None:
    journal = LevelStore(tmp_path / "db")
    admitted = make_pool(journal=journal).add(sign(), BASE_FEE)
    journal.close()
    reopened = LevelStore(tmp_path / "db")
    pool = make_pool(journal=reopened)
    assert pool.restore(BASE_FEE) == 1
    assert admitted.hash in pool
    reopened.close()


def test_pool_without_journal_restores_nothing() -> None:
    pool = make_pool()
    pool.add(sign(), BASE_FEE)
    assert pool.restore(BASE_FEE) == 0
    assert pool.journal_deletions([b"\x00" * 32]) == {}


# -- listeners ---------------------------------------------------------------------------------


def test_listeners_hear_each_admission_once_and_cannot_break_it() -> None:
    pool = make_pool()
    heard: list[AdmittedTransaction] = []

    def failing(_: AdmittedTransaction) -> None:
        raise RuntimeError("subscriber gone")

    listeners: list[Callable[[AdmittedTransaction], None]] = [failing, heard.append]
    for listener in listeners:
        pool.subscribe(listener)
    admitted = pool.add(sign(), BASE_FEE)
    with pytest.raises(InvalidTransaction):
        pool.add(sign(), BASE_FEE)
    assert heard == [admitted]
