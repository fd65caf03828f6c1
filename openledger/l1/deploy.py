"""Deploy the rollup's L1 contracts to any L1 and describe the result as a :class:`RollupFile`.

Order: ``OpenToken`` (all OPEN to the holder), ``OutputOracle`` (proposer, challenger, interval,
L2 block time, L2 genesis time, challenge window), ``SystemConfig`` (batcher and batch inbox),
``OpenPortal`` (token + oracle). The rollup starts at the L1 block that holds the portal's
creation: no deposit can be older, so none is missed. The L2 genesis hash depends on that
block (L2 genesis's ``L1Block`` state names it), so the caller supplies a function from the
rollup description (all but that hash) to the hash; the kernel cannot build an L2 genesis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from eth_utils import to_checksum_address

from openledger.contracts.artifacts import ARTIFACTS_DIR, load_artifact
from openledger.contracts.transactor import Transactor
from openledger.l1.client import L1Client
from openledger.l1.exceptions import L1Error
from openledger.l1.rollup_file import L1Contracts, L1GenesisOrigin, RollupFile

log = logging.getLogger(__name__)

L1_ARTIFACTS_DIR = ARTIFACTS_DIR / "l1"
OPEN_TOKEN, OUTPUT_ORACLE, SYSTEM_CONFIG, OPEN_PORTAL = (
    "OpenToken",
    "OutputOracle",
    "SystemConfig",
    "OpenPortal",
)
L1_CONTRACTS = (OPEN_TOKEN, OUTPUT_ORACLE, SYSTEM_CONFIG, OPEN_PORTAL)
"""Deployment order."""


def default_batch_inbox(l2_chain_id: int) -> str:
    """OP's convention: ``0xff00…00<chain id in decimal digits>`` (no code, no key)."""
    return to_checksum_address(f"0xff{l2_chain_id:038d}")


@dataclass(frozen=True)
class L1DeployConfig:
    l2_chain_id: int
    l2_genesis_time: int
    l2_block_time: int
    """Seconds; the OutputOracle needs at least 1 (an instant-mining devnet uses 1)."""
    batcher: str
    proposer: str
    challenger: str
    batch_inbox: str
    submission_interval: int = 10
    finalization_period_seconds: int = 604_800
    """Seven days, as on OP mainnet; the devnet uses seconds."""
    max_sequencer_drift: int = 600
    seq_window_size: int = 3600
    channel_timeout: int = 50
    base_fee_scalar: int = 1368
    blob_base_fee_scalar: int = 810_949
    token_holder: str | None = None
    """Receives the fixed OPEN supply; the deployer by default."""
    owner: str | None = None
    """Owner of SystemConfig; the deployer by default."""


def deploy_l1(
    transactor: Transactor,
    client: L1Client,
    config: L1DeployConfig,
    l2_genesis_hash: Callable[[RollupFile], bytes],
    artifacts_dir: Path = L1_ARTIFACTS_DIR,
) -> RollupFile:
    """Deploy the four contracts from ``transactor``'s account; return the rollup description."""
    if config.l2_block_time < 1:
        raise L1Error("the OutputOracle needs an L2 block time of at least 1 second")
    artifact = {name: load_artifact(name, artifacts_dir) for name in L1_CONTRACTS}
    deployer = transactor.sender
    token = transactor.deploy(artifact[OPEN_TOKEN], config.token_holder or deployer)
    oracle = transactor.deploy(
        artifact[OUTPUT_ORACLE],
        config.submission_interval,
        config.l2_block_time,
        0,
        config.l2_genesis_time,
        config.finalization_period_seconds,
        to_checksum_address(config.proposer),
        to_checksum_address(config.challenger),
    )
    system_config = transactor.deploy(
        artifact[SYSTEM_CONFIG],
        config.owner or deployer,
        to_checksum_address(config.batcher),
        to_checksum_address(config.batch_inbox),
    )
    portal = transactor.deploy(artifact[OPEN_PORTAL], token.address, oracle.address)
    start = client.block(portal.receipt.block_number)
    if start is None:
        raise L1Error(f"L1 block {portal.receipt.block_number} vanished right after deployment")
    origin = L1GenesisOrigin(
        number=start.number,
        hash=start.hash,
        timestamp=start.timestamp,
        base_fee=start.base_fee,
        blob_base_fee=start.blob_base_fee,
    )
    log.info(
        "deployed L1 contracts: token=%s oracle=%s config=%s portal=%s; L1 origin %d",
        token.address,
        oracle.address,
        system_config.address,
        portal.address,
        origin.number,
    )
    draft = RollupFile(
        l1_chain_id=transactor.chain_id(),
        l2_chain_id=config.l2_chain_id,
        l1_genesis=origin,
        l2_genesis_hash=bytes(32),
        l2_genesis_time=config.l2_genesis_time,
        block_time=config.l2_block_time,
        max_sequencer_drift=config.max_sequencer_drift,
        seq_window_size=config.seq_window_size,
        channel_timeout=config.channel_timeout,
        l1_contracts=L1Contracts(
            token=token.address,
            system_config=system_config.address,
            output_oracle=oracle.address,
            portal=portal.address,
        ),
        batch_inbox_address=to_checksum_address(config.batch_inbox),
        batcher_address=to_checksum_address(config.batcher),
        proposer_address=to_checksum_address(config.proposer),
        challenger_address=to_checksum_address(config.challenger),
        submission_interval=config.submission_interval,
        finalization_period_seconds=config.finalization_period_seconds,
        base_fee_scalar=config.base_fee_scalar,
        blob_base_fee_scalar=config.blob_base_fee_scalar,
    )
    return replace(draft, l2_genesis_hash=l2_genesis_hash(draft))
