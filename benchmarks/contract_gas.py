"""Gas of each main Payable-AI call, on the devnet and on anvil side by side.

Both chains run the same EVM rules (Prague), so every number must match; a difference is a
bug in the node's gas accounting (or a divergence in contract state between the two runs).
The point of the script is to keep the cost of the contracts visible as they change.

The same scenario runs on each chain, with the same dev accounts (0 deploys / curates / owns
the adapter, 1 contributes, 2 is the paying user, 3 the serving operator):

create datanet -> contribute (x N) -> approve N -> register base model -> register adapter
-> deposit -> register operator -> settle 1 inference -> settle a batch of B inferences
(per-inference gas reported too) -> withdraw unspent -> claim rewards.

On the devnet the contracts are the ones it deployed at start (found via
``openledger_rollupConfig``); on anvil this script deploys them with the same code.

Run from the repository root::

    .venv/bin/python benchmarks/contract_gas.py
    .venv/bin/python benchmarks/contract_gas.py --approve 20 --batch 50 --json
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC
from openledger.contracts.artifacts import L2_CONTRACTS, load_artifact
from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.deploy import DeploySettings, deploy_l2_contracts
from openledger.contracts.models import ModelRegistryClient
from openledger.contracts.payments import ANY_ADAPTER, Inference, PaymentsClient, Session
from openledger.contracts.rollup import fetch_rollup_config
from openledger.contracts.transactor import Transactor, connect
from openledger.types import Wei

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENLEDGER_BIN = REPO_ROOT / ".venv" / "bin" / "openledger"
FOUNDRY = REPO_ROOT / "node_modules" / "@foundry-rs"
CHAIN_ID = 901
START_TIMEOUT_S = 90.0
OPEN = 10**18

CONTRIBUTION_STAKE = Wei(OPEN // 100)
PRICE_PER_CALL = Wei(OPEN // 1000)
OPERATOR_STAKE = Wei(10 * OPEN)
DEPOSIT = Wei(10 * OPEN)
SESSION_EXPIRY = 2_000_000_000
"""Fixed (May 2033), not now + 1 h: calldata gas depends on zero bytes, so the expiry and the
(deterministic, RFC 6979) signature over it must be identical on both chains."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_binary() -> Path:
    for candidate in [*sorted(FOUNDRY.glob("anvil-*/bin/anvil")), FOUNDRY / "anvil/dist/anvil"]:
        if candidate.is_file():
            return candidate
    raise SystemExit(f"no anvil under {FOUNDRY}: run `npm ci`")


