"""Attacks on the payouts and the session signatures, on the node and on anvil.

Every payout (InferencePayments ``claimRewards``, ``withdraw``, ``withdrawStake`` and
DatanetRegistry ``withdraw``) is pulled by a contract account (tests/fixtures/contracts
PayoutRecipient) that either re-enters from its ``receive()`` or refuses the OPEN: the re-entry
must hit the reentrancy guard and the recipient be paid exactly once, and a refusal must revert
with ``TransferFailed`` and leave what is owed in place. Sessions of an ERC-1271 contract wallet
(SessionWallet) are accepted when its owner signed them; forged, malleated and replayed
signatures are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from tests.contracts import builders as b
from tests.contracts.conftest import TOKEN, Chain, Deployment, Revert, deploy_all
from tests.contracts.reference import Session, sign_session
from tests.helpers.targets import CHAIN_ID

pytestmark = pytest.mark.slow

STAKE = 10**15 + 1
"""Contribution stake of the recipients' datanets."""
PRICE = 10**15 + 7
PREPAID = 3 * PRICE + 5
ACCEPT, REJECT, REENTER = 0, 1, 2
"""PayoutRecipient.Mode."""
FAILED_TX_GAS = 500_000
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(scope="module")
def d(chain: Chain) -> Deployment:
    """Own contracts, with a zero unbonding period so operators can leave at once."""
    d = deploy_all(chain)
    chain.transact(d.governance, d.payments.functions.setUnbondingPeriod(0))
    return d


@pytest.fixture(scope="module")
def operator(chain: Chain, d: Deployment) -> LocalAccount:
    return b.operator(chain, d)


@dataclass(frozen=True)
class Recipient:
    """A PayoutRecipient and the key that drives it."""

    contract: Contract
    controller: LocalAccount

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def execute(self, call: ContractFunction) -> ContractFunction:
        return self.contract.functions.execute(call.address, call._encode_transaction_data())

    def do(self, chain: Chain, call: ContractFunction, value: int = 0) -> TxReceipt:
        """Make the contract send ``call`` (with ``value`` from the controller)."""
        return chain.transact(self.controller, self.execute(call), value=value)


def new_recipient(chain: Chain, artifacts: dict[str, dict[str, Any]]) -> Recipient:
    controller = chain.account()
    contract = chain.deploy_artifact(artifacts["PayoutRecipient"], controller)
    return Recipient(contract, controller)


def approved_contribution(chain: Chain, d: Deployment, r: Recipient) -> tuple[int, int]:
    """The recipient contributes (with STAKE) to a fresh datanet, approved as version 1."""
    owner = chain.account()
    datanet_id = b.create_datanet(chain, d, owner, STAKE)
    call = d.datanets.functions.contribute(datanet_id, b.content_hash(), "ipfs://x", 1)
    receipt = r.do(chain, call, value=STAKE)
    cid = int(chain.events(d.datanets, receipt, "ContributionSubmitted")[0]["contributionId"])
    chain.transact(owner, d.datanets.functions.approve([cid]))
    return datanet_id, cid


def credit_rewards(chain: Chain, d: Deployment, operator: LocalAccount, r: Recipient) -> int:
    """Make the recipient a rewarded contributor of one settled inference."""
    datanet_id, cid = approved_contribution(chain, d, r)
    adapter_id = b.adapter(chain, d, chain.account(), datanet_id, 1, PRICE)
    user = chain.account()
    chain.transact(user, d.payments.functions.deposit(), value=PRICE)
    s, sig = b.session(chain, d, user, operator.address, PRICE, 1)
    settlement = b.settlement(s, sig, adapter_id, [cid], [1])
    chain.transact(operator, d.payments.functions.settle(settlement))
    return int(d.payments.functions.claimable(r.address).call())


# --- the payouts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Payout:
    """One way OPEN leaves a contract, and the ledger entry it pays out of."""

    name: str
    target: Callable[[Deployment], Contract]
    fund: Callable[[Chain, Deployment, LocalAccount, Recipient], int]
    """Make something owed to the recipient; returns how much the payout will send."""
    call: Callable[[Deployment, int], ContractFunction]
    ledger: Callable[[Deployment, str], int]
    """The entry the payout is taken from; it drops by exactly what is sent."""
    event: str


