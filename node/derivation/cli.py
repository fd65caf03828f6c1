"""``openledger node``: a full node that rebuilds the chain from L1."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from node.derivation.service import FullNode
from openledger.config import load_config
from openledger.l1.rollup_file import load_rollup_file

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "devnet.toml"

DEFAULT_SENDER_WORKERS = min(4, max(0, (os.cpu_count() or 1) - 1))


def register_node(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "node", help="run a full node: derive the L2 chain from L1, serve JSON-RPC"
    )
    parser.add_argument("--rollup-config", type=Path, required=True, help="rollup.json")
    parser.add_argument("--l1-rpc", required=True, help="L1 JSON-RPC URL")
    parser.add_argument("--datadir", type=Path, required=True, help="chain database directory")
    parser.add_argument("--rpc-port", type=int, default=None, help="JSON-RPC port (8545)")
    parser.add_argument(
        "--sequencer-rpc", default=None, help="follow this sequencer's unsafe blocks, forward txs"
    )
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="network TOML the genesis is built from"
    )
    parser.add_argument(
        "--l1-beacon",
        default=None,
        help="beacon node API URL for the batcher's EIP-4844 blobs (default: anvil's "
        "anvil_getBlobByHash on --l1-rpc)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between L1 polls when caught up"
    )
    parser.add_argument(
        "--sender-workers",
        type=int,
        default=DEFAULT_SENDER_WORKERS,
        help="processes that recover batch senders ahead of execution (default: one fewer "
        "than the CPUs, at most 4; 0: none)",
    )
    parser.set_defaults(handler=run_node)


def run_node(args: argparse.Namespace) -> int:
    rollup = load_rollup_file(args.rollup_config)
    config = rollup.apply_to(load_config(args.config)).with_overrides(rpc_port=args.rpc_port)
    node = FullNode(
        config,
        rollup,
        args.datadir,
        args.l1_rpc,
        args.sequencer_rpc,
        args.poll_interval,
        l1_beacon=args.l1_beacon,
        sender_workers=max(0, args.sender_workers),
    )

    async def serve() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(node.serve(ready))
        await ready.wait()
        if not task.done():
            print(
                f"OpenLedger full node: chain {config.chain.chain_id}, L1 {args.l1_rpc}, "
                f"JSON-RPC http://{config.rpc.host}:{config.rpc.port}",
                flush=True,
            )
        await task

    asyncio.run(serve())
    return 0
