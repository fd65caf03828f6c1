"""Randomized sequences (hypothesis) against InferencePayments, checked after every step.

Each example deploys a fresh InferencePayments (over shared registries), then runs a random
sequence of deposits, withdrawals, settlements (by the right or the wrong operator), session
revocations, reward claims and fee-split changes. A plain-Python model predicts every outcome,
reverts included, and after every step the chain must agree with it:

- conservation: sum(prepaid balances) + sum(claimable, treasury included) + withdrawn + claimed
  == all OPEN paid in, and the contract holds exactly balances + claimable + operator stakes;
- nobody withdraws another's rewards: a claim moves exactly the caller's claimable balance to
  the caller, and every other claimable balance is unchanged;
- a session is never charged beyond its maximum, never after its revocation, and never by an
  operator it does not name.

Example counts are small (the suite runs against two real nodes) and derandomized, so CI runs
the same sequences every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.contracts import builders as b
from tests.contracts.conftest import TOKEN, Chain, Deployment
from tests.contracts.reference import Session, split_fee
from tests.helpers.fees import fee_paid

pytestmark = pytest.mark.slow

PRICE = 10**15 + 13
USERS = 2
SESSIONS = 2
"""Per user; session k names operator k."""
EXAMPLES = 10
STEPS = 10

user_index = st.integers(0, USERS - 1)
deposit = st.tuples(st.just("deposit"), user_index, st.integers(1, 3 * PRICE))
withdraw = st.tuples(st.just("withdraw"), user_index, st.integers(1, 3 * PRICE))
settle = st.tuples(
    st.just("settle"),
    user_index,
    st.integers(0, SESSIONS - 1),  # session
    st.integers(0, SESSIONS - 1),  # operator who sends
    st.lists(st.integers(1, 2**64 - 1), min_size=1, max_size=3),  # weights
)
revoke = st.tuples(st.just("revoke"), user_index, st.integers(0, SESSIONS - 1))
claim = st.tuples(st.just("claim"), st.integers(0, 5))  # index into World.claimers
split = st.tuples(st.just("split"), st.integers(0, 10_000), st.integers(0, 10_000))
steps = st.lists(
    st.one_of(settle, settle, settle, claim, claim, deposit, withdraw, revoke, split),
    min_size=STEPS // 2,
    max_size=STEPS,
)
max_totals = st.lists(
    st.sampled_from([3 * PRICE + 5, 2 * PRICE, PRICE, PRICE - 1, 0]),
    min_size=USERS * SESSIONS,
    max_size=USERS * SESSIONS,
)
"""Mostly room for a few calls; sometimes none."""
OPENING_DEPOSIT = 2 * PRICE


@dataclass(frozen=True)
class Registries:
    d: Deployment
    world: b.ApprovedDatanet
    adapter_owner: LocalAccount
    adapter_id: int


@pytest.fixture(scope="module")
def registries(chain: Chain, deployment: Deployment) -> Registries:
    world = b.approved_datanet(chain, deployment, [chain.account() for _ in range(3)])
    owner = chain.account()
    adapter_id = b.adapter(chain, deployment, owner, world.datanet_id, 1, PRICE)
    return Registries(deployment, world, owner, adapter_id)


@dataclass
class Model:
    """What the chain should hold."""

    owner_bps: int = 4_000
    treasury_bps: int = 1_000
    balances: dict[str, int] = field(default_factory=dict)
    claimable: dict[str, int] = field(default_factory=dict)
    spent: dict[tuple[int, int], int] = field(default_factory=dict)
    revoked: set[tuple[int, int]] = field(default_factory=set)
    paid_in: int = 0
    paid_out: int = 0


@given(max_totals=max_totals, ops=steps)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_sequences_keep_the_books(
    chain: Chain, registries: Registries, max_totals: list[int], ops: list[tuple]
) -> None:
    r = registries
    governance = chain.account()
    treasury = chain.account(fund=0)
    payments = chain.deploy(
        "InferencePayments",
        governance,
        r.d.models.address,
        r.d.datanets.address,
        treasury.address,
        governance.address,
    )
    fns = payments.functions
    operators = []
    for _ in range(SESSIONS):
        op = chain.account()
        chain.transact(op, fns.registerOperator(), value=TOKEN)
        operators.append(op)
    users = [chain.account() for _ in range(USERS)]
    contributors = list(r.world.contributors)
    claimers = [*contributors, r.adapter_owner, treasury, users[0]]
    ids = list(r.world.contribution_ids)
    model = Model()
    for user in users:
        chain.transact(user, fns.deposit(), value=OPENING_DEPOSIT)
        model.balances[user.address] = OPENING_DEPOSIT
        model.paid_in += OPENING_DEPOSIT
    sessions: dict[tuple[int, int], tuple[Session, bytes]] = {}
    d = Deployment(r.d.datanets, r.d.models, payments, governance, treasury)
    for u in range(USERS):
        for k in range(SESSIONS):
            sessions[(u, k)] = b.session(
                chain, d, users[u], operators[k].address, max_totals[u * SESSIONS + k], nonce=k
            )

    for op in ops:
        kind = op[0]
        if kind == "deposit":
            _, u, amount = op
            chain.transact(users[u], fns.deposit(), value=amount)
            model.balances[users[u].address] = model.balances.get(users[u].address, 0) + amount
            model.paid_in += amount
        elif kind == "withdraw":
            _, u, amount = op
            available = model.balances.get(users[u].address, 0)
            if amount > available:
                chain.expect_revert(users[u], fns.withdraw(amount), "InsufficientBalance")
            else:
                chain.transact(users[u], fns.withdraw(amount))
                model.balances[users[u].address] = available - amount
                model.paid_out += amount
        elif kind == "revoke":
            _, u, k = op
            if (u, k) in model.revoked:
                chain.expect_revert(users[u], fns.revokeSession(k), "AlreadyRevoked")
            else:
                chain.transact(users[u], fns.revokeSession(k))
                model.revoked.add((u, k))
        elif kind == "split":
            _, a, c = op
            owner_bps, treasury_bps = min(a, c), 10_000 - max(a, c)
            chain.transact(
                governance, fns.setFeeSplit(owner_bps, max(a, c) - min(a, c), treasury_bps)
            )
            model.owner_bps, model.treasury_bps = owner_bps, treasury_bps
        elif kind == "claim":
            account = claimers[op[1]]
            owed = model.claimable.get(account.address, 0)
            if owed == 0:
                chain.expect_revert(account, fns.claimRewards(), "NothingToClaim", account.address)
            else:
                if chain.balance(account.address) < TOKEN // 10:
                    chain.send_raw(
                        chain.funders[0], {"to": account.address, "value": TOKEN, "gas": 21_000}
                    )
                before = chain.balance(account.address)
                receipt = chain.transact(account, fns.claimRewards())
                event("claimed")
                cost = fee_paid(receipt)
                assert chain.balance(account.address) == before + owed - cost
                model.claimable[account.address] = 0
                model.paid_out += owed
        else:
            _, u, k, sender_k, weights = op
            session, signature = sessions[(u, k)]
            chosen = ids[: len(weights)]
            struct = b.settlement(session, signature, r.adapter_id, chosen, weights)
            sender = operators[sender_k]
            spent = model.spent.get((u, k), 0)
            balance = model.balances.get(users[u].address, 0)
            if sender_k != k:
                chain.expect_revert(sender, fns.settle(struct), "WrongOperator")
                event("WrongOperator")
            elif (u, k) in model.revoked:
                chain.expect_revert(sender, fns.settle(struct), "SessionIsRevoked")
                event("SessionIsRevoked")
            elif spent + PRICE > session.max_total:
                chain.expect_revert(sender, fns.settle(struct), "SessionLimitExceeded")
                event("SessionLimitExceeded")
            elif balance < PRICE:
                chain.expect_revert(sender, fns.settle(struct), "InsufficientBalance")
                event("InsufficientBalance")
            else:
                chain.transact(sender, fns.settle(struct))
                event("settled")
                model.spent[(u, k)] = spent + PRICE
                model.balances[users[u].address] = balance - PRICE
                parts = split_fee(PRICE, model.owner_bps, model.treasury_bps, weights)
                credits = [
                    *zip((c.address for c in contributors), parts.shares, strict=False),
                    (r.adapter_owner.address, parts.owner),
                    (treasury.address, parts.treasury),
                ]
                for address, amount in credits:
                    model.claimable[address] = model.claimable.get(address, 0) + amount

        _check(chain, fns, model, users, claimers, sessions, operators)


def _check(chain, fns, model, users, claimers, sessions, operators) -> None:
    balances = {u.address: fns.balanceOf(u.address).call() for u in users}
    claimable = {c.address: fns.claimable(c.address).call() for c in claimers}
    assert balances == {u.address: model.balances.get(u.address, 0) for u in users}
    assert claimable == {c.address: model.claimable.get(c.address, 0) for c in claimers}
    held = sum(balances.values()) + sum(claimable.values())
    assert held + model.paid_out == model.paid_in
    stakes = len(operators) * TOKEN
    assert chain.balance(fns.balanceOf.address) == held + stakes
    for (u, k), (session, _) in sessions.items():
        state = fns.sessionState(users[u].address, k).call()
        assert state[1] == model.spent.get((u, k), 0) <= session.max_total
        assert state[2] == ((u, k) in model.revoked)