def _fund_prepaid(chain: Chain, d: Deployment, _: LocalAccount, r: Recipient) -> int:
    r.do(chain, d.payments.functions.deposit(), value=PREPAID)
    return PREPAID - 5  # withdraw part: the rest must stay


def _fund_stake(chain: Chain, d: Deployment, _: LocalAccount, r: Recipient) -> int:
    r.do(chain, d.payments.functions.registerOperator(), value=TOKEN)
    r.do(chain, d.payments.functions.requestExit())
    return TOKEN


def _fund_datanet_stake(chain: Chain, d: Deployment, _: LocalAccount, r: Recipient) -> int:
    approved_contribution(chain, d, r)
    return STAKE


PAYOUTS = [
    Payout(
        "claimRewards",
        lambda d: d.payments,
        credit_rewards,
        lambda d, _: d.payments.functions.claimRewards(),
        lambda d, a: d.payments.functions.claimable(a).call(),
        "RewardsClaimed",
    ),
    Payout(
        "withdraw",
        lambda d: d.payments,
        _fund_prepaid,
        lambda d, amount: d.payments.functions.withdraw(amount),
        lambda d, a: d.payments.functions.balanceOf(a).call(),
        "Withdrawn",
    ),
    Payout(
        "withdrawStake",
        lambda d: d.payments,
        _fund_stake,
        lambda d, _: d.payments.functions.withdrawStake(),
        lambda d, a: d.payments.functions.operatorInfo(a).call()[0],
        "StakeWithdrawn",
    ),
    Payout(
        "DatanetRegistry.withdraw",
        lambda d: d.datanets,
        _fund_datanet_stake,
        lambda d, _: d.datanets.functions.withdraw(),
        lambda d, a: d.datanets.functions.withdrawable(a).call(),
        "Withdrawn",
    ),
]


@pytest.mark.parametrize("payout", PAYOUTS, ids=[p.name for p in PAYOUTS])
def test_reentrant_recipient_is_paid_exactly_once(
    chain: Chain,
    d: Deployment,
    operator: LocalAccount,
    fixture_artifacts: dict[str, dict[str, Any]],
    payout: Payout,
) -> None:
    r = new_recipient(chain, fixture_artifacts)
    owed = payout.fund(chain, d, operator, r)
    assert owed > 0
    target, call = payout.target(d), payout.call(d, owed)
    # On receipt, the recipient calls the same payout again.
    chain.transact(
        r.controller, r.contract.functions.arm(target.address, call._encode_transaction_data())
    )
    ledger, mine, held = (
        payout.ledger(d, r.address),
        chain.balance(r.address),
        chain.balance(target.address),
    )
    receipt = r.do(chain, call)

    fns = r.contract.functions
    assert fns.reentries().call() == 1
    assert fns.reentrySucceeded().call() is False
    assert chain.decoder.decode(fns.reentryResult().call()) == Revert(
        "ReentrancyGuardReentrantCall", ()
    )
    assert (fns.receipts().call(), fns.received().call()) == (1, owed)
    assert chain.balance(r.address) == mine + owed
    assert chain.balance(target.address) == held - owed
    assert payout.ledger(d, r.address) == ledger - owed
    (event,) = chain.events(target, receipt, payout.event)
    assert event["amount"] == owed


def test_reentry_into_another_payout_is_refused_too(
    chain: Chain, d: Deployment, operator: LocalAccount, fixture_artifacts: dict[str, Any]
) -> None:
    """One guard covers every payout: claiming rewards cannot re-enter ``withdraw``."""
    r = new_recipient(chain, fixture_artifacts)
    owed = credit_rewards(chain, d, operator, r)
    r.do(chain, d.payments.functions.deposit(), value=PREPAID)
    fns = d.payments.functions
    chain.transact(
        r.controller,
        r.contract.functions.arm(
            d.payments.address, fns.withdraw(PREPAID)._encode_transaction_data()
        ),
    )
    r.do(chain, fns.claimRewards())
    assert chain.decoder.decode(r.contract.functions.reentryResult().call()).name == (
        "ReentrancyGuardReentrantCall"
    )
    assert chain.balance(r.address) == owed
    assert fns.balanceOf(r.address).call() == PREPAID
    assert fns.claimable(r.address).call() == 0


