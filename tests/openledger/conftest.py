"""Fixtures of the contract-binding tests: a devnet process in a temporary datadir, dev keys,
and the TestToken fixture compiled with the pinned solc (its custom error exercises revert
decoding even where the Payable-AI artifacts are not built yet)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC
from openledger.contracts.artifacts import Artifact, load_artifact
from tests.helpers.contracts import compile_fixtures, write_stand_ins
from tests.helpers.devnet import Devnet


@pytest.fixture(scope="session")
def dev_keys() -> list[LocalAccount]:
    return [Account.from_key(a.private_key) for a in dev_accounts(DEV_MNEMONIC, 10)]


@pytest.fixture(scope="session")
def fixture_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_fixtures(tmp_path_factory.mktemp("fixture-artifacts"))


@pytest.fixture(scope="session")
def token_artifact(fixture_artifacts: Path) -> Artifact:
    return load_artifact("TestToken", fixture_artifacts)


@pytest.fixture(scope="session")
def stand_ins(tmp_path_factory: pytest.TempPathFactory, token_artifact: Artifact) -> Path:
    """Stand-in artifacts of the L2 contracts (see tests/helpers/contracts.py)."""
    return write_stand_ins(tmp_path_factory.mktemp("stand-ins"), token_artifact)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One instant-block devnet per test module; it deploys the L2 contracts before it answers."""
    node = Devnet(tmp_path_factory.mktemp("devnet") / "datadir").start()
    try:
        yield node
    finally:
        node.stop()
