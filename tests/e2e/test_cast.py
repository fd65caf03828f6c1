"""Foundry's ``cast`` against the target: the command line every Solidity developer reaches for.

cast is built on alloy (Rust), a third JSON-RPC client implementation next to web3.py and
ethers with its own strict deserialisation of quantities, receipts and logs.
Dev account 3 belongs to this module (see conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3

from tests.helpers.targets import CHAIN_ID, DEV_BALANCE_WEI, REPO_ROOT, foundry_binary

pytestmark = pytest.mark.slow

TRANSFER_SIG = "Transfer(address indexed,address indexed,uint256)"
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


class Cast:
    """Runs ``cast`` against one RPC URL; a non-zero exit fails the test with cast's stderr."""

    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self.binary = foundry_binary("cast")

    def run(self, command: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``cast COMMAND --rpc-url URL ARGS``; options go before the positional arguments
        because variadic ones (``send --create CODE [SIG] [ARGS]...``) swallow what follows."""
        env = {**os.environ, "FOUNDRY_DISABLE_NIGHTLY_WARNING": "1", "NO_COLOR": "1"}
        env.pop("ETH_RPC_URL", None)
        args = (command, *args)
        result = subprocess.run(
            [str(self.binary), command, "--rpc-url", self.rpc_url, *args[1:]],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"cast {' '.join(args)} exited {result.returncode}:\n{result.stderr}",
                pytrace=False,
            )
        return result

    def out(self, command: str, *args: str) -> str:
        return self.run(command, *args).stdout.strip()

    def json(self, command: str, *args: str) -> Any:
        """``cast COMMAND --json ARGS``, parsed."""
        return json.loads(self.out(command, "--json", *args))


@pytest.fixture(scope="module")
def cast(rpc_url: str) -> Cast:
    return Cast(rpc_url)


@pytest.fixture(scope="module")
def w3(rpc_url: str) -> Web3:
    return Web3(HTTPProvider(rpc_url))


@pytest.fixture(scope="module")
def account(dev_accounts: list[LocalAccount]) -> LocalAccount:
    return dev_accounts[3]


@pytest.fixture(scope="module")
def key(account: LocalAccount) -> str:
    return account.key.to_0x_hex()


@pytest.fixture(scope="module")
def recipient() -> str:
    """A fresh address nothing else touches, so its balances are exact."""
    return to_checksum_address(keccak(text="cast recipient")[-20:])


@pytest.fixture(scope="module")
def token(cast: Cast, key: str, token_artifact: dict[str, Any]) -> str:
    """TestToken deployed with ``cast send --create``; returns its address."""
    receipt = cast.json("send", "--private-key", key, "--create", token_artifact["bytecode"])
    assert receipt["status"] == "0x1", receipt
    return to_checksum_address(receipt["contractAddress"])


@pytest.fixture(scope="module")
def token_transfer(cast: Cast, key: str, token: str, recipient: str) -> dict[str, Any]:
    """The receipt of ``cast send TOKEN transfer(recipient, 1000)``."""
    return cast.json(
        "send", "--private-key", key, token, "transfer(address,uint256)", recipient, "1000"
    )


def test_chain_id(cast: Cast) -> None:
    assert cast.out("chain-id") == str(CHAIN_ID)


def test_block_number(cast: Cast, w3: Web3) -> None:
    """Single-threaded session: nothing mines between the two reads."""
    assert int(cast.out("block-number")) == w3.eth.block_number


def test_balance(cast: Cast, w3: Web3, account: LocalAccount, dev_accounts: list[Any]) -> None:
    assert int(cast.out("balance", account.address)) == w3.eth.get_balance(account.address)
    untouched = dev_accounts[9].address
    assert int(cast.out("balance", untouched)) == DEV_BALANCE_WEI
    assert cast.out("balance", "--ether", untouched) == "10000.000000000000000000"


def test_send_value(cast: Cast, w3: Web3, key: str) -> None:
    """A value transfer signed by cast (EIP-1559 with cast's own fee estimation)."""
    to = to_checksum_address(keccak(text="cast value recipient")[-20:])
    receipt = cast.json("send", "--private-key", key, to, "--value", "12345")
    assert receipt["status"] == "0x1"
    assert receipt["type"] == "0x2"
    assert int(receipt["gasUsed"], 16) == 21_000
    assert w3.eth.get_balance(to) == 12345


def test_send_legacy(cast: Cast, w3: Web3, key: str) -> None:
    """``--legacy`` makes cast use eth_gasPrice and a type-0 transaction."""
    to = to_checksum_address(keccak(text="cast legacy recipient")[-20:])
    receipt = cast.json("send", "--private-key", key, "--legacy", to, "--value", "7")
    assert receipt["status"] == "0x1"
    assert receipt["type"] == "0x0"
    assert w3.eth.get_balance(to) == 7


def test_send_contract_call(
    cast: Cast, token: str, token_transfer: dict[str, Any], recipient: str, account: LocalAccount
) -> None:
    """``cast send`` of an ERC-20 transfer, then ``cast call`` reads the new balance."""
    assert token_transfer["status"] == "0x1"
    (log,) = token_transfer["logs"]
    assert to_checksum_address(log["address"]) == token
    assert log["topics"][0] == TRANSFER_TOPIC
    assert HexBytes(log["topics"][2])[-20:] == HexBytes(recipient)
    assert int(log["data"], 16) == 1000
    assert cast.out("call", token, "balanceOf(address)(uint256)", recipient) == "1000"


def test_call_view(cast: Cast, token: str, token_transfer: dict[str, Any], recipient: str) -> None:
    """A multi-return view decoded by cast: (balance, supply, name, pokes)."""
    lines = cast.out(
        "call", token, "summary(address)(uint256,uint256,string,uint256)", recipient
    ).splitlines()
    # cast prints big numbers as "1000000000000000000000000 [1e24]": keep the exact part.
    assert [line.split(" [")[0] for line in lines] == [
        "1000",
        str(1_000_000 * 10**18),
        '"Test Token"',
        "0",
    ]


def test_call_revert_reason(cast: Cast, token: str) -> None:
    """cast surfaces the revert reason from the node's error response."""
    result = cast.run("call", token, "failWithReason()", check=False)
    assert result.returncode != 0
    assert "nope" in result.stderr


def test_receipt_json(cast: Cast, w3: Web3, token_transfer: dict[str, Any]) -> None:
    """``cast receipt --json`` and web3.py agree on every field they both read."""
    tx_hash = token_transfer["transactionHash"]
    receipt = cast.json("receipt", tx_hash)
    expected = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["transactionHash"] == tx_hash
    assert int(receipt["status"], 16) == expected["status"] == 1
    assert int(receipt["gasUsed"], 16) == expected["gasUsed"]
    assert int(receipt["cumulativeGasUsed"], 16) == expected["cumulativeGasUsed"]
    assert int(receipt["effectiveGasPrice"], 16) == expected["effectiveGasPrice"]
    assert int(receipt["blockNumber"], 16) == expected["blockNumber"]
    assert HexBytes(receipt["blockHash"]) == expected["blockHash"]
    assert HexBytes(receipt["logsBloom"]) == expected["logsBloom"]
    assert [HexBytes(t) for t in receipt["logs"][0]["topics"]] == expected["logs"][0]["topics"]
    assert cast.out("receipt", tx_hash, "status") == "true"


def test_estimate(cast: Cast, w3: Web3, token: str, recipient: str, account: LocalAccount) -> None:
    """``cast estimate`` equals eth_estimateGas through web3 for the same call."""
    estimate = int(
        cast.out(
            "estimate",
            "--from",
            account.address,
            token,
            "transfer(address,uint256)",
            recipient,
            "1",
        )
    )
    data = "0xa9059cbb" + bytes(12).hex() + recipient[2:].lower() + (1).to_bytes(32, "big").hex()
    assert estimate == w3.eth.estimate_gas({"from": account.address, "to": token, "data": data})
    assert estimate > 21_000


def test_logs(
    cast: Cast, token: str, token_transfer: dict[str, Any], account: LocalAccount, recipient: str
) -> None:
    """``cast logs`` by event signature, with and without an indexed-argument filter."""
    start = str(int(token_transfer["blockNumber"], 16) - 1)
    logs = cast.json("logs", "--from-block", start, "--address", token, TRANSFER_SIG)
    assert token_transfer["transactionHash"] in [log["transactionHash"] for log in logs]
    mine = cast.json(
        "logs", "--from-block", "0", "--address", token, TRANSFER_SIG, account.address, recipient
    )
    assert [log["transactionHash"] for log in mine] == [token_transfer["transactionHash"]]
    # The mint (from 0x0) matches the signature but not from=account.
    everything = cast.json("logs", "--from-block", "0", "--address", token, TRANSFER_SIG)
    assert len(everything) == 2