@pytest.mark.parametrize("payout", PAYOUTS, ids=[p.name for p in PAYOUTS])
def test_refusing_recipient_loses_nothing(
    chain: Chain,
    d: Deployment,
    operator: LocalAccount,
    fixture_artifacts: dict[str, dict[str, Any]],
    payout: Payout,
) -> None:
    r = new_recipient(chain, fixture_artifacts)
    owed = payout.fund(chain, d, operator, r)
    target, call = payout.target(d), payout.call(d, owed)
    chain.transact(r.controller, r.contract.functions.setMode(REJECT))
    chain.expect_revert(r.controller, r.execute(call), "TransferFailed", r.address, owed)

    # Mined anyway: the failed transaction changes nothing.
    ledger, held = payout.ledger(d, r.address), chain.balance(target.address)
    data = r.execute(call)._encode_transaction_data()
    receipt = chain.send_raw(r.controller, {"to": r.address, "data": data, "gas": FAILED_TX_GAS})
    assert receipt["status"] == 0
    assert payout.ledger(d, r.address) == ledger
    assert chain.balance(target.address) == held
    assert chain.balance(r.address) == 0

    # Once it accepts OPEN, it gets exactly what it was owed.
    chain.transact(r.controller, r.contract.functions.setMode(ACCEPT))
    r.do(chain, call)
    assert chain.balance(r.address) == owed
    assert payout.ledger(d, r.address) == ledger - owed
    assert chain.balance(target.address) == held - owed


# --- session signatures --------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    datanet: b.ApprovedDatanet
    adapter_id: int


@pytest.fixture(scope="module")
def market(chain: Chain, d: Deployment) -> Market:
    world = b.approved_datanet(chain, d, [chain.account()])
    return Market(world, b.adapter(chain, d, chain.account(), world.datanet_id, 1, PRICE))


def settle_call(
    d: Deployment, m: Market, s: Session, signature: bytes, request: bytes | None = None
) -> ContractFunction:
    settlement = b.settlement(s, signature, m.adapter_id, m.datanet.contribution_ids, [1], request)
    return d.payments.functions.settle(settlement)


def test_contract_wallet_sessions_use_erc1271(
    chain: Chain,
    d: Deployment,
    operator: LocalAccount,
    market: Market,
    fixture_artifacts: dict[str, dict[str, Any]],
) -> None:
    owner, stranger = chain.account(), chain.account(fund=0)
    wallet = chain.deploy_artifact(fixture_artifacts["SessionWallet"], owner, owner.address)
    fns = d.payments.functions
    chain.transact(owner, fns.depositFor(wallet.address), value=3 * PRICE)
    s = Session(wallet.address, operator.address, 0, 2 * PRICE, chain.timestamp() + 3600, 1)

    def signed_by(signer: LocalAccount) -> bytes:
        return sign_session(signer, s, CHAIN_ID, d.payments.address)

    # The wallet's owner is not the user; the wallet's ERC-1271 answer decides.
    chain.expect_revert(
        operator, settle_call(d, market, s, signed_by(stranger)), "InvalidSignature", wallet.address
    )
    chain.expect_revert(
        operator, settle_call(d, market, s, b""), "InvalidSignature", wallet.address
    )
    receipt = chain.transact(operator, settle_call(d, market, s, signed_by(owner)))
    (opened,) = chain.events(d.payments, receipt, "SessionOpened")
    assert (opened["user"], opened["operator"]) == (wallet.address, operator.address)
    assert opened["digest"] == fns.hashSession(s.as_tuple()).call()
    assert fns.balanceOf(wallet.address).call() == 2 * PRICE

    # Bound: no signature needed any more, and the maximum still holds.
    chain.transact(operator, settle_call(d, market, s, b""))
    chain.expect_revert(
        operator,
        settle_call(d, market, s, b""),
        "SessionLimitExceeded",
        2 * PRICE,
        3 * PRICE,
    )
    # The wallet revokes the session like any user.
    chain.transact(owner, wallet.functions.execute(d.payments.address, _data(fns.revokeSession(1))))
    chain.expect_revert(
        operator, settle_call(d, market, s, signed_by(owner)), "SessionIsRevoked", wallet.address, 1
    )
    assert fns.balanceOf(wallet.address).call() == PRICE


