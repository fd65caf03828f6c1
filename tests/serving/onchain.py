"""What the catalogue and billing tests build on a real devnet: clients per dev account, an
approved datanet, and tiny fake adapter directories (only their hash matters there)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC
from openledger.contracts.deploy import DEPLOYMENT_FILE
from serving.chain import ChainClients, connect_contracts
from serving.lora.slots import CONFIG_FILE, WEIGHTS_FILE
from tests.helpers.devnet import Devnet

DEV: list[LocalAccount] = [Account.from_key(a.private_key) for a in dev_accounts(DEV_MNEMONIC, 10)]
OPEN = 10**18


def clients(devnet: Devnet, account: LocalAccount | None = None) -> ChainClients:
    """Clients signing as `account` (read-only without), contracts from the devnet's record."""
    key = None if account is None else account.key
    return connect_contracts(devnet.url, devnet.datadir / DEPLOYMENT_FILE, key)


@dataclass(frozen=True)
class Datanet:
    datanet_id: int
    contribution_ids: tuple[int, ...]
    version: int


def approved_datanet(
    devnet: Devnet, owner: LocalAccount, contributors: list[LocalAccount]
) -> Datanet:
    """A datanet of `owner` with one approved contribution per contributor (version 1)."""
    datanet_id = clients(devnet, owner).datanets.create_datanet("ipfs://meta", 0).value
    ids = [
        clients(devnet, c)
        .datanets.contribute(datanet_id, os.urandom(32), f"ipfs://row-{i}", 10)
        .value
        for i, c in enumerate(contributors)
    ]
    version = clients(devnet, owner).datanets.approve(ids).value.version
    return Datanet(datanet_id, tuple(ids), version)


def fake_adapter(directory: Path, weights: bytes | None = None) -> tuple[Path, bytes]:
    """A PEFT-shaped directory whose weights file holds `weights` (random by default); returns
    it and the sha256 of the weights, as registered on chain."""
    weights = os.urandom(64) if weights is None else weights
    directory.mkdir(parents=True, exist_ok=True)
    (directory / WEIGHTS_FILE).write_bytes(weights)
    (directory / CONFIG_FILE).write_text('{"peft_type": "LORA"}')
    return directory, hashlib.sha256(weights).digest()
