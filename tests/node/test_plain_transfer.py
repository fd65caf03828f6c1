"""The plain-transfer path against py-evm's full path: same results, receipts and state roots.

Each example builds one block twice on fresh chains from the same genesis: once as the node
does (plain transfers by ``node.plain_transfer``), once with that path switched off, so every
transaction runs through py-evm's message and computation. The block opens with an
L1-attributes deposit so the L1 data fee is not zero.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from eth._utils.address import generate_contract_address
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import node.vm
from node.block_session import Applied, ApplyResult
from node.chain import Chain
from node.l1_info import FeeScalars, L1Attributes, L1Origin, l1_info_deposit
from node.plain_transfer import is_plain_transfer
from node.transactions import admit
from openledger.config import NetworkConfig
from openledger.contracts.predeploys import L1_FEE_VAULT_ADDRESS
from tests.helpers.signing import CHAIN_ID, DEV, GWEI, sign
from tests.node.conftest import mine
from tests.node.evm import REVERTER, deployable

CONFIG = NetworkConfig()
ATTRIBUTES = L1Attributes(
    L1Origin(number=7, timestamp=1, hash=b"\x07" * 32, base_fee=30 * GWEI, blob_base_fee=3),
    0,
    FeeScalars(batcher_hash=b"\x00" * 32, base_fee_scalar=1_368, blob_base_fee_scalar=810_949),
)
NOBODY = b"\x5a" * 20
"""An address with no account at genesis."""
RECIPIENTS = [
    NOBODY,
    b"\x5b" * 20,
    DEV[1].address,
    DEV[0].address,  # the sender of most examples: sending to oneself
    CONFIG.chain.fee_recipient,
    L1_FEE_VAULT_ADDRESS,
]

transfers = st.lists(
    st.fixed_dictionaries(
        {
            "sender": st.sampled_from([0, 0, 0, 2]),
            "to": st.sampled_from(RECIPIENTS),
            "value": st.one_of(st.just(0), st.integers(1, 10**18), st.just(10**30)),
            "gas": st.sampled_from([21_000, 21_000, 30_000, 20_999]),
            "max_fee": st.sampled_from([0, 1, 3 * GWEI, 100 * GWEI]),
            "tip": st.sampled_from([0, GWEI, 200 * GWEI]),
            "legacy": st.booleans(),
            "nonce_skew": st.sampled_from([0, 0, 0, 0, 1, -1]),
        }
    ),
    min_size=1,
    max_size=12,
)


def build(chain: Chain, specs: list[dict]) -> list[ApplyResult]:
    session = chain.open_block(chain.next_timestamp(0))
    first = session.apply(l1_info_deposit(ATTRIBUTES), b"")
    assert isinstance(first, Applied)
    nonces = {0: 0, 2: 0}
    results = []
    for spec in specs:
        sender = spec["sender"]
        fields: dict = {
            "nonce": max(0, nonces[sender] + spec["nonce_skew"]),
            "to": to_checksum_address(spec["to"]),
            "value": spec["value"],
            "gas": spec["gas"],
        }
        if spec["legacy"]:
            fields["gasPrice"] = spec["max_fee"]
        else:
            fields["maxFeePerGas"] = spec["max_fee"]
            fields["maxPriorityFeePerGas"] = min(spec["tip"], spec["max_fee"])
        admitted = admit(sign(sender, **fields), CHAIN_ID)
        assert is_plain_transfer(admitted.tx) == (spec["gas"] >= 21_000)
        result = session.apply(admitted.tx, admitted.sender)
        if isinstance(result, Applied):
            nonces[sender] += 1
        results.append(result)
    chain.commit(session.seal())
    return results


def summary(results: list[ApplyResult]) -> list[object]:
    return [
        r.outcome.receipt.encode() if isinstance(r, Applied) else (r.reason, r.fatal)
        for r in results
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=transfers)
def test_plain_transfers_equal_the_full_path(specs: list[dict], monkeypatch: pytest.MonkeyPatch):
    with TemporaryDirectory() as tmp:
        fast = Chain.open(CONFIG, Path(tmp) / "fast")
        full = Chain.open(CONFIG, Path(tmp) / "full")
        try:
            fast_results = build(fast, specs)
            with monkeypatch.context() as patch:
                patch.setattr(node.vm, "is_plain_transfer", lambda tx: False)
                full_results = build(full, specs)
            assert summary(fast_results) == summary(full_results)
            assert fast.head.state_root == full.head.state_root
            assert fast.head.hash == full.head.hash
        finally:
            fast.close()
            full.close()


def test_a_transfer_to_a_contract_runs_its_code(tmp_path: Path):
    """A recipient with code is not a plain transfer: the full path runs it (here: reverts)."""
    chain = Chain.open(CONFIG, tmp_path)
    try:
        mine(chain, [sign(0, to=None, data=deployable(REVERTER), gas=200_000, value=0)])
        contract = generate_contract_address(DEV[0].address, 0)
        admitted = admit(sign(0, nonce=1, to=to_checksum_address(contract), gas=50_000), CHAIN_ID)
        assert is_plain_transfer(admitted.tx)
        session = chain.open_block(chain.next_timestamp(0))
        result = session.apply(admitted.tx, admitted.sender)
        assert isinstance(result, Applied)
        assert result.outcome.receipt.state_root == b""  # status 0: the code ran and reverted
        assert result.outcome.gas_used > 21_000
    finally:
        chain.close()


def test_what_is_not_a_plain_transfer():
    def tx(**fields: object):
        return admit(sign(0, **fields), CHAIN_ID).tx

    assert is_plain_transfer(tx())
    assert not is_plain_transfer(tx(data=b"\x01", gas=30_000))
    assert not is_plain_transfer(tx(gas=20_999))
    assert not is_plain_transfer(tx(to="0x" + "00" * 19 + "01", gas=30_000))  # ecrecover
    assert not is_plain_transfer(
        tx(accessList=[{"address": "0x" + "11" * 20, "storageKeys": []}], gas=30_000)
    )
    assert not is_plain_transfer(tx(to=None, data=b"\x00", gas=60_000))
