"""Deployment and its idempotence: a recorded deployment is reused while its code is on chain.

The logic is exercised with stand-in artifacts (tests/helpers/contracts.py), so it does not
depend on the real contracts' bytecode. The devnet's own first-start deployment is tested in
tests/sequencer/test_contract_deployment.py and test_contracts_bindings.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from openledger.contracts.artifacts import L2_CONTRACTS
from openledger.contracts.deploy import (
    Deployment,
    DeploySettings,
    ensure_deployed,
    load_deployment,
    save_deployment,
)
from openledger.contracts.transactor import Transactor, connect
from tests.helpers.devnet import Devnet

pytestmark = pytest.mark.slow

DEPLOYER = 6
"""Dev account of this module."""


@pytest.fixture(scope="module")
def transactor(devnet: Devnet, dev_keys: list[LocalAccount]) -> Transactor:
    return Transactor(connect(devnet.url), dev_keys[DEPLOYER])


def test_second_call_reuses_the_record(
    transactor: Transactor, stand_ins: Path, tmp_path: Path
) -> None:
    record = tmp_path / "contracts.json"
    settings = DeploySettings(artifacts_dir=stand_ins)
    first, fresh = ensure_deployed(transactor, record, settings)
    assert fresh
    assert set(first.contracts) == set(L2_CONTRACTS)
    assert load_deployment(record) == first
    assert all(transactor.code(address) for address in first.contracts.values())

    nonce = transactor.w3.eth.get_transaction_count(transactor.sender)
    again, fresh = ensure_deployed(transactor, record, settings)
    assert (again, fresh) == (first, False)
    assert transactor.w3.eth.get_transaction_count(transactor.sender) == nonce


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param(Deployment(1, {}), id="other chain"),
        pytest.param(
            Deployment(901, dict.fromkeys(L2_CONTRACTS, "0x" + "22" * 20)), id="no code there"
        ),
        pytest.param(Deployment(901, {"DatanetRegistry": "0x" + "22" * 20}), id="incomplete"),
    ],
)
def test_stale_record_is_replaced(
    transactor: Transactor, stand_ins: Path, tmp_path: Path, stale: Deployment
) -> None:
    record = tmp_path / "contracts.json"
    save_deployment(record, stale)
    deployment, fresh = ensure_deployed(transactor, record, DeploySettings(artifacts_dir=stand_ins))
    assert fresh
    assert deployment != stale
    assert load_deployment(record) == deployment
