"""The devnet's L1: start anvil (or use ``--l1-rpc``), deploy the L1 contracts once, and hand
the sequencer its :class:`~sequencer.rollup_services.L1Settings`.

Dev account 0 deploys (and holds all L1 OPEN and owns SystemConfig), dev account 1 is the
batcher, dev account 2 the proposer; 0 is also the challenger. The rollup.json is written into
the datadir at the first start and reused afterwards, after checking that the L1 still has
the rollup's first block (an L1 that lost its state cannot carry this L2 on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from openledger.accounts import dev_accounts
from openledger.config import NetworkConfig
from openledger.l1.client import L1Client
from openledger.l1.deploy import L1DeployConfig, default_batch_inbox
from openledger.l1.exceptions import RollupFileError
from openledger.l1.rollup_file import ROLLUP_FILE, RollupFile, load_rollup_file
from sequencer.anvil import DevL1
from sequencer.batcher import BatcherConfig
from sequencer.l1_cli import deploy_rollup
from sequencer.rollup_services import L1Settings

DEPLOYER, BATCHER, PROPOSER = 0, 1, 2
"""Dev account indices."""
SUBMISSION_INTERVAL = 10
"""L2 blocks between output proposals on the devnet."""
FINALIZATION_PERIOD_S = 12
"""The devnet's challenge window: seconds, so withdrawals can be finalized in a test."""


@dataclass
class DevnetL1:
    rollup: RollupFile
    settings: L1Settings
    anvil: DevL1 | None
    rollup_path: Path
    block_time: int

    def stop(self) -> None:
        if self.anvil is not None:
            self.anvil.stop()

    def banner(self) -> list[str]:
        rollup = self.rollup
        origin = rollup.l1_genesis
        kind = "anvil, started by the devnet" if self.anvil is not None else "external"
        block_time = f"{self.block_time}s blocks, " if self.anvil is not None else ""
        rows = [
            ("OpenToken", rollup.l1_contracts.token),
            ("SystemConfig", rollup.l1_contracts.system_config),
            ("OutputOracle", rollup.l1_contracts.output_oracle),
            ("OpenPortal", rollup.l1_contracts.portal),
            ("batch inbox", rollup.batch_inbox_address),
            (f"batcher ({BATCHER})", rollup.batcher_address),
            (f"proposer ({PROPOSER})", rollup.proposer_address),
        ]
        return [
            f"L1 ({kind}, chain id {rollup.l1_chain_id})",
            f"  JSON-RPC      {self.settings.l1_rpc}",
            f"  {block_time}origin confirmations {self.settings.origin_confirmations}",
            f"  rollup starts at L1 block {origin.number} 0x{origin.hash.hex()}",
            f"  outputs every {rollup.submission_interval} L2 blocks, "
            f"challenge window {rollup.finalization_period_seconds}s",
            f"  rollup.json   {self.rollup_path}",
            *(f"  {name:<13} {address}" for name, address in rows),
        ]


def _check_on_l1(client: L1Client, rollup: RollupFile) -> None:
    if client.chain_id() != rollup.l1_chain_id:
        raise RollupFileError(
            f"rollup.json is for L1 chain {rollup.l1_chain_id}, the L1 is {client.chain_id()}"
        )
    origin = rollup.l1_genesis
    block = client.block(origin.number)
    if block is None or block.hash != origin.hash:
        raise RollupFileError(
            f"the L1 at {client.url} does not have the rollup's first block {origin.number} "
            f"0x{origin.hash.hex()}: it is another L1, or one that lost its state; start "
            "with a fresh --datadir"
        )


def prepare_devnet_l1(
    config: NetworkConfig,
    datadir: Path,
    l1_rpc: str | None,
    l1_port: int,
    l1_block_time: int,
    confirmations: int,
    data_availability: str = "calldata",
) -> tuple[NetworkConfig, DevnetL1]:
    """Start or reach the L1, deploy or load the rollup; return the L2 config tied to it.

    ``data_availability``: how the batcher posts (``calldata``, ``blobs`` or ``auto``)."""
    accounts = [Account.from_key(a.private_key) for a in dev_accounts(config.genesis.mnemonic, 3)]
    anvil = None
    if l1_rpc is None:
        anvil = DevL1(datadir / "l1", l1_port, l1_block_time)
        client = anvil.start()
    else:
        client = L1Client(l1_rpc)
    try:
        path = datadir / ROLLUP_FILE
        if path.exists():
            rollup = load_rollup_file(path)
            _check_on_l1(client, rollup)
        else:
            deploy_config = L1DeployConfig(
                l2_chain_id=config.chain.chain_id,
                l2_genesis_time=config.genesis.timestamp,
                l2_block_time=max(1, round(config.chain.block_time)),
                batcher=accounts[BATCHER].address,
                proposer=accounts[PROPOSER].address,
                challenger=accounts[DEPLOYER].address,
                batch_inbox=default_batch_inbox(config.chain.chain_id),
                submission_interval=SUBMISSION_INTERVAL,
                finalization_period_seconds=FINALIZATION_PERIOD_S,
                base_fee_scalar=config.rollup.base_fee_scalar,
                blob_base_fee_scalar=config.rollup.blob_base_fee_scalar,
            )
            rollup = deploy_rollup(client.url, accounts[DEPLOYER], config, deploy_config)
            rollup.save(path)
        if rollup.batcher_address != accounts[BATCHER].address:
            raise RollupFileError(f"{path} names a batcher that is not dev account {BATCHER}")
        if rollup.proposer_address != accounts[PROPOSER].address:
            raise RollupFileError(f"{path} names a proposer that is not dev account {PROPOSER}")
        if anvil is not None:
            anvil.start_interval_mining(client)
    except BaseException:
        if anvil is not None:
            anvil.stop()
        raise
    settings = L1Settings(
        rollup=rollup,
        l1_rpc=client.url,
        batcher_key=accounts[BATCHER],
        proposer_key=accounts[PROPOSER],
        origin_confirmations=confirmations,
        batcher=BatcherConfig(data_availability=data_availability),
    )
    return rollup.apply_to(config), DevnetL1(rollup, settings, anvil, path, l1_block_time)
