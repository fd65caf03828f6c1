"""InferencePayments: every function, view and revert path, on the node and on anvil."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from tests.contracts import builders as b
from tests.contracts.conftest import TOKEN, Chain, Deployment, deploy_all
from tests.contracts.reference import split_fee
from tests.helpers.fees import fee_paid
from tests.helpers.targets import CHAIN_ID

pytestmark = pytest.mark.slow

PRICE = 10**15 + 7
"""An awkward price, so every split has rounding remainders."""
ZERO_ADDRESS = "0x" + "00" * 20
OWNER_BPS, CONTRIBUTORS_BPS, TREASURY_BPS = 4_000, 5_000, 1_000
OWNER, CONTRIBUTOR, TREASURY = 0, 1, 2


@dataclass(frozen=True)
class Market:
    """A datanet (3 contributions in version 1, a 4th in version 2), an adapter on version 1,
    an operator, and a user with a prepaid balance."""

    d: Deployment
    world: b.ApprovedDatanet
    late_contribution: int
    """Approved in version 2: not rewardable through the version-1 adapter."""
    adapter_owner: LocalAccount
    adapter_id: int
    operator: LocalAccount


@pytest.fixture(scope="module")
def market(chain: Chain, deployment: Deployment) -> Market:
    d = deployment
    world = b.approved_datanet(chain, d, [chain.account() for _ in range(3)])
    late = b.contribute(chain, d, chain.account(), world.datanet_id)
    chain.transact(world.owner, d.datanets.functions.approve([late]))
    owner = chain.account()
    adapter_id = b.adapter(chain, d, owner, world.datanet_id, 1, PRICE)
    return Market(d, world, late, owner, adapter_id, b.operator(chain, d))


def funded_user(chain: Chain, m: Market, deposit: int = 10 * PRICE) -> LocalAccount:
    user = chain.account()
    chain.transact(user, m.d.payments.functions.deposit(), value=deposit)
    return user


def attribution(m: Market) -> tuple[list[int], list[int]]:
    return list(m.world.contribution_ids), [3, 1, 1]


def settle_one(
    chain: Chain, m: Market, user: LocalAccount, nonce: int, **overrides: Any
) -> dict[str, Any]:
    """Build a settlement with defaults, ``overrides`` replacing any field."""
    s, sig = b.session(
        chain,
        m.d,
        user,
        overrides.pop("session_operator", m.operator.address),
        overrides.pop("max_total", 5 * PRICE),
        nonce,
        adapter_id=overrides.pop("session_adapter", 0),
        expiry=overrides.pop("expiry", None),
    )
    ids, weights = attribution(m)
    fields = {
        "session": s,
        "signature": sig,
        "adapter_id": m.adapter_id,
        "ids": ids,
        "weights": weights,
        "request": b.request_hash(),
    }
    fields.update(overrides)
    return fields


def as_struct(f: dict[str, Any]) -> tuple[Any, ...]:
    return b.settlement(
        f["session"], f["signature"], f["adapter_id"], f["ids"], f["weights"], f["request"]
    )


# --- prepaid balances ----------------------------------------------------------------------


def test_deposit_withdraw(chain: Chain, deployment: Deployment) -> None:
    fns = deployment.payments.functions
    user, sponsor = chain.account(), chain.account()
    chain.expect_revert(user, fns.deposit(), "ZeroAmount")
    chain.expect_revert(user, fns.depositFor(user.address), "ZeroAmount")
    chain.expect_revert(user, fns.depositFor(ZERO_ADDRESS), "ZeroAddress", value=1)
    receipt = chain.transact(user, fns.deposit(), value=100)
    (event,) = chain.events(deployment.payments, receipt, "Deposited")
    assert (event["user"], event["from"], event["amount"]) == (user.address, user.address, 100)
    receipt = chain.transact(sponsor, fns.depositFor(user.address), value=50)
    assert chain.events(deployment.payments, receipt, "Deposited")[0]["from"] == sponsor.address
    assert fns.balanceOf(user.address).call() == 150

    chain.expect_revert(user, fns.withdraw(0), "ZeroAmount")
    chain.expect_revert(user, fns.withdraw(151), "InsufficientBalance", 150, 151)
    chain.expect_revert(sponsor, fns.withdraw(1), "InsufficientBalance", 0, 1)
    before = chain.balance(user.address)
    receipt = chain.transact(user, fns.withdraw(120))
    cost = fee_paid(receipt)
    assert chain.balance(user.address) == before + 120 - cost
    assert chain.events(deployment.payments, receipt, "Withdrawn")[0]["amount"] == 120
    assert fns.balanceOf(user.address).call() == 30


# --- operators and governance --------------------------------------------------------------


def test_operator_life_cycle_and_slashing(chain: Chain) -> None:
    d = deploy_all(chain)  # own contracts: this test changes governance settings
    fns = d.payments.functions
    op, stranger = chain.account(), chain.account()
    assert fns.minOperatorStake().call() == TOKEN
    assert fns.unbondingPeriod().call() == 7 * 24 * 3600

    chain.expect_revert(
        op, fns.registerOperator(), "InsufficientStake", TOKEN, TOKEN - 1, value=TOKEN - 1
    )
    receipt = chain.transact(op, fns.registerOperator(), value=TOKEN)
    assert chain.events(d.payments, receipt, "OperatorRegistered")[0]["stake"] == TOKEN
    assert fns.operatorInfo(op.address).call() == (TOKEN, True, False, 0)
    assert fns.isActiveOperator(op.address).call()
    chain.expect_revert(op, fns.registerOperator(), "AlreadyRegistered", op.address, value=TOKEN)

    chain.expect_revert(stranger, fns.addStake(), "NotOperator", stranger.address, value=1)
    chain.expect_revert(op, fns.addStake(), "ZeroAmount")
    receipt = chain.transact(op, fns.addStake(), value=5)
    assert chain.events(d.payments, receipt, "StakeAdded")[0]["stake"] == TOKEN + 5

    # Slashing: governance only, within the stake, to the treasury's claimable balance.
    chain.expect_revert(stranger, fns.slash(op.address, 1, "x"), "OwnableUnauthorizedAccount")
    chain.expect_revert(d.governance, fns.slash(stranger.address, 1, "x"), "NotOperator")
    chain.expect_revert(d.governance, fns.slash(op.address, 0, "x"), "ZeroAmount")
    chain.expect_revert(
        d.governance,
        fns.slash(op.address, TOKEN + 6, "x"),
        "SlashExceedsStake",
        TOKEN + 5,
        TOKEN + 6,
    )
    receipt = chain.transact(d.governance, fns.slash(op.address, 10, "bad output"))
    (event,) = chain.events(d.payments, receipt, "OperatorSlashed")
    assert (event["treasury"], event["amount"], event["reason"]) == (
        d.treasury.address,
        10,
        "bad output",
    )
    assert fns.claimable(d.treasury.address).call() == 10
    # Now below the minimum: still registered but not active until topped up.
    assert not fns.isActiveOperator(op.address).call()
    chain.transact(op, fns.addStake(), value=5)
    assert fns.isActiveOperator(op.address).call()

    # Exit: unbonding first.
    chain.expect_revert(stranger, fns.requestExit(), "NotOperator")
    chain.expect_revert(op, fns.withdrawStake(), "ExitNotRequested", op.address)
    receipt = chain.transact(op, fns.requestExit())
    available_at = chain.events(d.payments, receipt, "ExitRequested")[0]["availableAt"]
    assert available_at == chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] + 7 * 86400
    assert not fns.isActiveOperator(op.address).call()
    chain.expect_revert(op, fns.requestExit(), "OperatorExiting", op.address)
    chain.expect_revert(op, fns.addStake(), "OperatorExiting", value=1)
    chain.expect_revert(op, fns.withdrawStake(), "UnbondingNotOver", available_at)
    chain.expect_revert(stranger, fns.withdrawStake(), "NotOperator")

    # A second operator exits under a zero unbonding period and takes its stake.
    quick = chain.account()
    chain.transact(quick, fns.registerOperator(), value=TOKEN)
    chain.expect_revert(stranger, fns.setUnbondingPeriod(0), "OwnableUnauthorizedAccount")
    chain.transact(d.governance, fns.setUnbondingPeriod(0))
    chain.transact(quick, fns.requestExit())
    before = chain.balance(quick.address)
    receipt = chain.transact(quick, fns.withdrawStake())
    cost = fee_paid(receipt)
    assert chain.balance(quick.address) == before + TOKEN - cost
    assert chain.events(d.payments, receipt, "StakeWithdrawn")[0]["amount"] == TOKEN
    assert fns.operatorInfo(quick.address).call() == (0, False, False, 0)

    # Minimum stake changes apply to registration and to settling.
    chain.expect_revert(stranger, fns.setMinOperatorStake(1), "OwnableUnauthorizedAccount")
    receipt = chain.transact(d.governance, fns.setMinOperatorStake(2 * TOKEN))
    assert (
        chain.events(d.payments, receipt, "MinOperatorStakeChanged")[0]["minOperatorStake"]
        == 2 * TOKEN
    )
    chain.expect_revert(quick, fns.registerOperator(), "InsufficientStake", value=TOKEN)


def test_governance_settings(chain: Chain) -> None:
    d = deploy_all(chain)
    fns = d.payments.functions
    stranger = chain.account()
    assert fns.feeSplit().call() == [OWNER_BPS, CONTRIBUTORS_BPS, TREASURY_BPS]
    assert fns.owner().call() == d.governance.address
    assert fns.treasury().call() == d.treasury.address
    assert fns.models().call() == d.models.address
    assert fns.datanets().call() == d.datanets.address
    chain.expect_revert(stranger, fns.setFeeSplit(0, 10_000, 0), "OwnableUnauthorizedAccount")
    chain.expect_revert(d.governance, fns.setFeeSplit(1, 2, 3), "InvalidSplit", 1, 2, 3)
    chain.expect_revert(d.governance, fns.setFeeSplit(10_000, 1, 0), "InvalidSplit")
    receipt = chain.transact(d.governance, fns.setFeeSplit(2_500, 7_000, 500))
    event = chain.events(d.payments, receipt, "FeeSplitChanged")[0]
    assert (event["ownerBps"], event["contributorsBps"], event["treasuryBps"]) == (
        2_500,
        7_000,
        500,
    )
    assert fns.feeSplit().call() == [2_500, 7_000, 500]
    assert fns.splitFee(12_345, [2, 1]).call() == [
        split_fee(12_345, 2_500, 500, [2, 1]).owner,
        split_fee(12_345, 2_500, 500, [2, 1]).treasury,
        list(split_fee(12_345, 2_500, 500, [2, 1]).shares),
    ]
    new_treasury = chain.account(fund=0)
    chain.expect_revert(
        stranger, fns.setTreasury(new_treasury.address), "OwnableUnauthorizedAccount"
    )
    chain.expect_revert(d.governance, fns.setTreasury(ZERO_ADDRESS), "ZeroAddress")
    chain.transact(d.governance, fns.setTreasury(new_treasury.address))
    assert fns.treasury().call() == new_treasury.address
    # Two-step ownership transfer.
    chain.transact(d.governance, fns.transferOwnership(stranger.address))
    assert fns.pendingOwner().call() == stranger.address
    chain.transact(stranger, fns.acceptOwnership())
    assert fns.owner().call() == stranger.address


def test_constructor_and_ownership_reverts(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    good = [d.models.address, d.datanets.address, d.treasury.address, d.governance.address]
    for index in range(3):
        args = list(good)
        args[index] = ZERO_ADDRESS
        assert chain.constructor_revert("InferencePayments", *args).name == "ZeroAddress"
    revert = chain.constructor_revert("InferencePayments", *good[:3], ZERO_ADDRESS)
    assert (revert.name, revert.args) == ("OwnableInvalidOwner", (ZERO_ADDRESS,))
    fns = d.payments.functions
    stranger = chain.account(fund=0)
    chain.expect_revert(
        stranger, fns.transferOwnership(stranger.address), "OwnableUnauthorizedAccount"
    )
    chain.expect_revert(
        stranger, fns.acceptOwnership(), "OwnableUnauthorizedAccount", stranger.address
    )


@pytest.mark.parametrize(
    ("fee", "weights"),
    [(0, [1]), (1, [1]), (PRICE, [3, 1, 1]), (10**18 + 3, [7, 7, 7]), (99, [1, 2**64 - 1])],
)
def test_split_fee_matches_reference(
    chain: Chain, deployment: Deployment, fee: int, weights: list[int]
) -> None:
    on_chain = deployment.payments.functions.splitFee(fee, weights).call()
    expected = split_fee(fee, OWNER_BPS, TREASURY_BPS, weights)
    assert on_chain == [expected.owner, expected.treasury, list(expected.shares)]
    assert expected.total == fee


def test_split_fee_reverts(chain: Chain, deployment: Deployment) -> None:
    a = chain.account(fund=0)
    chain.expect_revert(a, deployment.payments.functions.splitFee(1, []), "EmptyAttribution")
    chain.expect_revert(a, deployment.payments.functions.splitFee(1, [1, 0]), "ZeroWeight", 1)


# --- settlement ----------------------------------------------------------------------------


def test_session_digest_is_the_wallets(chain: Chain, market: Market) -> None:
    user = chain.account(fund=0)
    s, _ = b.session(chain, market.d, user, market.operator.address, 5, 1, adapter_id=3)
    message = encode_typed_data(full_message=s.typed_data(CHAIN_ID, market.d.payments.address))
    wallet_digest = keccak(b"\x19" + message.version + message.header + message.body)
    assert market.d.payments.functions.hashSession(s.as_tuple()).call() == wallet_digest


def test_settle_charges_and_splits_exactly(chain: Chain, market: Market) -> None:
    m, fns = market, market.d.payments.functions
    user = funded_user(chain, m)
    f = settle_one(chain, m, user, nonce=1)
    request = f["request"] = b.request_hash()
    claimable_before = {
        a: fns.claimable(a).call()
        for a in [
            m.adapter_owner.address,
            m.d.treasury.address,
            *(c.address for c in m.world.contributors),
        ]
    }
    receipt = chain.transact(m.operator, fns.settle(as_struct(f)))

    (opened,) = chain.events(m.d.payments, receipt, "SessionOpened")
    assert (opened["user"], opened["nonce"], opened["operator"]) == (
        user.address,
        1,
        m.operator.address,
    )
    (settled,) = chain.events(m.d.payments, receipt, "InferenceSettled")
    inference_id = settled["inferenceId"]
    assert settled["user"] == user.address
    assert settled["fee"] == PRICE
    assert settled["requestHash"] == request
    assert settled["contributionIds"] == list(m.world.contribution_ids)
    assert settled["weights"] == [3, 1, 1]
    assert fns.inferenceIdOf(request).call() == inference_id
    assert fns.inferenceCount().call() >= inference_id
    assert fns.balanceOf(user.address).call() == 9 * PRICE
    state = fns.sessionState(user.address, 1).call()
    assert state == (opened["digest"], PRICE, False)

    expected = split_fee(PRICE, OWNER_BPS, TREASURY_BPS, [3, 1, 1])
    credits = chain.events(m.d.payments, receipt, "RewardCredited")
    by_kind = [(c["kind"], c["account"], c["contributionId"], c["amount"]) for c in credits]
    assert by_kind == [
        *(
            (CONTRIBUTOR, c.address, cid, share)
            for c, cid, share in zip(
                m.world.contributors, m.world.contribution_ids, expected.shares, strict=True
            )
        ),
        (OWNER, m.adapter_owner.address, 0, expected.owner),
        (TREASURY, m.d.treasury.address, 0, expected.treasury),
    ]
    assert sum(c["amount"] for c in credits) == PRICE
    for kind, account, _, amount in by_kind:
        assert fns.claimable(account).call() == claimable_before[account] + amount
        if kind == CONTRIBUTOR:
            assert fns.earningsByDatanet(account, m.world.datanet_id).call() == amount
            assert fns.earningsByAdapter(account, m.adapter_id).call() == amount

    # Pull: the contributor gets exactly its claimable balance; a stranger gets nothing.
    contributor = m.world.contributors[0]
    owed = fns.claimable(contributor.address).call()
    before = chain.balance(contributor.address)
    receipt = chain.transact(contributor, fns.claimRewards())
    cost = fee_paid(receipt)
    assert chain.balance(contributor.address) == before + owed - cost
    assert chain.events(m.d.payments, receipt, "RewardsClaimed")[0]["amount"] == owed
    assert fns.claimable(contributor.address).call() == 0
    chain.expect_revert(contributor, fns.claimRewards(), "NothingToClaim", contributor.address)
    stranger = chain.account()
    chain.expect_revert(stranger, fns.claimRewards(), "NothingToClaim", stranger.address)


def test_settle_batch_reuses_a_bound_session(chain: Chain, market: Market) -> None:
    m, fns = market, market.d.payments.functions
    user = funded_user(chain, m)
    first = settle_one(chain, m, user, nonce=7, session_adapter=m.adapter_id)
    batch = [as_struct(first)]
    for _ in range(4):
        again = dict(first, signature=b"", request=None)  # bound after the first: no signature
        batch.append(as_struct(again))
    chain.expect_revert(m.operator, fns.settleBatch([]), "EmptyBatch")
    receipt = chain.transact(m.operator, fns.settleBatch(batch))
    settled = chain.events(m.d.payments, receipt, "InferenceSettled")
    ids = [e["inferenceId"] for e in settled]
    assert ids == list(range(ids[0], ids[0] + 5))
    assert len(chain.events(m.d.payments, receipt, "SessionOpened")) == 1
    assert fns.sessionState(user.address, 7).call()[1] == 5 * PRICE
    assert fns.balanceOf(user.address).call() == 5 * PRICE
    # The sixth call would exceed maxTotal = 5 * PRICE; the whole batch reverts atomically.
    sixth = as_struct(dict(first, signature=b"", request=None))
    chain.expect_revert(
        m.operator, fns.settleBatch([sixth]), "SessionLimitExceeded", 5 * PRICE, 6 * PRICE
    )
    # An unsigned session that was never bound is refused.
    fresh = settle_one(chain, m, user, nonce=8, signature=b"")
    chain.expect_revert(
        m.operator, fns.settleBatch([as_struct(fresh)]), "InvalidSignature", user.address
    )


def test_settle_reverts(chain: Chain, market: Market) -> None:
    m, fns = market, market.d.payments.functions
    user = funded_user(chain, m, deposit=3 * PRICE)
    op = m.operator

    def expect(name: str, *args: Any, sender: LocalAccount = op, **fields: Any) -> None:
        f = settle_one(chain, m, user, nonce=fields.pop("nonce", 100), **fields)
        chain.expect_revert(sender, fns.settle(as_struct(f)), name, *args)

    stranger = chain.account()
    expect("NotOperator", stranger.address, sender=stranger)
    other_op = b.operator(chain, m.d)
    expect("WrongOperator", op.address, other_op.address, sender=other_op)
    expect("SessionExpired", 5, expiry=5)
    expect("WrongAdapter", m.adapter_id + 1, m.adapter_id, session_adapter=m.adapter_id + 1)
    other_user = chain.account(fund=0)
    f = settle_one(chain, m, user, nonce=100)
    f["signature"] = b.sign_session(other_user, f["session"], CHAIN_ID, m.d.payments.address)
    chain.expect_revert(op, fns.settle(as_struct(f)), "InvalidSignature", user.address)
    expect("EmptyRequestHash", request=bytes(32))
    expect("UnknownAdapter", 10**9, adapter_id=10**9)
    expect("SessionLimitExceeded", PRICE - 1, PRICE, max_total=PRICE - 1)
    expect("EmptyAttribution", ids=[], weights=[])
    expect("LengthMismatch", 3, 2, weights=[1, 1])
    expect("ZeroWeight", 1, weights=[1, 0, 1])
    ids = list(m.world.contribution_ids)
    expect("UnsortedContributions", 1, ids=[ids[1], ids[0], ids[2]])
    expect("UnsortedContributions", 1, ids=[ids[0], ids[0], ids[2]])
    expect(
        "ContributionNotRewardable",
        m.late_contribution,
        m.adapter_id,
        ids=[m.late_contribution],
        weights=[1],
    )
    expect("ContributionNotRewardable", 10**9, m.adapter_id, ids=[10**9], weights=[1])
    # A pending contribution of the right datanet is not rewardable either.
    pending = b.contribute(chain, m.d, chain.account(), m.world.datanet_id)
    expect("ContributionNotRewardable", pending, m.adapter_id, ids=[pending], weights=[1])
    # Another datanet's approved contribution is not rewardable through this adapter.
    other = b.approved_datanet(chain, m.d, [chain.account()])
    expect(
        "ContributionNotRewardable",
        other.contribution_ids[0],
        m.adapter_id,
        ids=list(other.contribution_ids),
        weights=[1],
    )
    poor = chain.account()
    f = settle_one(chain, m, poor, nonce=1)
    chain.expect_revert(op, fns.settle(as_struct(f)), "InsufficientBalance", 0, PRICE)

    # Duplicate request, nonce reuse with another session, revocation.
    done = settle_one(chain, m, user, nonce=101)
    chain.transact(op, fns.settle(as_struct(done)))
    again = settle_one(chain, m, user, nonce=102, request=done["request"])
    inference_id = fns.inferenceIdOf(done["request"]).call()
    chain.expect_revert(
        op, fns.settle(as_struct(again)), "DuplicateRequest", done["request"], inference_id
    )
    expect("NonceAlreadyUsed", user.address, 101, nonce=101, max_total=9 * PRICE)
    receipt = chain.transact(user, fns.revokeSession(101))
    assert chain.events(m.d.payments, receipt, "SessionRevoked")[0]["nonce"] == 101
    assert fns.sessionState(user.address, 101).call()[2] is True
    chain.expect_revert(user, fns.revokeSession(101), "AlreadyRevoked", user.address, 101)
    replay = dict(done, request=None)
    chain.expect_revert(op, fns.settle(as_struct(replay)), "SessionIsRevoked", user.address, 101)
    # Revoking a nonce before it is ever used kills it too.
    chain.transact(user, fns.revokeSession(103))
    expect("SessionIsRevoked", user.address, 103, nonce=103)

    # Deprecated adapter.
    deprecated = b.adapter(chain, m.d, m.adapter_owner, m.world.datanet_id, 1, PRICE)
    chain.transact(m.adapter_owner, m.d.models.functions.deprecate(deprecated))
    expect("AdapterIsDeprecated", deprecated, adapter_id=deprecated)


def test_exiting_or_underfunded_operator_cannot_settle(chain: Chain, market: Market) -> None:
    m, fns = market, market.d.payments.functions
    user = funded_user(chain, m)
    op = b.operator(chain, m.d)
    chain.transact(op, fns.requestExit())
    f = settle_one(chain, m, user, nonce=1, session_operator=op.address)
    chain.expect_revert(op, fns.settle(as_struct(f)), "OperatorExiting", op.address)
    chain.expect_revert(op, fns.settleBatch([as_struct(f)]), "OperatorExiting", op.address)
    slashed = b.operator(chain, m.d)
    chain.transact(m.d.governance, fns.slash(slashed.address, 1, "test"))
    f = settle_one(chain, m, user, nonce=2, session_operator=slashed.address)
    chain.expect_revert(slashed, fns.settle(as_struct(f)), "InsufficientStake", TOKEN, TOKEN - 1)


def test_zero_price_adapter_records_attribution_without_credits(
    chain: Chain, market: Market
) -> None:
    m, fns = market, market.d.payments.functions
    free = b.adapter(chain, m.d, m.adapter_owner, m.world.datanet_id, 1, price=0)
    user = chain.account()
    f = settle_one(chain, m, user, nonce=1, adapter_id=free)
    receipt = chain.transact(m.operator, fns.settle(as_struct(f)))
    assert chain.events(m.d.payments, receipt, "InferenceSettled")[0]["fee"] == 0
    assert chain.events(m.d.payments, receipt, "RewardCredited") == []
