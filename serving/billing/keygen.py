"""`python -m serving.billing.keygen`: sign a spending session and print it as an API key.

The user's key signs; nothing is sent to the chain. The node is asked only for its chain id and
(without `--contracts`) the InferencePayments address, the two things the signature binds:

    python -m serving.billing.keygen --rpc http://127.0.0.1:8545 --key 0x<user key> \\
        --operator 0x<operator address> --max-total 1ether [--adapter 3] [--ttl 86400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from eth_account import Account

from openledger.contracts.cli import parse_address, parse_wei
from openledger.contracts.payments import ANY_ADAPTER
from serving.billing.apikey import make_api_key
from serving.chain import connect_contracts

DEFAULT_TTL_S = 30 * 24 * 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serving.billing.keygen",
        description="Sign a spending session with a user's key and print it as an API key.",
    )
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="L2 JSON-RPC URL")
    parser.add_argument("--contracts", type=Path, help="contracts.json (default: ask the node)")
    parser.add_argument("--key", required=True, help="the paying user's private key (hex)")
    parser.add_argument("--operator", required=True, type=parse_address, help="who may charge")
    parser.add_argument("--max-total", required=True, type=parse_wei, help="cap, e.g. 1ether")
    parser.add_argument("--adapter", type=int, default=ANY_ADAPTER, help="0: any adapter")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="seconds until expiry")
    parser.add_argument("--nonce", type=int, help="session nonce (default: random)")
    args = parser.parse_args(argv)
    clients = connect_contracts(args.rpc, args.contracts)
    key = make_api_key(
        Account.from_key(args.key),
        args.operator,
        clients.transactor.chain_id(),
        clients.payments.address,
        args.max_total,
        int(time.time()) + args.ttl,
        args.adapter,
        args.nonce,
    )
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
