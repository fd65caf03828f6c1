"""The typed clients and the CLI end to end, against a devnet that deployed the real contracts.

Needs the committed artifacts in ``contracts/out``: a missing artifact is a broken build, so the
devnet fixture fails rather than skipping.
Dev accounts: 0 owns the datanet and the adapter (and deployed everything), 1 and 2 contribute,
3 pays for inference, 4 serves it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from openledger.contracts.artifacts import L2_CONTRACTS
from openledger.contracts.datanets import ContributionStatus, DatanetRegistryClient
from openledger.contracts.deploy import DEPLOYMENT_FILE, load_deployment
from openledger.contracts.exceptions import ContractReverted
from openledger.contracts.models import ModelRegistryClient
from openledger.contracts.payments import ANY_ADAPTER, Inference, PaymentsClient, Session
from openledger.contracts.rollup import RollupConfig, fetch_rollup_config
from openledger.contracts.transactor import Transactor, connect
from openledger.types import Wei
from tests.helpers.devnet import OPENLEDGER_BIN, Devnet

pytestmark = pytest.mark.slow

OPEN = 10**18
STAKE = Wei(OPEN // 100)
PRICE = Wei(OPEN // 1000)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of this module only: the restart test stops and starts it."""
    node = Devnet(tmp_path_factory.mktemp("bindings") / "datadir").start()
    try:
        yield node
    finally:
        node.stop()


def as_(chain: Devnet, account: LocalAccount) -> Transactor:
    return Transactor(connect(chain.url), account)


@pytest.fixture(scope="module")
def rollup(chain: Devnet, dev_keys: list[LocalAccount]) -> RollupConfig:
    return fetch_rollup_config(as_(chain, dev_keys[0]))


def clients(chain: Devnet, rollup: RollupConfig, account: LocalAccount) -> Any:
    transactor = as_(chain, account)
    return (
        DatanetRegistryClient.from_rollup(transactor, rollup),
        ModelRegistryClient.from_rollup(transactor, rollup),
        PaymentsClient.from_rollup(transactor, rollup),
    )


# --- deployment -------------------------------------------------------------------------


def test_devnet_deployed_and_recorded(chain: Devnet, rollup: RollupConfig) -> None:
    assert rollup.chain_id == 901
    assert set(rollup.l2_contracts) == set(L2_CONTRACTS)
    for address in rollup.l2_contracts.values():
        assert chain.call("eth_getCode", address, "latest") != "0x"
    record = load_deployment(chain.datadir / DEPLOYMENT_FILE)
    assert record is not None
    assert dict(record.contracts) == dict(rollup.l2_contracts)


def test_restart_reuses_the_deployment(chain: Devnet, rollup: RollupConfig) -> None:
    deployer = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    nonce = chain.call("eth_getTransactionCount", deployer, "latest")
    chain.stop()
    chain.start()
    again = chain.call("openledger_rollupConfig")
    assert again["l2Contracts"] == dict(rollup.l2_contracts)
    assert chain.call("eth_getTransactionCount", deployer, "latest") == nonce


# --- the flow through the typed clients -------------------------------------------------


@pytest.fixture(scope="module")
def datanet(chain: Devnet, rollup: RollupConfig, dev_keys: list[LocalAccount]) -> int:
    registry, _, _ = clients(chain, rollup, dev_keys[0])
    created = registry.create_datanet("ipfs://datanet-meta", STAKE)
    info = registry.datanet(created.value)
    assert (info.owner, info.metadata_uri, info.contribution_stake) == (
        dev_keys[0].address,
        "ipfs://datanet-meta",
        STAKE,
    )
    return created.value


def test_contribute_approve_reject(
    chain: Devnet, rollup: RollupConfig, dev_keys: list[LocalAccount], datanet: int
) -> None:
    curator, _, _ = clients(chain, rollup, dev_keys[0])
    alice, _, _ = clients(chain, rollup, dev_keys[1])
    first = alice.contribute(datanet, keccak(text="row 1"), "ipfs://row1", 100)
    second = alice.contribute(datanet, keccak(text="row 2"), "ipfs://row2", 200)
    spam = alice.contribute(datanet, keccak(text="spam"), "ipfs://spam", 5)
    assert alice.contribution(first.value).status is ContributionStatus.PENDING

    with pytest.raises(ContractReverted) as duplicate:
        alice.contribute(datanet, keccak(text="row 1"), "ipfs://again", 100)
    assert duplicate.value.error_name not in (None, "Error", "Panic")
    assert "DatanetRegistry.contribute reverted: " in str(duplicate.value)

    with pytest.raises(ContractReverted):
        alice.approve([first.value])  # not a curator

    approved = curator.approve([first.value, second.value])
    version = approved.value
    assert version.datanet_id == datanet
    assert len(version.merkle_root) == 32
    assert curator.contribution(second.value).status is ContributionStatus.APPROVED
    curator.reject(spam.value, "spam")
    assert curator.contribution(spam.value).status is ContributionStatus.REJECTED
    assert set(curator.contribution_ids(datanet)) >= {first.value, second.value, spam.value}


