"""Contract fixtures for tests: compile tests/fixtures/contracts, and stand-in L2 artifacts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from openledger.contracts.artifacts import L2_CONTRACTS, Artifact
from openledger.contracts.deploy import constructor_args
from tests.helpers.devnet import REPO_ROOT

FIXTURE_SOURCES = REPO_ROOT / "tests" / "fixtures" / "contracts"
COMPILE_SCRIPT = REPO_ROOT / "contracts" / "compile.mjs"


def compile_fixtures(out: Path) -> Path:
    """tests/fixtures/contracts compiled with the pinned npm solc into ``out`` (about 1 s)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` is not on PATH: the tests compile contracts with npm solc")
    subprocess.run(
        [node, str(COMPILE_SCRIPT), str(FIXTURE_SOURCES), str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def write_stand_ins(out: Path, token: Artifact) -> Path:
    """TestToken's code under each L2 contract's name, with a constructor ABI of the arity the
    deployment rules give it (Solidity ignores trailing constructor data), so deployment and
    its idempotence can be tested without the real contracts' bytecode."""
    placeholder = "0x" + "11" * 20
    deployed: dict[str, str] = {}
    for name in L2_CONTRACTS:
        arity = len(constructor_args(name, deployed, placeholder, placeholder))
        deployed[name] = placeholder
        inputs = [{"name": f"a{i}", "type": "address"} for i in range(arity)]
        artifact = {
            "abi": [{"type": "constructor", "stateMutability": "nonpayable", "inputs": inputs}],
            "bytecode": "0x" + token.bytecode.hex(),
            "deployedBytecode": "0x" + token.deployed_bytecode.hex(),
        }
        (out / f"{name}.json").write_text(json.dumps(artifact))
    return out
