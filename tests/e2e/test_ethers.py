"""ethers v6 against the target: the JavaScript dApp path (JsonRpcProvider + Wallet).

ethers is stricter than web3.py in places (it checks the network, batches requests into JSON
arrays, decodes revert data itself), so it catches response-format bugs web3.py forgives.
The client lives in ethers_client.mjs; this file runs it once and asserts on its JSON summary.
Dev account 2 belongs to this module (see conftest).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.utils.address import get_create_address

from tests.helpers.targets import CHAIN_ID, REPO_ROOT

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).with_name("ethers_client.mjs")
ACCOUNT_INDEX = 2
TOKEN = 10**18


@pytest.fixture(scope="module")
def summary(rpc_url: str, artifacts_dir: Path) -> dict[str, Any]:
    """Run the ethers client once against the target and parse what it printed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH")
    result = subprocess.run(
        [node, str(CLIENT), rpc_url, str(artifacts_dir / "TestToken.json"), str(ACCOUNT_INDEX)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(
            f"ethers client failed ({result.returncode}):\n{result.stderr}\n{result.stdout}",
            pytrace=False,
        )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def w3(rpc_url: str) -> Web3:
    return Web3(HTTPProvider(rpc_url))


def test_network_and_deploy(summary: dict[str, Any], w3: Web3) -> None:
    """ethers detected chain 901 and deployed the token at the CREATE address it predicted."""
    assert int(summary["chainId"]) == CHAIN_ID
    deploy = summary["deploy"]
    assert deploy["status"] == 1
    assert deploy["type"] == 2
    assert deploy["contractAddress"] == summary["token"]
    tx = w3.eth.get_transaction(deploy["hash"])
    assert tx["from"] == summary["account"]
    expected = get_create_address(summary["account"], tx["nonce"])
    assert summary["token"] == expected
    assert len(w3.eth.get_code(summary["token"])) > 0


def test_transfer_and_balances(summary: dict[str, Any]) -> None:
    """The transfer receipt, its parsed Transfer log and the balances read back agree."""
    transfer = summary["transfer"]
    assert transfer["status"] == 1
    assert int(transfer["gasUsed"]) > 21_000
    amount = str(12_500_000_000_000_000_000)
    assert transfer["logs"] == [
        {
            "name": "Transfer",
            "from": summary["account"],
            "to": summary["recipient"],
            "value": amount,
        }
    ]
    assert summary["balances"] == {
        "recipient": amount,
        "account": str(1_000_000 * TOKEN - int(amount)),
        "totalSupply": str(1_000_000 * TOKEN),
    }
    assert summary["block"]["number"] == transfer["blockNumber"]
    assert transfer["hash"] in summary["block"]["transactions"]
    assert summary["block"]["baseFeePerGas"] is not None


def test_transfer_filter_query(summary: dict[str, Any]) -> None:
    """queryFilter(Transfer(from=account)) finds exactly the transfer (not the mint from 0x0)."""
    assert summary["events"] == [
        {
            "name": "Transfer",
            "from": summary["account"],
            "to": summary["recipient"],
            "value": summary["transfer"]["logs"][0]["value"],
            "transactionHash": summary["transfer"]["hash"],
            "blockNumber": summary["transfer"]["blockNumber"],
        }
    ]


def test_reverts_decoded(summary: dict[str, Any]) -> None:
    """ethers recovers the reason string and the custom error from the node's error data."""
    assert summary["revert"]["code"] == "CALL_EXCEPTION"
    assert summary["revert"]["reason"] == "nope"
    custom = summary["customError"]
    assert custom["code"] == "CALL_EXCEPTION"
    assert custom["name"] == "Denied"
    assert custom["args"] == [summary["account"], "7"]
    assert custom["data"].startswith("0x" + keccak(text="Denied(address,uint256)")[:4].hex())


def test_mined_revert(summary: dict[str, Any]) -> None:
    """A reverting tx with an explicit gas limit is mined with status 0 and wait() throws."""
    mined = summary["minedRevert"]
    assert mined["code"] == "CALL_EXCEPTION"
    assert mined["status"] == 0
    assert 21_000 < int(mined["gasUsed"]) < 100_000


def test_view_summary(summary: dict[str, Any]) -> None:
    """A multi-value view decodes into the expected tuple (the reverting calls wrote nothing)."""
    assert summary["view"] == [
        summary["balances"]["recipient"],
        str(1_000_000 * TOKEN),
        "Test Token",
        "0",
    ]
