"""``openledger devnet``: a local network with funded dev accounts, as anvil gives one."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from openledger.accounts import dev_accounts
from openledger.config import load_config
from openledger.contracts.deploy import DEPLOYMENT_FILE
from sequencer.ai_service import AiService
from sequencer.batcher import DATA_AVAILABILITY
from sequencer.devnet_l1 import DevnetL1, prepare_devnet_l1
from sequencer.service import SequencerNode

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "devnet.toml"


def register_devnet(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "devnet", help="start a local L2 devnet (sequencer + JSON-RPC)"
    )
    parser.add_argument("--datadir", type=Path, required=True, help="chain database directory")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="network TOML")
    parser.add_argument("--rpc-port", type=int, default=None, help="JSON-RPC port (8545)")
    parser.add_argument(
        "--block-time",
        type=float,
        default=None,
        help="seconds between blocks (2); 0 = a block as soon as transactions wait",
    )
    parser.add_argument(
        "--no-ai", action="store_true", help="do not start the AI service (openledger serve --demo)"
    )
    parser.add_argument(
        "--ai-port", type=int, default=8000, help="port of the AI service, OpenAI-style (8000)"
    )
    parser.add_argument(
        "--no-contracts",
        action="store_true",
        help="do not deploy the Payable-AI contracts from dev account 0 at first start",
    )
    parser.add_argument(
        "--no-l1",
        action="store_true",
        help="a standalone L2: no L1, no deposits, batcher or proposer",
    )
    parser.add_argument(
        "--l1-rpc", help="use this L1 instead of starting anvil (contracts deployed at first start)"
    )
    parser.add_argument(
        "--l1-port", type=int, default=8546, help="port of the started anvil (8546)"
    )
    parser.add_argument(
        "--l1-block-time",
        type=int,
        default=2,
        help="seconds between blocks of the started anvil (2)",
    )
    parser.add_argument(
        "--l1-confirmations",
        type=int,
        default=1,
        help="how deep an L1 block must be to become an L2 block's origin (1 = the L1 head)",
    )
    parser.add_argument(
        "--batcher-data-availability",
        choices=DATA_AVAILABILITY,
        default="auto",
        help="how the batcher posts to L1: calldata, EIP-4844 blobs, or auto = blobs where "
        "the L1 supports them (auto)",
    )
    parser.set_defaults(handler=run_devnet)


def banner(node: SequencerNode, l1: DevnetL1 | None = None) -> str:
    config = node.config
    url = f"http://{config.rpc.host}:{config.rpc.port}"
    lines = [
        "OpenLedger devnet",
        f"  chain id      {config.chain.chain_id}",
        f"  block time    {config.chain.block_time:g}s"
        + (" (instant)" if config.chain.block_time == 0 else ""),
        f"  JSON-RPC      {url}",
        f"  WebSocket     ws://{config.rpc.host}:{config.rpc.port}",
        "",
        f"Dev accounts (each funded with {config.genesis.dev_balance // 10**18:,} OPEN):",
    ]
    for index, account in enumerate(
        dev_accounts(config.genesis.mnemonic, config.genesis.dev_accounts)
    ):
        lines.append(f"  ({index}) {account.checksum_address}  0x{account.private_key.hex()}")
    lines += ["", "L2 contracts:"]
    if node.l2_contracts:
        width = max(len(name) for name in node.l2_contracts)
        for name, address in node.l2_contracts.items():
            lines.append(f"  {name:<{width}}  {to_checksum_address(address)}")
    else:
        lines.append(f"  not deployed: {node.deploy_error or 'no deployer'}")
    lines += ["", *(l1.banner() if l1 is not None else ["L1: none (--no-l1)"])]
    lines += ["", f"Listening on {url}"]
    return "\n".join(lines)


def run_devnet(args: argparse.Namespace) -> int:
    config = load_config(args.config).with_overrides(
        block_time=args.block_time, rpc_port=args.rpc_port
    )
    deployer = None
    if not args.no_contracts:
        (account,) = dev_accounts(config.genesis.mnemonic, 1)
        deployer = Account.from_key(account.private_key)
    l1 = None
    if not args.no_l1:
        config, l1 = prepare_devnet_l1(
            config,
            args.datadir,
            args.l1_rpc,
            args.l1_port,
            args.l1_block_time,
            args.l1_confirmations,
            args.batcher_data_availability,
        )

    ai: AiService | None = None

    async def serve(node: SequencerNode) -> None:
        nonlocal ai
        ready = asyncio.Event()
        task = asyncio.create_task(node.serve(ready))
        await ready.wait()
        if not task.done():
            print(banner(node, l1), flush=True)
            if not args.no_ai and node.l2_contracts:
                rpc_url = f"http://127.0.0.1:{config.rpc.port}"
                deployment = args.datadir / DEPLOYMENT_FILE
                ai = AiService(rpc_url, deployment, args.datadir / "ai", args.ai_port)
                ai.start()
        await task

    try:
        asyncio.run(
            serve(SequencerNode(config, args.datadir, deployer, l1=l1.settings if l1 else None))
        )
    finally:
        if ai is not None:
            ai.stop()
        if l1 is not None:
            l1.stop()
    return 0