@contextmanager
def running(command: list[str], port: int, log: Path) -> Iterator[str]:
    """Start ``command``, yield its URL once ``eth_chainId`` answers, terminate it after."""
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited early; see {log}")
            try:
                body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                requests.post(url, json=body, timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{command[0]} did not answer; see {log}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def scenario(url: str, deploy: bool, approve_n: int, batch: int) -> dict[str, int]:
    """Run the calls against ``url``; gas used by each, by name."""
    keys: list[LocalAccount] = [
        Account.from_key(a.private_key) for a in dev_accounts(DEV_MNEMONIC, 4)
    ]
    owner, contributor, user, operator = keys
    artifacts = tuple(load_artifact(name) for name in L2_CONTRACTS)
    w3 = connect(url)

    def as_(account: LocalAccount) -> Transactor:
        return Transactor(w3, account, artifacts)

    if deploy:
        addresses = dict(deploy_l2_contracts(as_(owner), DeploySettings()).contracts)
    else:
        addresses = dict(fetch_rollup_config(as_(owner)).l2_contracts)

    registry = DatanetRegistryClient(as_(owner), addresses["DatanetRegistry"])
    registry_c = DatanetRegistryClient(as_(contributor), addresses["DatanetRegistry"])
    models = ModelRegistryClient(as_(owner), addresses["ModelRegistry"])
    pay_user = PaymentsClient(as_(user), addresses["InferencePayments"])
    pay_operator = PaymentsClient(as_(operator), addresses["InferencePayments"])
    pay_contributor = PaymentsClient(as_(contributor), addresses["InferencePayments"])

    gas: dict[str, int] = {}
    created = registry.create_datanet("ipfs://bench-datanet", CONTRIBUTION_STAKE)
    gas["createDatanet"] = created.receipt.gas_used
    datanet = created.value
    ids = []
    for index in range(approve_n):
        sent = registry_c.contribute(
            datanet, keccak(text=f"sample {index}"), f"ipfs://sample/{index}", 1024
        )
        ids.append(sent.value)
        if index == 0:
            gas["contribute"] = sent.receipt.gas_used
    approved = registry.approve(ids)
    gas[f"approve {approve_n}"] = approved.receipt.gas_used
    version = approved.value.version

    base = models.register_base_model("bench-base", keccak(text="base"), "https://license")
    gas["registerBaseModel"] = base.receipt.gas_used
    adapter = models.register_adapter(
        base.value, datanet, version, keccak(text="adapter"), "ipfs://adapter", PRICE_PER_CALL
    )
    gas["registerAdapter"] = adapter.receipt.gas_used

    gas["deposit"] = pay_user.deposit(DEPOSIT).gas_used
    gas["registerOperator"] = pay_operator.register_operator(OPERATOR_STAKE).gas_used
    session = Session(user.address, operator.address, ANY_ADAPTER, DEPOSIT, SESSION_EXPIRY, 1)
    signed = pay_user.sign_session(user, session)

    def inference(n: int) -> Inference:
        weights = tuple(range(1, len(ids) + 1))
        return Inference(
            adapter.value,
            keccak(text=f"request {n}"),
            keccak(text=f"output {n}"),
            tuple(ids),
            weights,
        )

    gas["settle 1"] = pay_operator.settle(signed, inference(0)).receipt.gas_used
    batched = pay_operator.settle_batch(signed, [inference(n + 1) for n in range(batch)])
    gas[f"settleBatch {batch}"] = batched.receipt.gas_used
    gas[f"settleBatch {batch} per inference"] = batched.receipt.gas_used // batch
    gas["withdraw"] = pay_user.withdraw(Wei(OPEN)).gas_used
    gas["claimRewards"] = pay_contributor.claim().receipt.gas_used
    return gas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--approve", type=int, default=10, help="contributions approved at once")
    parser.add_argument("--batch", type=int, default=50, help="inferences per settleBatch")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="contract-gas-") as tmp:
        work = Path(tmp)
        port = free_port()
        devnet_cmd = [
            str(OPENLEDGER_BIN), "devnet", "--datadir", str(work / "datadir"),
            "--rpc-port", str(port), "--block-time", "0", "--no-ai", "--no-l1",
        ]  # fmt: skip
        with running(devnet_cmd, port, work / "devnet.log") as url:
            node = scenario(url, deploy=False, approve_n=args.approve, batch=args.batch)
        port = free_port()
        anvil_cmd = [
            str(anvil_binary()), "--chain-id", str(CHAIN_ID), "--hardfork", "prague",
            "--port", str(port), "--silent",
        ]  # fmt: skip
        with running(anvil_cmd, port, work / "anvil.log") as url:
            anvil = scenario(url, deploy=True, approve_n=args.approve, batch=args.batch)

    if args.json:
        print(json.dumps({"devnet": node, "anvil": anvil}, indent=2))
        return 0
    width = max(len(name) for name in node)
    print(f"{'call':<{width}}  {'devnet':>10}  {'anvil':>10}  same")
    for name, used in node.items():
        other = anvil.get(name)
        print(
            f"{name:<{width}}  {used:>10,}  {other or 0:>10,}  {'yes' if used == other else 'NO'}"
        )
    return 0 if node == anvil else 1


if __name__ == "__main__":
    sys.exit(main())
