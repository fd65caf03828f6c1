"""``openledger l1 deploy``: deploy the rollup's L1 contracts to any L1 and write rollup.json.

Lives in ``sequencer`` rather than the kernel because, unless ``--l2-genesis-hash`` is given,
it computes the L2 genesis hash from the network config (``node.genesis``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from openledger.config import NetworkConfig, load_config
from openledger.contracts.artifacts import load_artifact
from openledger.contracts.transactor import Transactor, connect
from openledger.l1.client import L1Client
from openledger.l1.deploy import (
    L1_ARTIFACTS_DIR,
    L1_CONTRACTS,
    L1DeployConfig,
    default_batch_inbox,
    deploy_l1,
)
from openledger.l1.rollup_file import ROLLUP_FILE, RollupFile
from sequencer.l2_genesis import l2_genesis_hash

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "devnet.toml"


def deploy_rollup(
    l1_rpc: str,
    deployer: LocalAccount,
    config: NetworkConfig,
    deploy_config: L1DeployConfig,
    genesis_hash: bytes | None = None,
) -> RollupFile:
    """Deploy from ``deployer``; the L2 genesis hash is ``genesis_hash`` or the one ``config``
    gives with the new rollup's L1 origin."""
    artifacts = tuple(load_artifact(name, L1_ARTIFACTS_DIR) for name in L1_CONTRACTS)
    transactor = Transactor(connect(l1_rpc), deployer, artifacts)

    def hash_of(draft: RollupFile) -> bytes:
        return genesis_hash if genesis_hash is not None else l2_genesis_hash(draft.apply_to(config))

    return deploy_l1(transactor, L1Client(l1_rpc), deploy_config, hash_of)


def register_l1(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("l1", help="the rollup's L1 side")
    actions = parser.add_subparsers(dest="l1_command", metavar="ACTION", required=True)
    deploy = actions.add_parser(
        "deploy",
        help="deploy OpenToken, OutputOracle, SystemConfig and OpenPortal; write rollup.json",
    )
    deploy.add_argument("--l1-rpc", required=True, help="L1 JSON-RPC URL")
    deploy.add_argument("--key", required=True, help="deployer private key (0x…)")
    deploy.add_argument("--out", type=Path, default=Path(ROLLUP_FILE), help="rollup.json path")
    deploy.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="L2 network TOML")
    deploy.add_argument(
        "--l2-genesis-hash", help="use this L2 genesis hash instead of computing it from --config"
    )
    deploy.add_argument("--batcher", help="batcher address (default: the deployer)")
    deploy.add_argument("--proposer", help="proposer address (default: the deployer)")
    deploy.add_argument("--challenger", help="challenger address (default: the deployer)")
    deploy.add_argument("--batch-inbox", help="batch inbox (default: 0xff00…<L2 chain id>)")
    deploy.add_argument("--submission-interval", type=int, default=10, help="L2 blocks (10)")
    deploy.add_argument(
        "--finalization-period",
        type=int,
        default=604_800,
        help="challenge window in seconds (604800 = 7 days; a devnet uses seconds)",
    )
    deploy.add_argument("--max-sequencer-drift", type=int, default=600, help="seconds (600)")
    deploy.add_argument("--seq-window-size", type=int, default=3600, help="L1 blocks (3600)")
    deploy.add_argument("--channel-timeout", type=int, default=50, help="L1 blocks (50)")
    deploy.set_defaults(handler=run_deploy)


def run_deploy(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    deployer: LocalAccount = Account.from_key(args.key)
    me = deployer.address
    deploy_config = L1DeployConfig(
        l2_chain_id=config.chain.chain_id,
        l2_genesis_time=config.genesis.timestamp,
        l2_block_time=max(1, round(config.chain.block_time)),
        batcher=args.batcher or me,
        proposer=args.proposer or me,
        challenger=args.challenger or me,
        batch_inbox=args.batch_inbox or default_batch_inbox(config.chain.chain_id),
        submission_interval=args.submission_interval,
        finalization_period_seconds=args.finalization_period,
        max_sequencer_drift=args.max_sequencer_drift,
        seq_window_size=args.seq_window_size,
        channel_timeout=args.channel_timeout,
        base_fee_scalar=config.rollup.base_fee_scalar,
        blob_base_fee_scalar=config.rollup.blob_base_fee_scalar,
    )
    given = bytes.fromhex(args.l2_genesis_hash.removeprefix("0x")) if args.l2_genesis_hash else None
    rollup = deploy_rollup(args.l1_rpc, deployer, config, deploy_config, given)
    rollup.save(args.out)
    print(json.dumps(rollup.to_json(), indent=2))
    print(f"wrote {args.out}")
    return 0
