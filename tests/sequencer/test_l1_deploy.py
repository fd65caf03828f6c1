"""``openledger l1 deploy`` against anvil: the contracts are there, configured as rollup.json
says, and rollup.json describes the L1 and the L2 exactly."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from web3.contract import Contract

from openledger.config import load_config
from openledger.contracts.artifacts import load_artifact
from openledger.l1.deploy import L1_ARTIFACTS_DIR
from openledger.l1.rollup_file import load_rollup_file
from sequencer.cli import DEFAULT_CONFIG
from sequencer.l2_genesis import l2_genesis_hash
from tests.helpers.devnet import OPENLEDGER_BIN
from tests.helpers.l1 import L1_CHAIN_ID, Anvil, anvil
from tests.helpers.targets import derive_dev_accounts

pytestmark = pytest.mark.slow


@pytest.fixture
def l1(tmp_path: Path) -> Iterator[Anvil]:
    with anvil(tmp_path / "l1") as node:
        yield node


def test_deploy_writes_a_correct_rollup_json(l1: Anvil, tmp_path: Path) -> None:
    deployer, batcher, proposer = derive_dev_accounts(3)
    out = tmp_path / "rollup.json"
    result = subprocess.run(
        [
            str(OPENLEDGER_BIN),
            "l1",
            "deploy",
            "--l1-rpc",
            l1.url,
            "--key",
            "0x" + deployer.key.hex(),
            "--out",
            str(out),
            "--batcher",
            batcher.address,
            "--proposer",
            proposer.address,
            "--submission-interval",
            "5",
            "--finalization-period",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    raw = json.loads(out.read_text())
    rollup = load_rollup_file(out)
    w3 = l1.w3()

    assert raw["l1_chain_id"] == L1_CHAIN_ID and raw["l2_chain_id"] == 901
    assert raw["batch_inbox_address"] == "0xFf00000000000000000000000000000000000901"
    assert raw["batcher_address"] == batcher.address
    assert raw["proposer_address"] == proposer.address
    assert raw["challenger_address"] == deployer.address
    assert raw["block_time"] == 2
    assert raw["max_sequencer_drift"] == 600
    assert raw["seq_window_size"] == 3600
    assert raw["channel_timeout"] == 50
    assert raw["output_oracle"] == {"submission_interval": 5, "finalization_period_seconds": 30}
    assert raw["fee_scalars"] == {"base_fee_scalar": 1368, "blob_base_fee_scalar": 810949}

    # The L1 genesis origin is a real block of this L1: the one that created the portal.
    origin = w3.eth.get_block(raw["genesis"]["l1"]["number"])
    assert raw["genesis"]["l1"]["hash"] == "0x" + bytes(origin["hash"]).hex()
    assert raw["genesis"]["l1"]["timestamp"] == origin["timestamp"]
    assert int(raw["genesis"]["l1"]["base_fee"]) == origin["baseFeePerGas"]
    portal_creation = w3.eth.get_transaction(origin["transactions"][-1])
    assert portal_creation["to"] is None

    # The L2 genesis is what a node with this rollup's L1 view creates.
    config = load_config(DEFAULT_CONFIG)
    assert raw["genesis"]["l2"]["timestamp"] == config.genesis.timestamp
    assert raw["genesis"]["l2"]["hash"] == "0x" + l2_genesis_hash(rollup.apply_to(config)).hex()

    def contract(name: str, address: str) -> Contract:
        artifact = load_artifact(name, L1_ARTIFACTS_DIR)
        # Same length: immutables (the oracle's) are filled in, nothing else differs.
        assert len(w3.eth.get_code(address)) == len(artifact.deployed_bytecode)
        return w3.eth.contract(address=address, abi=artifact.abi_list())

    addresses = raw["l1_contracts"]
    config_contract = contract("SystemConfig", addresses["SystemConfig"])
    assert config_contract.functions.batcher().call() == batcher.address
    assert config_contract.functions.batchInbox().call() == raw["batch_inbox_address"]
    assert config_contract.functions.owner().call() == deployer.address
    oracle = contract("OutputOracle", addresses["OutputOracle"])
    assert oracle.functions.PROPOSER().call() == proposer.address
    assert oracle.functions.CHALLENGER().call() == deployer.address
    assert oracle.functions.SUBMISSION_INTERVAL().call() == 5
    assert oracle.functions.L2_BLOCK_TIME().call() == 2
    assert oracle.functions.STARTING_BLOCK_NUMBER().call() == 0
    assert oracle.functions.STARTING_TIMESTAMP().call() == config.genesis.timestamp
    assert oracle.functions.FINALIZATION_PERIOD_SECONDS().call() == 30
    token = contract("OpenToken", addresses["OpenToken"])
    assert token.functions.balanceOf(deployer.address).call() == 10**9 * 10**18
    portal = contract("OpenPortal", addresses["OpenPortal"])
    assert to_checksum_address(portal.address) == addresses["OpenPortal"]