def _data(call: ContractFunction) -> str:
    return str(call._encode_transaction_data())


def test_forged_malleated_and_replayed_signatures_are_refused(
    chain: Chain, d: Deployment, deployment: Deployment, operator: LocalAccount, market: Market
) -> None:
    user = chain.account()
    chain.transact(user, d.payments.functions.deposit(), value=PRICE)
    s = Session(user.address, operator.address, 0, PRICE, chain.timestamp() + 3600, 1)
    good = sign_session(user, s, CHAIN_ID, d.payments.address)

    def refused(signature: bytes) -> None:
        call = settle_call(d, market, s, signature)
        chain.expect_revert(operator, call, "InvalidSignature", user.address)

    # Signed for another chain, or for another deployment of the contract (EIP-712 domain).
    refused(sign_session(user, s, 1, d.payments.address))
    refused(sign_session(user, s, CHAIN_ID, deployment.payments.address))
    # The same (r, s) with the other y-parity: high-s twins of valid signatures are refused.
    r_, s_, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    refused(r_ + (SECP256K1_N - s_).to_bytes(32, "big") + bytes([55 - v]))
    # Malformed: wrong v, wrong length, all zero.
    refused(good[:64] + bytes([29]))
    refused(good[:64])
    refused(good + b"\x00")
    refused(bytes(65))
    # The genuine one works, once the request is new.
    chain.transact(operator, settle_call(d, market, s, good))
    assert d.payments.functions.balanceOf(user.address).call() == 0


def test_a_batch_cannot_settle_one_request_twice(
    chain: Chain, d: Deployment, operator: LocalAccount, market: Market
) -> None:
    user = chain.account()
    fns = d.payments.functions
    chain.transact(user, fns.deposit(), value=2 * PRICE)
    s, sig = b.session(chain, d, user, operator.address, 2 * PRICE, 1)
    request = b.request_hash()
    ids = market.datanet.contribution_ids
    first = b.settlement(s, sig, market.adapter_id, ids, [1], request)
    again = b.settlement(s, b"", market.adapter_id, ids, [1], request)
    next_id = fns.inferenceCount().call() + 1
    chain.expect_revert(
        operator, fns.settleBatch([first, again]), "DuplicateRequest", request, next_id
    )
    assert fns.balanceOf(user.address).call() == 2 * PRICE
    assert fns.inferenceIdOf(request).call() == 0


def test_settle_batch_needs_an_active_operator(chain: Chain, d: Deployment, market: Market) -> None:
    fns = d.payments.functions
    user, stranger = chain.account(), chain.account()
    chain.transact(user, fns.deposit(), value=PRICE)
    s, sig = b.session(chain, d, user, stranger.address, PRICE, 1)
    batch = [b.settlement(s, sig, market.adapter_id, market.datanet.contribution_ids, [1])]
    chain.expect_revert(stranger, fns.settleBatch(batch), "NotOperator", stranger.address)
    slashed = b.operator(chain, d)
    chain.transact(d.governance, fns.slash(slashed.address, 1, "test"))
    s, sig = b.session(chain, d, user, slashed.address, PRICE, 2)
    batch = [b.settlement(s, sig, market.adapter_id, market.datanet.contribution_ids, [1])]
    chain.expect_revert(slashed, fns.settleBatch(batch), "InsufficientStake", TOKEN, TOKEN - 1)
