"""L2 predeploys: contracts whose runtime code is placed at fixed addresses in genesis.

Sources in ``contracts/src/l2/predeploys``, committed artifacts in ``contracts/out/predeploys``
(``node contracts/compile.mjs contracts/src/l2/predeploys contracts/out/predeploys``). The
addresses follow the OP Stack, so that L1 contracts and tools can name them without a lookup.
"""

from __future__ import annotations

from pathlib import Path

from openledger.contracts.artifacts import ARTIFACTS_DIR, Artifact, load_artifact
from openledger.contracts.exceptions import ArtifactError
from openledger.types import Address

PREDEPLOYS_DIR = ARTIFACTS_DIR / "predeploys"
"""``<repo>/contracts/out/predeploys``: the committed predeploy artifacts."""

L2_TO_L1_MESSAGE_PASSER = "L2ToL1MessagePasser"
L2_TO_L1_MESSAGE_PASSER_ADDRESS = Address(bytes.fromhex("4200000000000000000000000000000000000016"))
"""Where withdrawals are recorded; the L1 portal proves its ``sentMessages`` (slot 0)."""

L1_BLOCK = "L1Block"
L1_BLOCK_ADDRESS = Address(bytes.fromhex("4200000000000000000000000000000000000015"))
"""Holds the L2 block's L1 origin and fee parameters, set by the first transaction of each block."""

GAS_PRICE_ORACLE = "GasPriceOracle"
GAS_PRICE_ORACLE_ADDRESS = Address(bytes.fromhex("420000000000000000000000000000000000000F"))
"""Answers ``getL1Fee(bytes)``: the L1 data fee the node charges a transaction."""

L1_FEE_VAULT_ADDRESS = Address(bytes.fromhex("420000000000000000000000000000000000001A"))
"""Receives every L1 data fee (OP's L1FeeVault address; no code here, only a balance)."""

L1_ATTRIBUTES_DEPOSITOR = Address(bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001"))
"""Sender of the L1-attributes deposit; the only account ``L1Block`` accepts values from."""

PREDEPLOYS: dict[Address, str] = {
    L2_TO_L1_MESSAGE_PASSER_ADDRESS: L2_TO_L1_MESSAGE_PASSER,
    L1_BLOCK_ADDRESS: L1_BLOCK,
    GAS_PRICE_ORACLE_ADDRESS: GAS_PRICE_ORACLE,
}
"""Every predeploy: address -> artifact name."""


def load_predeploy(name: str, directory: Path = PREDEPLOYS_DIR) -> Artifact:
    """The committed artifact of predeploy ``name``; its runtime code must not be empty."""
    artifact = load_artifact(name, directory)
    if not artifact.deployed_bytecode:
        raise ArtifactError(f"{name}: empty deployedBytecode; a predeploy needs runtime code")
    return artifact


def predeploy_code(directory: Path = PREDEPLOYS_DIR) -> dict[Address, bytes]:
    """Runtime code of every predeploy, by address, as genesis places it."""
    return {
        address: load_predeploy(name, directory).deployed_bytecode
        for address, name in PREDEPLOYS.items()
    }
