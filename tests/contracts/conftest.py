"""Session fixtures for the Payable-AI contract tests: one chain per target, both targets.

Every test that takes ``chain`` (or a fixture built on it) runs twice: against our
``openledger devnet`` node and against anvil, both instant-mining, Prague, chain 901. The
contracts are deployed from the committed artifacts in ``contracts/out`` (the artifact test
checks those match the sources).

Isolation: one chain is shared by the whole session, so each test creates what it needs
(datanets, adapters, fresh accounts funded by the dev accounts) and never assumes global state.
Accounts are derived from a counter, so both targets see the same addresses in the same order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from tests.helpers.targets import (
    CHAIN_ID,
    REPO_ROOT,
    TARGETS,
    RpcTarget,
    compile_contracts,
    derive_dev_accounts,
    serve,
)

ARTIFACTS_DIR = REPO_ROOT / "contracts" / "out"
FIXTURE_SOURCES = REPO_ROOT / "tests" / "fixtures" / "contracts"
"""Test-only Solidity (attackers, contract wallets), compiled per session, never committed."""
CONTRACT_NAMES = ("DatanetRegistry", "ModelRegistry", "InferencePayments")
TOKEN = 10**18
GWEI = 10**9
MAX_FEE = 100 * GWEI
"""Fixed fee cap: far above either target's base fee on an idle devnet."""
TIP = GWEI
RECEIPT_TIMEOUT_S = 60
RECEIPT_POLL_S = 0.005
"""Both targets mine on arrival; polling fast keeps the suite short."""
FUND_WEI = 5 * TOKEN
"""What each fresh test account starts with (fee reserve of a big transaction is ~0.3 OPEN)."""


@dataclass(frozen=True)
class Revert:
    """A decoded custom-error revert."""

    name: str
    args: tuple[Any, ...]