def test_register_settle_and_claim(
    chain: Devnet, rollup: RollupConfig, dev_keys: list[LocalAccount], datanet: int
) -> None:
    owner_datanets, models, _ = clients(chain, rollup, dev_keys[0])
    contributor, _, contributor_pay = clients(chain, rollup, dev_keys[2])
    _, _, user_pay = clients(chain, rollup, dev_keys[3])
    _, _, operator_pay = clients(chain, rollup, dev_keys[4])

    row = contributor.contribute(datanet, keccak(text="bob's row"), "ipfs://bob", 10)
    version = owner_datanets.approve([row.value]).value
    base = models.register_base_model("base", keccak(text="base"), "https://license")
    adapter = models.register_adapter(
        base.value, datanet, version.version, keccak(text="lora"), "ipfs://lora", PRICE
    )
    assert models.adapter(adapter.value).price_per_call == PRICE
    assert adapter.value in [a.adapter_id for a in models.adapters()]

    user_pay.deposit(Wei(OPEN))
    assert user_pay.balance_of(dev_keys[3].address) == OPEN
    operator_pay.register_operator(Wei(10 * OPEN))
    session = Session(
        dev_keys[3].address, dev_keys[4].address, ANY_ADAPTER, Wei(OPEN), int(time.time()) + 600, 7
    )
    signed = user_pay.sign_session(dev_keys[3], session)

    def inference(n: int) -> Inference:
        return Inference(
            adapter.value, keccak(text=f"q{n}"), keccak(text=f"a{n}"), (row.value,), (1,)
        )

    before = contributor_pay.rewards_of(dev_keys[2].address)
    operator_pay.settle(signed, inference(0))
    settled = operator_pay.settle_batch(signed, [inference(n) for n in range(1, 4)])
    assert len(settled.value) == 3
    earned = contributor_pay.rewards_of(dev_keys[2].address) - before
    assert 0 < earned < 4 * PRICE
    assert user_pay.balance_of(dev_keys[3].address) == OPEN - 4 * PRICE

    balance = contributor_pay.transactor.balance(dev_keys[2].address)
    claimed = contributor_pay.claim()
    assert claimed.value == before + earned
    after = contributor_pay.transactor.balance(dev_keys[2].address)
    assert after == balance + claimed.value - claimed.receipt.fee
    assert contributor_pay.rewards_of(dev_keys[2].address) == 0


# --- the command line -------------------------------------------------------------------


def cli(chain: Devnet, *argv: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(OPENLEDGER_BIN), *argv, "--rpc", chain.url, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_cli_datanet_flow(chain: Devnet, dev_keys: list[LocalAccount], tmp_path: Path) -> None:
    created = cli(chain, "datanet", "create", "ipfs://cli-datanet", "--stake", "0.01ether")
    datanet = created["datanetId"]
    sample = tmp_path / "sample.jsonl"
    sample.write_text('{"prompt": "hi", "completion": "hello"}\n')
    contributor_key = "0x" + dev_keys[1].key.hex()
    contributed = cli(
        chain,
        "datanet",
        "contribute",
        str(datanet),
        "--file",
        str(sample),
        "--key",
        contributor_key,
    )
    approved = cli(chain, "datanet", "approve", str(contributed["contributionId"]))
    assert approved["version"]["version"] == 1
    shown = cli(chain, "datanet", "show", str(datanet))
    assert shown["latest_version"] == 1
    assert shown["contributions"][0]["status"] == "approved"

    base = cli(
        chain, "model", "register-base", "cli-base", "--weights-hash", "0x" + "cd" * 32,
        "--license", "https://license",
    )  # fmt: skip
    registered = cli(
        chain, "model", "register", "--base-model", str(base["baseModelId"]),
        "--datanet", str(datanet), "--datanet-version", "1", "--weights-hash", "0x" + "ab" * 32,
        "--uri", "ipfs://cli-lora", "--price", "1gwei",
    )  # fmt: skip
    listed = cli(chain, "model", "list")
    assert registered["adapterId"] in [a["adapter_id"] for a in listed["adapters"]]

    balance = cli(chain, "rewards", "balance", dev_keys[1].address)
    assert balance["account"] == dev_keys[1].address


def test_cli_reports_a_revert_readably(chain: Devnet) -> None:
    done = subprocess.run(
        [str(OPENLEDGER_BIN), "datanet", "approve", "999999", "--rpc", chain.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: DatanetRegistry.approve reverted: ")
    assert "0x" not in done.stderr.split("reverted: ")[1][:4]
