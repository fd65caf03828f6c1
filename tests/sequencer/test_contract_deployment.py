"""The devnet's first-start deployment: in-process, before the port opens, once per datadir.

Runs :class:`SequencerNode` in this process with stand-in artifacts (tests/helpers/contracts.py)
so that it does not depend on the real contracts' bytecode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from eth_account import Account

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC, NetworkConfig
from openledger.contracts.artifacts import L2_CONTRACTS, load_artifact
from openledger.contracts.deploy import DEPLOYMENT_FILE, load_deployment
from sequencer.cli import banner
from sequencer.service import SequencerNode
from tests.helpers.contracts import compile_fixtures, write_stand_ins
from tests.helpers.devnet import free_port

pytestmark = pytest.mark.slow

T = TypeVar("T")
DEPLOYER = Account.from_key(dev_accounts(DEV_MNEMONIC, 1)[0].private_key)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiled = compile_fixtures(tmp_path_factory.mktemp("fixtures"))
    token = load_artifact("TestToken", compiled)
    return write_stand_ins(tmp_path_factory.mktemp("stand-ins"), token)


def instant_config() -> NetworkConfig:
    config = NetworkConfig()
    return replace(
        config,
        chain=replace(config.chain, block_time=0),
        rpc=replace(config.rpc, port=free_port()),
    )


def rpc(config: NetworkConfig, method: str, *params: Any) -> Any:
    url = f"http://{config.rpc.host}:{config.rpc.port}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return requests.post(url, json=body, timeout=10).json()["result"]


def run_node(node: SequencerNode, body: Callable[[], T]) -> T:
    """Serve until ready, run ``body`` in a thread (it blocks on HTTP), then stop the node."""

    async def main() -> T:
        ready = asyncio.Event()
        task = asyncio.create_task(node.serve(ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        assert not task.done(), task.exception()
        try:
            return await asyncio.to_thread(body)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return asyncio.run(main())


def test_deployed_before_the_port_opens_and_once(tmp_path: Path, stand_ins: Path) -> None:
    config = instant_config()
    node = SequencerNode(config, tmp_path, DEPLOYER, stand_ins)
    first = run_node(node, lambda: rpc(config, "openledger_rollupConfig"))
    assert first["chainId"] == "0x385"
    assert set(first["l2Contracts"]) == set(L2_CONTRACTS)
    record = load_deployment(tmp_path / DEPLOYMENT_FILE)
    assert record is not None
    assert dict(record.contracts) == first["l2Contracts"]
    text = banner(node)
    for name, address in first["l2Contracts"].items():
        assert name in text and address in text

    config = instant_config()
    again = SequencerNode(config, tmp_path, DEPLOYER, stand_ins)
    second, nonce = run_node(
        again,
        lambda: (
            rpc(config, "openledger_rollupConfig"),
            rpc(config, "eth_getTransactionCount", DEPLOYER.address, "latest"),
        ),
    )
    assert second == first
    assert int(nonce, 16) == len(L2_CONTRACTS)


def test_missing_artifacts_leave_the_chain_serving(tmp_path: Path) -> None:
    config = instant_config()
    node = SequencerNode(config, tmp_path / "datadir", DEPLOYER, tmp_path / "no-artifacts")
    answer = run_node(node, lambda: rpc(config, "openledger_rollupConfig"))
    assert answer["l2Contracts"] == {}
    assert node.deploy_error is not None and "no artifact" in node.deploy_error
    assert "not deployed: no artifact" in banner(node)
