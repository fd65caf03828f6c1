"""Deploy the Payable-AI contracts of the L2 in dependency order, and remember where they are.

:func:`deploy_l2_contracts` works against any node (the devnet in-process, a remote L2, anvil);
:func:`ensure_deployed` adds the idempotence the devnet needs across restarts: the addresses
are written to a small JSON file in the datadir and reused as long as the chain still holds
code at each of them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from openledger.contracts.artifacts import (
    ARTIFACTS_DIR,
    DATANET_REGISTRY,
    INFERENCE_PAYMENTS,
    L2_CONTRACTS,
    MODEL_REGISTRY,
    load_artifact,
)
from openledger.contracts.exceptions import ArtifactError
from openledger.contracts.transactor import Transactor

log = logging.getLogger(__name__)

DEPLOYMENT_FILE = "contracts.json"
"""Name of the record in a node's datadir."""

RECORD_VERSION = 1


@dataclass(frozen=True)
class DeploySettings:
    """Who governs the contracts and where protocol fees go; both default to the deployer."""

    governance: str | None = None
    """Address allowed to set fee splits and slash operators."""
    treasury: str | None = None
    """Address receiving the protocol's share and slashed stakes."""
    artifacts_dir: Path = ARTIFACTS_DIR


@dataclass(frozen=True)
class Deployment:
    """Where one chain's L2 contracts live."""

    chain_id: int
    contracts: Mapping[str, str]
    """Contract name -> checksum address, for every name in :data:`L2_CONTRACTS`."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "chainId": self.chain_id,
            "contracts": dict(self.contracts),
        }


def constructor_args(
    name: str, deployed: Mapping[str, str], governance: str, treasury: str
) -> list[Any]:
    """Arguments of each contract's constructor, given the ones deployed before it."""
    if name == DATANET_REGISTRY:
        return [treasury]
    if name == MODEL_REGISTRY:
        return [deployed[DATANET_REGISTRY]]
    if name == INFERENCE_PAYMENTS:
        return [deployed[MODEL_REGISTRY], deployed[DATANET_REGISTRY], treasury, governance]
    raise ArtifactError(f"no deployment rule for {name}")


def deploy_l2_contracts(transactor: Transactor, settings: DeploySettings) -> Deployment:
    """Deploy every contract of :data:`L2_CONTRACTS` from the transactor's account, in order."""
    governance = settings.governance or transactor.sender
    treasury = settings.treasury or transactor.sender
    deployed: dict[str, str] = {}
    for name in L2_CONTRACTS:
        artifact = load_artifact(name, settings.artifacts_dir)
        args = constructor_args(name, deployed, governance, treasury)
        result = transactor.deploy(artifact, *args)
        deployed[name] = result.address
        log.info("deployed %s at %s (%d gas)", name, result.address, result.receipt.gas_used)
    return Deployment(transactor.chain_id(), deployed)


def load_deployment(path: Path) -> Deployment | None:
    """The record at ``path``, or ``None`` if there is none or it is unreadable (then redeploy)."""
    try:
        raw = json.loads(path.read_text())
        contracts = {str(k): to_checksum_address(v) for k, v in raw["contracts"].items()}
        return Deployment(int(raw["chainId"]), contracts)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable deployment record %s: %s", path, exc)
        return None


def save_deployment(path: Path, deployment: Deployment) -> None:
    """Write atomically (temporary file + rename) so a crash never leaves half a record."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(deployment.to_json(), indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def is_live(transactor: Transactor, deployment: Deployment) -> bool:
    """Whether ``deployment`` is for this chain, names every contract and each one has code."""
    if deployment.chain_id != transactor.chain_id():
        return False
    if set(deployment.contracts) != set(L2_CONTRACTS):
        return False
    return all(transactor.code(address) for address in deployment.contracts.values())


def ensure_deployed(
    transactor: Transactor, record: Path, settings: DeploySettings | None = None
) -> tuple[Deployment, bool]:
    """Reuse the deployment recorded at ``record`` if it is live, else deploy and record it.

    Returns the deployment and whether this call deployed it.
    """
    existing = load_deployment(record)
    if existing is not None and is_live(transactor, existing):
        return existing, False
    if existing is not None:
        log.warning("the contracts recorded in %s are not on this chain; redeploying", record)
    deployment = deploy_l2_contracts(transactor, settings or DeploySettings())
    save_deployment(record, deployment)
    return deployment, True
