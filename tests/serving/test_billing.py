"""API keys and the operator's cashier against a devnet: every refusal, settlement on chain,
split of a reverted batch, restarts that must not charge twice, lookup.

Every test but the key round trip uses the module's devnet process (marked slow).
Dev accounts: 0 owns the datanet and the adapters, 1 and 2 contribute, 3 is the operator;
each test pays with its own fresh user, funded by account 9.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.logs import DISCARD

from attribution.pool import DatanetPool
from attribution.weights import Basis, Weights
from openledger.contracts.deploy import DEPLOYMENT_FILE
from openledger.contracts.payments import Session, SignedSession, sign_session
from openledger.types import Wei
from serving.api.ports import AnsweredChoice, Charge, ModelCard, PaymentRequired, Unauthorized
from serving.billing import (
    MalformedKey,
    OperatorCashier,
    SettlementPolicy,
    Status,
    decode_api_key,
    encode_api_key,
    ensure_operator,
    make_api_key,
)
from serving.billing.keygen import main as keygen
from serving.billing.ledger import DB_FILE
from serving.chain import ChainClients
from tests.helpers.devnet import Devnet
from tests.serving.onchain import DEV, OPEN, Datanet, approved_datanet, clients

PRICE = 10**15
UNSETTLED = (Status.ATTRIBUTING, Status.PENDING)
HOUR = 3600
PAYMENTS_ADDRESS = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
"""Any address: key encoding does not care which contract signed sessions are for."""
NEVER = SettlementPolicy(max_batch=1000, max_wait_s=3600, retry_s=3600)
"""Only `flush()` settles: tests decide when."""
_users = itertools.count(1)
_requests = itertools.count(1)


def test_api_key_round_trip_and_malformed_keys() -> None:
    user = Account.create()
    key = make_api_key(user, DEV[3].address, 901, PAYMENTS_ADDRESS, Wei(OPEN), 2**40, 7, 42)
    assert key.startswith("ol1_") and key.isascii() and " " not in key
    signed = decode_api_key(key)
    assert signed.session == Session(user.address, DEV[3].address, 7, Wei(OPEN), 2**40, 42)
    assert len(signed.signature) == 65
    assert encode_api_key(signed) == key
    for bad in ("", "sk-abc", "ol1_", "ol1_!!!", key[:-8], key + "A", key + "=", "ol1_" + "A" * 8):
        with pytest.raises(MalformedKey):
            decode_api_key(bad)


# --- the devnet world ---------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    devnet: Devnet
    operator: ChainClients
    datanet: Datanet
    adapter: ModelCard
    other_adapter: ModelCard


def card(adapter_id: int, price: int) -> ModelCard:
    return ModelCard(
        f"adapter-{adapter_id}", DEV[0].address, 0, f"adapter-{adapter_id}", adapter_id, price
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    devnet = Devnet(tmp_path_factory.mktemp("billing") / "datadir").start()
    try:
        datanet = approved_datanet(devnet, DEV[0], [DEV[1], DEV[2]])
        models = clients(devnet, DEV[0]).models
        base = models.register_base_model("tiny", b"\x01" * 32, "ipfs://l").value
        ids = [
            models.register_adapter(
                base, datanet.datanet_id, datanet.version, os.urandom(32), "ipfs://a", PRICE
            ).value
            for _ in range(2)
        ]
        operator = clients(devnet, DEV[3])
        status = ensure_operator(operator.payments)
        assert status.registered_now and status.stake == OPEN
        yield World(devnet, operator, datanet, card(ids[0], PRICE), card(ids[1], PRICE))
    finally:
        devnet.stop()


@pytest.fixture
def cashier(world: World, tmp_path: Path) -> Iterator[OperatorCashier]:
    with open_cashier(world, tmp_path) as opened:
        yield opened


def open_cashier(world: World, data_dir: Path) -> OperatorCashier:
    chain = world.operator
    attribution = DatanetPool(chain.models, chain.datanets)
    return OperatorCashier(chain.payments, attribution, data_dir, NEVER)


def fresh_user(world: World, deposit: int = 0) -> tuple[LocalAccount, ChainClients]:
    """A new account with 3 OPEN of gas money and `deposit` wei of prepaid balance."""
    user = Account.from_key(keccak(text=f"billing test user {next(_users)}"))
    w3 = world.operator.transactor.w3
    transfer = DEV[9].sign_transaction(
        {
            "to": user.address,
            "value": 3 * OPEN,
            "gas": 21_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
            "nonce": w3.eth.get_transaction_count(DEV[9].address, "pending"),
            "chainId": 901,
        }
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(transfer.raw_transaction))
    chain = clients(world.devnet, user)
    if deposit:
        chain.payments.deposit(Wei(deposit))
    return user, chain


def key_for(
    world: World,
    user: LocalAccount,
    max_total: int = OPEN,
    expiry: int | None = None,
    adapter_id: int = 0,
    nonce: int | None = None,
    operator: str | None = None,
) -> str:
    return make_api_key(
        user,
        operator or DEV[3].address,
        901,
        world.operator.payments.address,
        Wei(max_total),
        expiry or int(time.time()) + HOUR,
        adapter_id,
        nonce,
    )


def request_hash() -> bytes:
    return keccak(text=f"request {next(_requests)} {os.urandom(8).hex()}")


def serve(cashier: OperatorCashier, key: str, model: ModelCard) -> tuple[str, bytes, bytes]:
    """Authorize, answer, record: what the HTTP layer does for one paid call."""
    charge = cashier.authorize(key, model)
    assert charge is not None
    request, output = request_hash(), keccak(os.urandom(16))
    return cashier.record(charge, model, request, output), request, output


# --- authorization ------------------------------------------------------------------------


@pytest.mark.slow
def test_unauthorized(world: World, cashier: OperatorCashier) -> None:
    user, chain = fresh_user(world, deposit=10 * PRICE)
    model = world.adapter

    def refused(key: str | None, match: str) -> None:
        with pytest.raises(Unauthorized, match=match):
            cashier.authorize(key, model)

    refused(None, "Authorization: Bearer ol1_")
    refused("sk-not-ours", "malformed API key")
    good = decode_api_key(key_for(world, user))
    impostor = SignedSession(Session(DEV[5].address, *good.session.as_abi()[1:]), good.signature)
    refused(encode_api_key(impostor), "signature is not")
    other_chain = sign_session(user, good.session, 1, world.operator.payments.address)
    refused(encode_api_key(other_chain), "another network")
    refused(key_for(world, user, operator=DEV[4].address), "lets operator")
    refused(key_for(world, user, expiry=int(time.time()) - 1), "expires")
    refused(key_for(world, user, expiry=int(time.time()) + 10), "expires")  # within the margin
    refused(key_for(world, user, adapter_id=world.other_adapter.onchain_id or 0), "only pays")

    revoked = key_for(world, user, nonce=77)
    chain.payments.revoke_session(77)
    refused(revoked, "revoked")

    first = key_for(world, user, nonce=78, max_total=OPEN)
    serve(cashier, first, model)
    assert cashier.flush() == 0
    refused(key_for(world, user, nonce=78, max_total=2 * OPEN), "bound to another session")

    assert cashier.authorize(None, ModelCard("tiny", DEV[0].address, 0, None, None, 0)) is None


@pytest.mark.slow
def test_payment_required(world: World, cashier: OperatorCashier) -> None:
    model = world.adapter
    user, _ = fresh_user(world, deposit=10 * PRICE)
    with pytest.raises(PaymentRequired, match="cap"):
        cashier.authorize(key_for(world, user, max_total=PRICE - 1), model)

    capped = key_for(world, user, max_total=2 * PRICE)  # cap counts what is pending
    charges = [cashier.authorize(capped, model) for _ in range(2)]
    with pytest.raises(PaymentRequired, match="0 wei left"):
        cashier.authorize(capped, model)
    first = charges[0]
    assert isinstance(first, Charge) and first.price == PRICE and first.user == user.address
    cashier.cancel(first)
    assert cashier.authorize(capped, model) is not None

    poor, _ = fresh_user(world, deposit=PRICE)  # balance counts what is pending
    key = key_for(world, poor)
    serve(cashier, key, model)
    with pytest.raises(PaymentRequired, match="prepaid balance"):
        cashier.authorize(key, model)
    assert cashier.flush() == 0
    with pytest.raises(PaymentRequired, match="prepaid balance"):  # now spent on chain
        cashier.authorize(key, model)

    broke, _ = fresh_user(world)
    with pytest.raises(PaymentRequired, match="deposit"):
        cashier.authorize(key_for(world, broke), model)


# --- settlement ---------------------------------------------------------------------------


@pytest.mark.slow
def test_record_settles_many_requests_in_one_transaction(
    world: World, cashier: OperatorCashier
) -> None:
    user, chain = fresh_user(world, deposit=10 * PRICE)
    key = key_for(world, user)
    served = [serve(cashier, key, world.adapter) for _ in range(3)]
    assert all(cashier.lookup(r).status in UNSETTLED for r, _, _ in served)  # type: ignore[union-attr]

    assert cashier.flush() == 0

    records = [cashier.lookup(response_id) for response_id, _, _ in served]
    assert all(r is not None and r.status is Status.SETTLED for r in records)
    tx_hashes = {r.tx_hash for r in records if r is not None}
    assert len(tx_hashes) == 1
    assert chain.payments.balance_of(user.address) == 7 * PRICE
    receipt = chain.transactor.w3.eth.get_transaction_receipt(tx_hashes.pop())
    settled = world.operator.payments.contract.events.InferenceSettled()
    events = settled.process_receipt(receipt, errors=DISCARD)
    assert [(bytes(e.args.requestHash), bytes(e.args.outputHash)) for e in events] == [
        (request, output) for _, request, output in served
    ]
    first = records[0]
    assert first is not None
    assert first.response_id.startswith("resp_")
    assert (first.user, first.adapter_id, first.price, first.fee) == (
        user.address,
        world.adapter.onchain_id,
        PRICE,
        PRICE,
    )
    assert first.contribution_ids == world.datanet.contribution_ids and first.weights == (1, 1)
    credit = cashier.credit(first.response_id)
    assert credit is not None and (credit.method, credit.basis) == ("pool", Basis.POOL)
    ids = [r.inference_id for r in records if r is not None]
    assert ids == [e.args.inferenceId for e in events]
    assert cashier.lookup("resp_unknown") is None


@pytest.mark.slow
def test_a_reverting_request_does_not_sink_its_batch(
    world: World, cashier: OperatorCashier
) -> None:
    good_user, good_chain = fresh_user(world, deposit=10 * PRICE)
    bad_user, bad_chain = fresh_user(world, deposit=10 * PRICE)
    good_key, bad_key = key_for(world, good_user), key_for(world, bad_user, nonce=5)
    good = [serve(cashier, good_key, world.adapter)[0] for _ in range(2)]
    bad = serve(cashier, bad_key, world.adapter)[0]
    good.append(serve(cashier, good_key, world.adapter)[0])
    bad_chain.payments.revoke_session(5)  # after the answer, before the settlement

    assert cashier.flush() == 0

    refused = cashier.lookup(bad)
    assert refused is not None and refused.status is Status.FAILED
    assert "SessionIsRevoked" in (refused.error or "")
    settled = [cashier.lookup(r) for r in good]
    assert all(r is not None and r.status is Status.SETTLED for r in settled)
    assert good_chain.payments.balance_of(good_user.address) == 7 * PRICE
    assert bad_chain.payments.balance_of(bad_user.address) == 10 * PRICE
    # The refused reservation is given back: a fresh key of the bad user is served again.
    assert cashier.authorize(key_for(world, bad_user), world.adapter) is not None


@pytest.mark.slow
def test_same_request_hash_is_recorded_once(world: World, cashier: OperatorCashier) -> None:
    user, chain = fresh_user(world, deposit=10 * PRICE)
    key = key_for(world, user)
    request = request_hash()
    ids = []
    for _ in range(2):
        charge = cashier.authorize(key, world.adapter)
        assert charge is not None
        ids.append(cashier.record(charge, world.adapter, request, b"\x01" * 32))
    assert ids[0] == ids[1]
    assert cashier.flush() == 0
    assert chain.payments.balance_of(user.address) == 9 * PRICE


@pytest.mark.slow
def test_background_thread_settles_a_full_batch(world: World, tmp_path: Path) -> None:
    user, chain = fresh_user(world, deposit=10 * PRICE)
    chain_ops = world.operator
    attribution = DatanetPool(chain_ops.models, chain_ops.datanets)
    policy = SettlementPolicy(max_batch=2, max_wait_s=3600, retry_s=3600)
    with OperatorCashier(chain_ops.payments, attribution, tmp_path, policy) as cashier:
        key = key_for(world, user)
        served = [serve(cashier, key, world.adapter)[0] for _ in range(2)]
        deadline = time.monotonic() + 10
        while any(cashier.lookup(r).status in UNSETTLED for r in served):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the full batch was not sent"
            time.sleep(0.05)
    assert chain.payments.balance_of(user.address) == 8 * PRICE


class BrokenScorer:
    """An attribution source whose every call fails, as a corrupt attribution file would."""

    def attribute(self, adapter_id: int, choices: Sequence[AnsweredChoice]) -> Weights:
        raise RuntimeError("attribution file unreadable")


@pytest.mark.slow
def test_a_scorer_that_fails_credits_the_datanet_pool(world: World, tmp_path: Path) -> None:
    user, chain = fresh_user(world, deposit=10 * PRICE)
    ops = world.operator
    pool = DatanetPool(ops.models, ops.datanets)
    broken = BrokenScorer()
    with OperatorCashier(ops.payments, pool, tmp_path, NEVER, attribution=broken) as cashier:
        response_id = serve(cashier, key_for(world, user), world.adapter)[0]
        assert cashier.flush() == 0
        record = cashier.lookup(response_id)
        assert record is not None and record.status is Status.SETTLED
        assert record.contribution_ids == world.datanet.contribution_ids
        assert cashier.credit(response_id).basis is Basis.POOL  # type: ignore[union-attr]
    assert chain.payments.balance_of(user.address) == 9 * PRICE


# --- restarts -----------------------------------------------------------------------------


@pytest.mark.slow
def test_an_answer_recorded_but_not_attributed_is_attributed_after_a_restart(
    world: World, tmp_path: Path
) -> None:
    """The attributor never ran (a crash right after `record`): the answer is not lost."""
    user, chain = fresh_user(world, deposit=10 * PRICE)
    before = open_cashier(world, tmp_path)  # not started: nothing scores or settles
    response_id = serve(before, key_for(world, user), world.adapter)[0]
    before.close()
    ledger = sqlite3.connect(tmp_path / DB_FILE)
    ((status,),) = ledger.execute("SELECT status FROM responses").fetchall()
    ledger.close()
    assert status == Status.ATTRIBUTING
    with open_cashier(world, tmp_path) as after:
        assert after.flush() == 0
        record = after.lookup(response_id)
        assert record is not None and record.status is Status.SETTLED
        assert after.credit(response_id) is not None
    assert chain.payments.balance_of(user.address) == 9 * PRICE


@pytest.mark.slow
def test_restart_settles_what_was_left_once(world: World, tmp_path: Path) -> None:
    user, chain = fresh_user(world, deposit=10 * PRICE)
    key = key_for(world, user, max_total=2 * PRICE)
    with open_cashier(world, tmp_path) as before:
        served = [serve(before, key, world.adapter)[0] for _ in range(2)]
    with open_cashier(world, tmp_path) as after:
        with pytest.raises(PaymentRequired, match="0 wei left"):  # still promised after restart
            after.authorize(key, world.adapter)
        assert after.flush() == 0
        assert after.flush() == 0
        records = [after.lookup(r) for r in served]
    assert all(r is not None and r.status is Status.SETTLED for r in records)
    assert chain.payments.balance_of(user.address) == 8 * PRICE


@pytest.mark.slow
@pytest.mark.parametrize("seen_sending", [True, False])
def test_restart_after_an_unrecorded_settlement_does_not_charge_twice(
    world: World, tmp_path: Path, seen_sending: bool
) -> None:
    """A crash after the transaction landed but before the ledger heard of it: the restarted
    cashier finds the settlement on chain (by lookup when the ledger knew it had sent, by the
    contract's DuplicateRequest otherwise) instead of charging again."""
    user, chain = fresh_user(world, deposit=10 * PRICE)
    key = key_for(world, user)
    with open_cashier(world, tmp_path) as before:
        served = [serve(before, key, world.adapter)[0] for _ in range(2)]
        assert before.flush() == 0
        landed = [before.lookup(r) for r in served]
    count = world.operator.payments.contract.functions.inferenceCount().call()
    with sqlite3.connect(tmp_path / DB_FILE) as db:  # forget the outcome, as a crash would
        block = "submitted_block" if seen_sending else "NULL"
        db.execute(
            "UPDATE responses SET status = 'pending', tx_hash = NULL, inference_id = NULL, "
            f"fee = NULL, submitted_block = {block}"
        )

    with open_cashier(world, tmp_path) as after:
        assert after.flush() == 0
        again = [after.lookup(r) for r in served]

    assert chain.payments.balance_of(user.address) == 8 * PRICE
    assert world.operator.payments.contract.functions.inferenceCount().call() == count
    assert [(r.status, r.tx_hash, r.inference_id) for r in again if r is not None] == [
        (Status.SETTLED, r.tx_hash, r.inference_id) for r in landed if r is not None
    ]


@pytest.mark.slow
def test_settlement_waits_for_the_operator_to_register(world: World, tmp_path: Path) -> None:
    """Records of an operator that cannot settle yet are kept, not failed; `ensure_operator`
    registers it once, with the minimum stake."""
    account, operator = fresh_user(world)
    user, chain = fresh_user(world, deposit=10 * PRICE)
    attribution = DatanetPool(operator.models, operator.datanets)
    with OperatorCashier(operator.payments, attribution, tmp_path, NEVER) as cashier:
        key = key_for(world, user, operator=account.address)
        response_id = serve(cashier, key, world.adapter)[0]
        assert cashier.flush() == 1
        assert cashier.lookup(response_id).status is Status.PENDING  # type: ignore[union-attr]

        first = ensure_operator(operator.payments)
        assert (first.address, first.stake, first.registered_now) == (account.address, OPEN, True)
        again = ensure_operator(operator.payments)
        assert (again.stake, again.registered_now) == (OPEN, False)

        assert cashier.flush() == 0
        assert cashier.lookup(response_id).status is Status.SETTLED  # type: ignore[union-attr]
    assert chain.payments.balance_of(user.address) == 9 * PRICE


@pytest.mark.slow
def test_command_line_makes_a_key_the_cashier_accepts(
    world: World, cashier: OperatorCashier, capsys: pytest.CaptureFixture[str]
) -> None:
    user, _ = fresh_user(world, deposit=PRICE)
    args = ["--rpc", world.devnet.url, "--key", user.key.hex(), "--operator", DEV[3].address]
    contracts = str(world.devnet.datadir / DEPLOYMENT_FILE)
    assert keygen([*args, "--max-total", "0.5ether", "--contracts", contracts]) == 0
    key = capsys.readouterr().out.strip()
    session = decode_api_key(key).session
    assert (session.user, session.max_total, session.adapter_id) == (user.address, OPEN // 2, 0)
    assert cashier.authorize(key, world.adapter) is not None
