"""Session fixtures for the real-client end-to-end tests.

These tests treat the node as a black box: they start the ``openledger devnet`` process (or,
with ``OPENLEDGER_TEST_TARGET=anvil``, Foundry's anvil as a stand-in reference) and talk to it
only through JSON-RPC with real clients (web3.py, ethers, cast). Nothing here imports the node's
packages, so a test passing here means a dApp developer's tooling works against the node.

Targets:

- ``OPENLEDGER_TEST_TARGET=node`` (default): ``.venv/bin/openledger devnet ...``. If the script
  is missing the tests FAIL: a missing node is a broken build, not a reason to skip.
- ``OPENLEDGER_TEST_TARGET=anvil``: ``node_modules/.bin/anvil --chain-id 901 --hardfork prague``.

Dev-account ownership (one chain is shared by the whole session, so each module signs with its
own accounts and never assumes a nonce; it always asks the chain for the ``pending`` count):

- 0, 1: test_web3py (instant target); 2: test_ethers; 3: test_cast;
- 4: test_differential_anvil (same nonce sequence on both chains);
- 5, 6: test_web3py on the slow (``--block-time 2``) target, which is a separate chain.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from tests.helpers.targets import (
    REPO_ROOT,
    TARGETS,
    RpcTarget,
    compile_contracts,
    derive_dev_accounts,
    serve,
)

CONTRACTS_SRC = REPO_ROOT / "tests" / "fixtures" / "contracts"
TARGET_ENV = "OPENLEDGER_TEST_TARGET"


def target_kind() -> str:
    """Which implementation the tests run against; a typo fails loudly instead of defaulting."""
    kind = os.environ.get(TARGET_ENV, "node").strip().lower() or "node"
    if kind not in TARGETS:
        pytest.fail(f"{TARGET_ENV}={kind!r}: expected one of {', '.join(TARGETS)}", pytrace=False)
    return kind


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpcTarget]:
    """The implementation under test with instant blocks, shared by the whole session."""
    kind = target_kind()
    yield from serve(kind, tmp_path_factory.mktemp(f"{kind}-instant"), block_time=0)


@pytest.fixture(scope="session")
def slow_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpcTarget]:
    """The implementation under test with 2-second blocks, so transactions stay pending.

    Only tests about the pending state (pending nonce, fee replacement) need it.
    """
    kind = target_kind()
    yield from serve(kind, tmp_path_factory.mktemp(f"{kind}-slow"), block_time=2)


@pytest.fixture(scope="session")
def reference_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpcTarget]:
    """A separate anvil (Prague, chain 901, instant) to compare the target against."""
    yield from serve("anvil", tmp_path_factory.mktemp("anvil-reference"), block_time=0)


@pytest.fixture(scope="session")
def rpc_url(target: RpcTarget) -> str:
    """HTTP URL of the instant target."""
    return target.url


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile tests/fixtures/contracts with the pinned npm solc into a fresh directory.

    Compiled per session (about a second) rather than committed, so the fixture sources and
    their bytecode can never drift apart.
    """
    return compile_contracts(CONTRACTS_SRC, tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="session")
def artifacts(artifacts_dir: Path) -> dict[str, dict[str, Any]]:
    """Artifacts by contract name: ``{"abi": [...], "bytecode": "0x..", ...}``."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(artifacts_dir.glob("*.json"))}


@pytest.fixture(scope="session")
def token_artifact(artifacts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The TestToken artifact (ABI + creation bytecode)."""
    return artifacts["TestToken"]


@pytest.fixture(scope="session")
def dev_accounts() -> list[LocalAccount]:
    """The 10 standard dev accounts, derived independently of the node."""
    return derive_dev_accounts(10)
