"""The AI service's only way to the chain: JSON-RPC to one node, through the typed clients.

The catalogue and the cashier both start from the same three facts: a node URL, where the
contracts are, and (for the cashier) the operator's key. The contract addresses come from a
deployment record (the devnet writes ``<datadir>/contracts.json``) when the service runs beside
the node, or from the node's own ``openledger_rollupConfig`` when it runs elsewhere, so a remote
node works exactly like a local one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import event_abi_to_log_topic

from openledger.contracts.artifacts import L2_CONTRACTS, load_artifact
from openledger.contracts.client import ContractClient
from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.deploy import load_deployment
from openledger.contracts.exceptions import NotDeployed
from openledger.contracts.models import ModelRegistryClient
from openledger.contracts.payments import PaymentsClient
from openledger.contracts.rollup import RollupConfig, fetch_rollup_config
from openledger.contracts.transactor import Transactor, connect

MAX_LOG_RANGE = 10_000
"""Blocks one ``eth_getLogs`` asks for: what the node (and public providers) allow at most."""


@dataclass(frozen=True)
class ChainClients:
    """One connection and the three contract clients sharing it (and its nonce lock)."""

    transactor: Transactor
    datanets: DatanetRegistryClient
    models: ModelRegistryClient
    payments: PaymentsClient


def connect_contracts(
    rpc_url: str, deployment: Path | None = None, private_key: str | bytes | None = None
) -> ChainClients:
    """Clients for the contracts at ``deployment`` (a ``contracts.json``), else those the node
    reports; read-only unless ``private_key`` (the operator's) is given."""
    account = Account.from_key(private_key) if private_key else None
    artifacts = tuple(load_artifact(name) for name in L2_CONTRACTS)
    transactor = Transactor(connect(rpc_url), account, artifacts)
    if deployment is None:
        rollup = fetch_rollup_config(transactor)
    else:
        record = load_deployment(deployment)
        if record is None:
            raise NotDeployed(f"no readable deployment record at {deployment}")
        if record.chain_id != transactor.chain_id():
            raise NotDeployed(
                f"{deployment} is for chain {record.chain_id}, the node at {rpc_url} is "
                f"chain {transactor.chain_id()}"
            )
        rollup = RollupConfig(record.chain_id, record.contracts)
    return ChainClients(
        transactor,
        DatanetRegistryClient.from_rollup(transactor, rollup),
        ModelRegistryClient.from_rollup(transactor, rollup),
        PaymentsClient.from_rollup(transactor, rollup),
    )


def get_logs(
    transactor: Transactor,
    address: str,
    topics: list[Any],
    from_block: int,
    to_block: int,
) -> Iterator[Any]:
    """Logs of ``address`` matching ``topics`` in ``[from_block, to_block]``, in order, asked
    for in windows the node accepts."""
    start = from_block
    while start <= to_block:
        end = min(start + MAX_LOG_RANGE - 1, to_block)
        with transactor.translating("eth_getLogs"):
            logs = transactor.w3.eth.get_logs(
                {"address": address, "topics": topics, "fromBlock": start, "toBlock": end}
            )
        yield from logs
        start = end + 1


def head_block(transactor: Transactor) -> int:
    with transactor.translating("eth_blockNumber"):
        return int(transactor.w3.eth.block_number)


def block_timestamp(transactor: Transactor, number: int) -> int:
    with transactor.translating("eth_getBlockByNumber"):
        return int(transactor.w3.eth.get_block(number)["timestamp"])


def event_topic(client: ContractClient, name: str) -> bytes:
    """``topic0`` of the client's contract event ``name``."""
    for entry in client.contract.abi:
        if entry.get("type") == "event" and entry.get("name") == name:
            return bytes(event_abi_to_log_topic(entry))  # type: ignore[arg-type]
    raise KeyError(f"{client.NAME} has no event {name}")
