"""The chain on LevelDB: genesis, block building, persistence across reopen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import ValidationError

from node.block_session import Applied, Skipped
from node.chain import Chain
from node.exceptions import BlockNotFound, ChainCorrupted
from node.transactions import admit, transaction_type
from openledger.config import NetworkConfig
from tests.helpers.signing import CHAIN_ID, DEV, RECIPIENT, sign

RECIPIENT_BYTES = bytes.fromhex(RECIPIENT[2:])


def build(chain: Chain, raws: list[bytes]) -> list[Applied | Skipped]:
    session = chain.open_block(chain.next_timestamp(0))
    results = []
    for raw in raws:
        admitted = admit(raw, CHAIN_ID)
        results.append(session.apply(admitted.tx, admitted.sender))
    chain.commit(session.seal())
    return results


def test_genesis_funds_the_ten_dev_accounts(tmp_path: Path) -> None:
    chain = Chain.open(NetworkConfig(), tmp_path)
    state = chain.state_at(chain.head)
    assert chain.head.block_number == 0
    for account in DEV:
        assert state.get_balance(account.address) == 10_000 * 10**18
    chain.close()


def test_genesis_hash_is_the_same_for_every_node(tmp_path: Path) -> None:
    first = Chain.open(NetworkConfig(), tmp_path / "a")
    second = Chain.open(NetworkConfig(), tmp_path / "b")
    assert first.genesis_hash == second.genesis_hash
    first.close()
    second.close()


def test_a_database_refuses_another_genesis(tmp_path: Path) -> None:
    Chain.open(NetworkConfig(), tmp_path).close()
    other = NetworkConfig()
    other = replace(other, genesis=replace(other.genesis, timestamp=1))
    with pytest.raises(ChainCorrupted, match="genesis"):
        Chain.open(other, tmp_path)


def test_blocks_survive_a_reopen(tmp_path: Path) -> None:
    chain = Chain.open(NetworkConfig(), tmp_path)
    results = build(chain, [sign(nonce=0), sign(nonce=1)])
    assert all(isinstance(result, Applied) for result in results)
    head = chain.head
    chain.close()

    reopened = Chain.open(NetworkConfig(), tmp_path)
    assert reopened.head == head
    outcomes = reopened.outcomes(reopened.head)
    assert [o.tx.nonce for o in outcomes] == [0, 1]
    assert outcomes[0].sender == DEV[0].address
    assert outcomes[1].gas_used == 21_000
    assert reopened.state_at(reopened.head).get_balance(RECIPIENT_BYTES) == 10_000 * 10**18 + 2
    location = reopened.transaction_location(outcomes[1].tx.hash)
    assert location is not None and location.index == 1
    reopened.close()


def test_a_stale_nonce_is_skipped_for_good(tmp_path: Path) -> None:
    chain = Chain.open(NetworkConfig(), tmp_path)
    results = build(chain, [sign(nonce=0), sign(nonce=0, value=2)])
    assert isinstance(results[0], Applied)
    assert isinstance(results[1], Skipped) and results[1].fatal
    assert len(chain.outcomes(chain.head)) == 1
    chain.close()


def test_a_transaction_over_the_remaining_gas_waits(tmp_path: Path) -> None:
    config = NetworkConfig()
    config = replace(config, chain=replace(config.chain, gas_limit=30_000))
    chain = Chain.open(config, tmp_path)
    results = build(chain, [sign(nonce=0), sign(1, nonce=0)])
    assert isinstance(results[1], Skipped) and not results[1].fatal
    chain.close()


def test_commit_writes_extra_records_in_the_same_batch(tmp_path: Path) -> None:
    chain = Chain.open(NetworkConfig(), tmp_path)
    chain.store.level.put(b"ol:pool:x", b"raw")
    session = chain.open_block(chain.next_timestamp(0))
    chain.commit(session.seal(), {b"ol:pool:x": None, b"extra": b"1"})
    assert chain.store.level.get(b"ol:pool:x") is None
    assert chain.store.level.get(b"extra") == b"1"
    chain.close()


def test_unknown_blocks_raise(tmp_path: Path) -> None:
    chain = Chain.open(NetworkConfig(), tmp_path)
    with pytest.raises(BlockNotFound):
        chain.header_by_number(5)
    with pytest.raises(BlockNotFound):
        chain.header_by_hash(b"\x01" * 32)
    chain.close()


def test_timestamps_strictly_increase(tmp_path: Path) -> None:
    chain = Chain.open(NetworkConfig(), tmp_path)
    parent = chain.head.timestamp
    assert chain.next_timestamp(parent - 100) == parent + 1
    assert chain.next_timestamp(parent + 50.7) == parent + 50
    chain.close()


def test_every_supported_transaction_type_executes(tmp_path: Path) -> None:
    """Legacy (0), EIP-2930 (1), EIP-1559 (2) and EIP-7702 set-code (4) transactions."""
    chain = Chain.open(NetworkConfig(), tmp_path)
    delegate = "0x000000000000000000000000000000000000dEaD"
    authorization = Account.sign_authorization(
        {"chainId": CHAIN_ID, "address": delegate, "nonce": 0}, DEV[1].private_key
    )
    raws = [
        sign(nonce=0, gasPrice=2 * 10**9),
        sign(nonce=1, gasPrice=2 * 10**9, accessList=[], type=1),
        sign(nonce=2),
        sign(nonce=3, to=DEV[1].checksum_address, gas=100_000, authorizationList=[authorization]),
    ]
    results = build(chain, raws)
    assert all(isinstance(result, Applied) for result in results)
    types = [transaction_type(o.tx) for o in chain.outcomes(chain.head)]
    assert types == [0, 1, 2, 4]
    state = chain.state_at(chain.head)
    assert state.get_code(DEV[1].address) == bytes.fromhex("ef0100") + bytes.fromhex(delegate[2:])
    chain.close()


def test_recent_blocks_are_served_without_reading_the_database(tmp_path: Path) -> None:
    """Receipt polling hits the newest blocks: they must not be read and decoded each time."""
    chain = Chain.open(NetworkConfig(), tmp_path)
    build(chain, [sign(nonce=0)])
    level = chain.store.level

    class NoReads:
        def get(self, key: bytes) -> bytes | None:
            raise AssertionError(f"unexpected database read of {key!r}")

    chain.store.level = NoReads()  # type: ignore[assignment]
    try:
        assert chain.outcomes(chain.head)[0].sender == DEV[0].address
    finally:
        chain.store.level = level
    chain.close()


def test_a_block_whose_transactions_root_is_wrong_is_refused(tmp_path: Path) -> None:
    """Validation reuses the root it has just built only for exactly those transactions; a
    header that names another root, or other transactions under the built root, is refused."""
    chain = Chain.open(NetworkConfig(), tmp_path)
    session = chain.open_block(chain.next_timestamp(0))
    for nonce in range(2):
        admitted = admit(sign(0, nonce=nonce), CHAIN_ID)
        assert isinstance(session.apply(admitted.tx, admitted.sender), Applied)
    block = session.seal().block
    vm = session._vm
    vm.validate_block(block)
    wrong_root = block.copy(header=block.header.copy(transaction_root=b"\x11" * 32))
    with pytest.raises(ValidationError, match="transactions root"):
        vm.validate_block(wrong_root)
    fewer = block.copy(transactions=block.transactions[:-1])
    with pytest.raises(ValidationError, match="transactions root"):
        vm.validate_block(fewer)
    chain.close()
