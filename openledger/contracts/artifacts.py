"""Compiled contract artifacts (``contracts/out/<Name>.json``): ABI and creation bytecode.

The artifacts are committed by the contracts build (``node contracts/compile.mjs contracts/src/l2
contracts/out --exclude predeploys``) and read from the source tree rather than copied into the
package: the project is installed editable (``pip install -e .``) and the Docker images carry the
whole repository, so one copy of each artifact exists and it cannot drift from what CI checks
against the sources.
Services that run elsewhere pass their own directory to :func:`load_artifact`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openledger.contracts.exceptions import ArtifactError

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "out"
"""``<repo>/contracts/out``: where ``contracts/compile.mjs`` writes the committed artifacts."""

DATANET_REGISTRY = "DatanetRegistry"
MODEL_REGISTRY = "ModelRegistry"
INFERENCE_PAYMENTS = "InferencePayments"

L2_CONTRACTS = (DATANET_REGISTRY, MODEL_REGISTRY, INFERENCE_PAYMENTS)
"""The Payable-AI contracts of the L2, in deployment (dependency) order."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    """Contract name, also the file's stem."""
    abi: tuple[dict[str, Any], ...]
    """The JSON ABI entries, as solc writes them."""
    bytecode: bytes
    """Creation code (constructor arguments are appended at deployment)."""
    deployed_bytecode: bytes
    """Runtime code; compared against ``eth_getCode`` to tell a deployment is current."""

    def abi_list(self) -> list[dict[str, Any]]:
        """The ABI as web3.py wants it (a list)."""
        return list(self.abi)


def _hex(value: Any, field: str, path: Path) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArtifactError(f"{path}: {field} must be 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ArtifactError(f"{path}: {field} is not valid hex") from exc


def parse_artifact(name: str, raw: Any, path: Path) -> Artifact:
    """Check the shape of a decoded artifact file; ``path`` only names it in errors."""
    if not isinstance(raw, dict) or not isinstance(raw.get("abi"), list):
        raise ArtifactError(f"{path}: not a contract artifact (no abi list)")
    bytecode = _hex(raw.get("bytecode"), "bytecode", path)
    if not bytecode:
        raise ArtifactError(f"{path}: empty bytecode (an interface or abstract contract?)")
    deployed = _hex(raw.get("deployedBytecode", "0x"), "deployedBytecode", path)
    return Artifact(name, tuple(raw["abi"]), bytecode, deployed)


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """Read ``<directory>/<name>.json``; cached because every client instance asks again."""
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"no artifact for {name} at {path}: run "
            "`node contracts/compile.mjs contracts/src/l2 contracts/out --exclude predeploys`"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    return parse_artifact(name, raw, path)