class ErrorDecoder:
    """Custom errors of all the contracts, by selector."""

    def __init__(self, abis: Sequence[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            for entry in abi:
                if entry["type"] != "error":
                    continue
                types = [_abi_type(i) for i in entry["inputs"]]
                selector = function_signature_to_4byte_selector(
                    f"{entry['name']}({','.join(types)})"
                )
                self._errors[selector] = (entry["name"], types)

    def decode(self, data: str | bytes) -> Revert:
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        if raw[:4] not in self._errors:
            raise AssertionError(f"revert data {raw.hex()} is not one of our custom errors")
        name, types = self._errors[raw[:4]]
        values = decode(types, raw[4:])
        return Revert(
            name,
            tuple(
                to_checksum_address(v) if t == "address" else v
                for t, v in zip(types, values, strict=True)
            ),
        )


def _abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry["components"])
        return f"({inner}){entry['type'][5:]}"
    return str(entry["type"])


@dataclass
class Chain:
    """One running target plus what the tests need to drive it."""

    target: RpcTarget
    w3: Web3
    artifacts: dict[str, dict[str, Any]]
    funders: list[LocalAccount]
    decoder: ErrorDecoder
    _nonces: dict[str, int] = field(default_factory=dict)
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def kind(self) -> str:
        return self.target.kind

    # --- accounts -----------------------------------------------------------------------

    def account(self, fund: int = FUND_WEI) -> LocalAccount:
        """A fresh account (deterministic key from a counter) funded by a dev account."""
        index = next(self._keys)
        account = Account.from_key(keccak(text=f"openledger contracts test account {index}"))
        if fund:
            funder = self.funders[index % len(self.funders)]
            self.send_raw(funder, {"to": account.address, "value": fund, "gas": 21_000})
        return account

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    # --- transactions -------------------------------------------------------------------

    def _nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = self.w3.eth.get_transaction_count(address, "pending")
        return self._nonces[address]

    def send_raw(self, sender: LocalAccount, tx: dict[str, Any]) -> TxReceipt:
        """Sign and send ``tx`` (EIP-1559, fixed fee cap) and wait for its receipt."""
        full = {
            "chainId": CHAIN_ID,
            "nonce": self._nonce(sender.address),
            "maxFeePerGas": MAX_FEE,
            "maxPriorityFeePerGas": TIP,
            "value": 0,
            **tx,
        }
        signed = sender.sign_transaction(full)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._nonces[sender.address] += 1
        return self.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=RECEIPT_POLL_S
        )

    def deploy(self, name: str, sender: LocalAccount, *args: Any) -> Contract:
        """Deploy one of the Payable-AI contracts from its committed artifact."""
        return self.deploy_artifact(self.artifacts[name], sender, *args)

    def deploy_artifact(
        self, artifact: dict[str, Any], sender: LocalAccount, *args: Any
    ) -> Contract:
        """Deploy any compiled artifact (``{"abi", "bytecode"}``), e.g. a test fixture."""
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        data = factory.constructor(*args).data_in_transaction
        gas = self.w3.eth.estimate_gas({"from": sender.address, "data": data})
        receipt = self.send_raw(sender, {"data": data, "gas": gas + gas // 5})
        assert receipt["status"] == 1, "deployment failed on-chain"
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=factory.abi)

    def constructor_revert(self, name: str, *args: Any) -> Revert:
        """The custom error deploying contract ``name`` with ``args`` reverts with."""
        factory = self.w3.eth.contract(
            abi=self.artifacts[name]["abi"], bytecode=self.artifacts[name]["bytecode"]
        )
        data = factory.constructor(*args).data_in_transaction
        try:
            self.w3.eth.call({"from": self.funders[0].address, "data": data})
        except (ContractCustomError, ContractLogicError) as exc:
            if not isinstance(exc.data, str) or not exc.data:
                raise AssertionError(f"deploying {name} reverted without data: {exc}") from exc
            return self.decoder.decode(exc.data)
        raise AssertionError(f"deploying {name}{args} did not revert")

    def transact(self, sender: LocalAccount, call: ContractFunction, value: int = 0) -> TxReceipt:
        """Send ``call`` from ``sender``; the receipt must succeed."""
        tx = {"from": sender.address, "value": value}
        try:
            gas = call.estimate_gas(tx)
        except (ContractCustomError, ContractLogicError) as exc:
            detail = self.describe_revert(exc)
            raise AssertionError(f"{call.fn_name} would revert: {detail}") from exc
        data = call._encode_transaction_data()
        receipt = self.send_raw(
            sender, {"to": call.address, "data": data, "value": value, "gas": gas + gas // 5}
        )
        assert receipt["status"] == 1, f"{call.fn_name} failed on-chain"
        return receipt

    def revert_of(self, sender: LocalAccount, call: ContractFunction, value: int = 0) -> Revert:
        """The custom error ``call`` reverts with (through ``eth_call``); fails if it succeeds."""
        try:
            call.call({"from": sender.address, "value": value})
        except (ContractCustomError, ContractLogicError) as exc:
            data = exc.data if isinstance(exc.data, str) else None
            if not data:
                raise AssertionError(f"{call.fn_name} reverted without data: {exc}") from exc
            return self.decoder.decode(data)
        raise AssertionError(f"{call.fn_name} did not revert")

    def expect_revert(
        self,
        sender: LocalAccount,
        call: ContractFunction,
        name: str,
        *args: Any,
        value: int = 0,
    ) -> Revert:
        """Assert ``call`` reverts with custom error ``name`` (and ``args`` if given)."""
        revert = self.revert_of(sender, call, value)
        assert revert.name == name, f"expected {name}{args}, got {revert.name}{revert.args}"
        if args:
            assert revert.args == args, f"{name}: expected args {args}, got {revert.args}"
        return revert

    def describe_revert(self, exc: Exception) -> str:
        data = getattr(exc, "data", None)
        if isinstance(data, str) and len(data) >= 10:
            try:
                revert = self.decoder.decode(data)
            except AssertionError:
                return str(exc)
            return f"{revert.name}{revert.args}"
        return str(exc)

    def events(self, contract: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """Decoded ``name`` events of ``contract`` in ``receipt``, as plain dicts of args."""
        event = contract.events[name]()
        return [
            dict(e["args"])
            for e in event.process_receipt(receipt, errors=DISCARD)
            if e["address"] == contract.address
        ]

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


@dataclass
class Deployment:
    """The three contracts, deployed fresh, and who governs them."""

    datanets: Contract
    models: Contract
    payments: Contract
    governance: LocalAccount
    treasury: LocalAccount


def deploy_all(chain: Chain) -> Deployment:
    """Deploy the three contracts with a fresh governance account and treasury."""
    governance = chain.account()
    treasury = chain.account(fund=0)
    datanets = chain.deploy("DatanetRegistry", governance, treasury.address)
    models = chain.deploy("ModelRegistry", governance, datanets.address)
    payments = chain.deploy(
        "InferencePayments",
        governance,
        models.address,
        datanets.address,
        treasury.address,
        governance.address,
    )
    return Deployment(datanets, models, payments, governance, treasury)


def load_artifacts(directory: Path = ARTIFACTS_DIR) -> dict[str, dict[str, Any]]:
    return {name: json.loads((directory / f"{name}.json").read_text()) for name in CONTRACT_NAMES}


@pytest.fixture(scope="session", params=TARGETS)
def chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chain]:
    """A running target (``node`` then ``anvil``) with a web3 connection and funders."""
    kind: str = request.param
    for target in serve(kind, tmp_path_factory.mktemp(f"contracts-{kind}"), block_time=0):
        artifacts = load_artifacts()
        w3 = Web3(HTTPProvider(target.url, request_kwargs={"timeout": 30}))
        decoder = ErrorDecoder([a["abi"] for a in artifacts.values()])
        yield Chain(target, w3, artifacts, derive_dev_accounts(10), decoder)


@pytest.fixture(scope="session")
def deployment(chain: Chain) -> Deployment:
    """The contracts every test on this chain shares (tests create their own records in them)."""
    return deploy_all(chain)


@pytest.fixture(scope="session")
def fixture_artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """tests/fixtures/contracts compiled with the pinned npm solc, by contract name."""
    out = compile_contracts(FIXTURE_SOURCES, tmp_path_factory.mktemp("fixture-contracts"))
    return {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


L1_ARTIFACTS_DIR = ARTIFACTS_DIR / "l1"
L1_CONTRACT_NAMES = ("OpenToken", "OutputOracle", "SystemConfig", "OpenPortal")


@pytest.fixture(scope="session")
def l1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Anvil as the L1 (the L1 contracts only ever run there), with the L1 artifacts loaded."""
    for target in serve("anvil", tmp_path_factory.mktemp("l1-anvil"), block_time=0):
        artifacts = {
            name: json.loads((L1_ARTIFACTS_DIR / f"{name}.json").read_text())
            for name in L1_CONTRACT_NAMES
        }
        w3 = Web3(HTTPProvider(target.url, request_kwargs={"timeout": 30}))
        decoder = ErrorDecoder([a["abi"] for a in artifacts.values()])
        yield Chain(target, w3, artifacts, derive_dev_accounts(10), decoder)


def advance_time(chain: Chain, seconds: int) -> None:
    """Move the chain's clock forward by ``seconds`` and mine a block (anvil only)."""
    chain.w3.provider.make_request("evm_increaseTime", [seconds])
    chain.w3.provider.make_request("evm_mine", [])
