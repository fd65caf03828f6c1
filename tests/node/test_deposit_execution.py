"""Executing deposits as OP post-Regolith does: mint first and kept, nonce bumped, no fee."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth._utils.address import generate_contract_address
from eth.abc import SignedTransactionAPI

from node.block_session import Applied
from node.chain import Chain
from node.deposit_tx import deposit_receipt, make_deposit
from node.records import TransactionOutcome
from openledger.config import NetworkConfig
from openledger.types import Address

TOKEN = 10**18
FRESH = Address(bytes.fromhex("5eed" * 10))
TARGET = Address(bytes.fromhex("7a26" * 10))
REVERTING_INIT = bytes.fromhex("60006000fd")
"""Init code ``PUSH1 0 PUSH1 0 REVERT``: a creation that always fails."""
RETURN_ONE_BYTE_INIT = bytes.fromhex("600160005360016000f3")
"""Init code that deploys the one-byte runtime ``0x01``."""


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    opened = Chain.open(NetworkConfig(), tmp_path)
    yield opened
    opened.close()


def deposit(
    number: int, *, mint: int, value: int = 0, gas: int = 100_000, to: bytes | None = TARGET
) -> SignedTransactionAPI:
    return make_deposit(
        source_hash=number.to_bytes(32, "big"),
        sender=FRESH,
        to=to,
        mint=mint,
        value=value,
        gas=gas,
        data=b"" if to is not None else (RETURN_ONE_BYTE_INIT if mint else REVERTING_INIT),
    )


def run(chain: Chain, *txs: SignedTransactionAPI) -> list[TransactionOutcome]:
    """One block with ``txs``; every one must be included."""
    session = chain.open_block(chain.next_timestamp(0))
    outcomes = []
    for tx in txs:
        result = session.apply(tx, Address(tx.sender))
        assert isinstance(result, Applied), result
        outcomes.append(result.outcome)
    chain.commit(session.seal())
    return outcomes


def status(outcome: TransactionOutcome) -> int:
    return 1 if outcome.receipt.state_root == b"\x01" else 0


def test_a_deposit_mints_to_a_fresh_account_without_charging_a_fee(chain: Chain) -> None:
    coinbase = chain.config.chain.fee_recipient
    coinbase_before = chain.state_at(chain.head).get_balance(coinbase)
    (outcome,) = run(chain, deposit(1, mint=3 * TOKEN, value=TOKEN))
    state = chain.state_at(chain.head)
    assert status(outcome) == 1
    assert state.get_balance(FRESH) == 2 * TOKEN  # minted 3, sent 1, paid nothing for gas
    assert state.get_balance(TARGET) == TOKEN
    assert state.get_nonce(FRESH) == 1
    assert state.get_balance(coinbase) == coinbase_before
    assert outcome.gas_used == 21_000
    assert deposit_receipt(outcome.receipt).deposit_nonce == 0
    (second,) = run(chain, deposit(2, mint=0))
    assert deposit_receipt(second.receipt).deposit_nonce == 1
    assert chain.state_at(chain.head).get_nonce(FRESH) == 2


def test_a_failing_deposit_is_included_and_keeps_its_mint(chain: Chain) -> None:
    # Sending more than was minted fails the call; the mint and the nonce bump stay.
    (outcome,) = run(chain, deposit(1, mint=TOKEN, value=2 * TOKEN))
    state = chain.state_at(chain.head)
    assert status(outcome) == 0
    assert state.get_balance(FRESH) == TOKEN
    assert state.get_balance(TARGET) == 0
    assert state.get_nonce(FRESH) == 1
    assert outcome.gas_used == 21_000  # the call's gas is returned, as op-geth does
    # A reverting creation: status 0, nothing deployed, nonce still bumped.
    (created,) = run(chain, deposit(2, mint=0, to=None))
    assert status(created) == 0
    assert chain.state_at(chain.head).get_nonce(FRESH) == 2


def test_a_deposit_below_its_intrinsic_gas_still_mints_and_uses_all_its_gas(chain: Chain) -> None:
    (outcome,) = run(chain, deposit(1, mint=TOKEN, value=1, gas=20_000))
    state = chain.state_at(chain.head)
    assert status(outcome) == 0
    assert outcome.gas_used == 20_000
    assert state.get_balance(FRESH) == TOKEN
    assert state.get_nonce(FRESH) == 1


def test_a_creating_deposit_deploys_at_the_address_of_its_deposit_nonce(chain: Chain) -> None:
    run(chain, deposit(1, mint=0))
    (outcome,) = run(chain, deposit(2, mint=1, to=None))
    assert status(outcome) == 1
    expected = generate_contract_address(FRESH, 1)
    assert outcome.contract_address == expected
    assert chain.state_at(chain.head).get_code(expected) == b"\x01"


def test_deposits_survive_storage_and_reload(chain: Chain) -> None:
    (outcome,) = run(chain, deposit(1, mint=TOKEN))
    (stored,) = chain.outcomes(chain.head)
    assert stored.tx == outcome.tx
    assert stored.sender == FRESH
    assert deposit_receipt(stored.receipt).deposit_nonce == 0
