"""The one boundary between the bindings and web3.py: sign, send, wait, call, and translate errors.

Typed clients (:mod:`~openledger.contracts.datanets`, ``models``, ``payments``) describe *what*
to call; this module decides *how*: EIP-1559 fees from the node, the pending nonce under a lock
(so threads sharing one account never reuse a nonce), a gas limit with head-room over the
estimate, waiting for the receipt, and turning every web3 or HTTP error into an
:mod:`~openledger.contracts.exceptions` error with the custom error decoded from the ABIs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    Web3RPCError,
)
from web3.types import TxParams, TxReceipt

from openledger.contracts.artifacts import Artifact
from openledger.contracts.exceptions import (
    ContractReverted,
    RpcFailed,
    TransactionFailed,
)
from openledger.contracts.revert import ErrorAbi, decode_revert, error_table
from openledger.types import Gas, Wei

GAS_HEADROOM_PERCENT = 20
"""Added to ``eth_estimateGas``: state can change between estimate and inclusion (ethers and
Foundry scripts pad the same way); unused gas is refunded, so the cost is only block space."""

RECEIPT_TIMEOUT_S = 120.0
"""How long :meth:`Transactor.transact` waits for inclusion before giving up."""

RECEIPT_POLL_S = 0.05
"""Receipt polling interval; short because the devnet can seal a block per transaction."""

HTTP_TIMEOUT_S = 30.0

NO_VALUE = Wei(0)


@dataclass(frozen=True)
class Event:
    """One decoded log of a contract this transactor knows."""

    name: str
    args: Mapping[str, Any]
    """Event parameters by name; ``bytes32`` as ``bytes``, addresses as checksum strings."""
    address: str
    log_index: int


NO_L1_FEE = Wei(0)


@dataclass(frozen=True)
class Receipt:
    """What callers need of a successful transaction's receipt."""

    tx_hash: bytes
    block_number: int
    gas_used: Gas
    effective_gas_price: Wei
    events: tuple[Event, ...] = field(default=())
    """Logs of the called contract, decoded with its ABI, in log order."""
    l1_fee: Wei = NO_L1_FEE
    """The L1 data fee the L2 charged on top of gas (receipt field ``l1Fee``; 0 on L1)."""

    @property
    def fee(self) -> Wei:
        """What the sender paid: gas at the effective price plus the L1 data fee."""
        return Wei(self.gas_used * self.effective_gas_price + self.l1_fee)

    def events_named(self, name: str) -> list[Event]:
        return [event for event in self.events if event.name == name]

    def event(self, name: str) -> Event:
        """The single event ``name``; a missing one means the ABI and the contract disagree."""
        found = self.events_named(name)
        if len(found) != 1:
            raise TransactionFailed(
                f"expected one {name} event in transaction 0x{self.tx_hash.hex()}, "
                f"found {len(found)}",
                self.tx_hash,
            )
        return found[0]


@dataclass(frozen=True)
class Deployed:
    """A contract created by :meth:`Transactor.deploy`."""

    address: str
    receipt: Receipt


def connect(rpc_url: str, timeout: float = HTTP_TIMEOUT_S) -> Web3:
    """A Web3 over HTTP; no middleware, because signing is done here, not in the provider."""
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def _quantity(value: Any) -> int:
    """A receipt field web3.py leaves unformatted (an OP extension) arrives as hex text."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _revert_bytes(data: Any) -> bytes:
    """The revert data web3 attached to a ContractLogicError, as bytes (empty if none)."""
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, str):
        return b""
    if data.startswith("Reverted "):
        data = data[len("Reverted ") :]
    if not data.startswith("0x"):
        return b""
    try:
        return bytes.fromhex(data[2:])
    except ValueError:
        return b""


class Transactor:
    """Sends transactions for one account through one node.

    ``account`` may be ``None`` for a read-only transactor (views and ``eth_call`` only).
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount | None,
        known_abis: tuple[Artifact, ...] = (),
        receipt_timeout: float = RECEIPT_TIMEOUT_S,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.receipt_timeout = receipt_timeout
        self._errors: dict[bytes, ErrorAbi] = error_table(a.abi for a in known_abis)
        self._nonce_lock = threading.Lock()
        self._chain_id: int | None = None
        self._contracts: dict[str, Contract] = {}
        """Contracts whose logs receipts decode, by checksum address."""

    @property
    def endpoint(self) -> str:
        return str(getattr(self.w3.provider, "endpoint_uri", "the node"))

    @property
    def sender(self) -> str:
        """Checksum address of the signing account."""
        return self._signer().address

    def learn_errors(self, artifact: Artifact) -> None:
        """Add an ABI's custom errors, so reverts bubbling up from it are decoded too."""
        self._errors.update(error_table([artifact.abi]))

    def contract(self, artifact: Artifact, address: str) -> Contract:
        """A web3 contract whose reverts and events this transactor decodes from now on."""
        self.learn_errors(artifact)
        checksum = to_checksum_address(address)
        # decode_tuples: structs come back as named tuples, so clients read fields by name.
        contract = self.w3.eth.contract(
            address=checksum, abi=artifact.abi_list(), decode_tuples=True
        )
        self._contracts[checksum] = contract
        return contract

    def chain_id(self) -> int:
        if self._chain_id is None:
            with self.translating("eth_chainId"):
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def balance(self, address: str) -> Wei:
        with self.translating("eth_getBalance"):
            return Wei(int(self.w3.eth.get_balance(to_checksum_address(address))))

    def code(self, address: str) -> bytes:
        with self.translating("eth_getCode"):
            return bytes(self.w3.eth.get_code(to_checksum_address(address)))

    def request(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (for ``openledger_*`` methods web3 does not know)."""
        with self.translating(method):
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            error = response["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise RpcFailed(f"{method} failed at {self.endpoint}: {message}")
        return response.get("result")

    @contextmanager
    def translating(self, action: str) -> Iterator[None]:
        """Turn web3 and transport errors raised inside the block into ContractError."""
        try:
            yield
        except ContractLogicError as exc:
            data = _revert_bytes(exc.data)
            raise ContractReverted(action, decode_revert(data, self._errors), str(exc)) from exc
        except TimeExhausted as exc:
            raise TransactionFailed(
                f"{action}: not mined within {self.receipt_timeout:g}s"
            ) from exc
        except Web3RPCError as exc:
            message = exc.rpc_response["error"]["message"] if exc.rpc_response else str(exc)
            raise RpcFailed(f"{action}: the node refused it: {message}") from exc
        except (requests.ConnectionError, requests.Timeout, ProviderConnectionError) as exc:
            raise RpcFailed(f"{action}: cannot reach the node at {self.endpoint}") from exc

    def call(self, action: str, function: ContractFunction, block: str | int = "latest") -> Any:
        """``eth_call`` a view; reverts become :class:`ContractReverted`."""
        with self.translating(action):
            return function.call(block_identifier=block)

    def transact(self, action: str, function: ContractFunction, value: Wei = NO_VALUE) -> Receipt:
        """Sign and send a call of ``function`` with ``value`` wei; return once it is mined."""
        with self.translating(action):
            tx = function.build_transaction(self._base_tx(value))
        return self._receipt(self._send(action, tx))

    def deploy(self, artifact: Artifact, *args: Any, value: Wei = NO_VALUE) -> Deployed:
        """Create ``artifact`` with constructor ``args``; return its address once mined."""
        self.learn_errors(artifact)
        factory = self.w3.eth.contract(abi=artifact.abi_list(), bytecode=artifact.bytecode)
        action = f"deploy {artifact.name}"
        with self.translating(action):
            tx = factory.constructor(*args).build_transaction(self._base_tx(value))
        raw = self._send(action, tx)
        address = raw.get("contractAddress")
        if not address:
            raise TransactionFailed(
                f"{action}: receipt has no contract address", bytes(raw["transactionHash"])
            )
        self.contract(artifact, address)
        return Deployed(to_checksum_address(address), self._receipt(raw))

    def _signer(self) -> LocalAccount:
        if self.account is None:
            raise TransactionFailed("this client is read-only: pass an account (--key) to send")
        return self.account

    def _base_tx(self, value: Wei) -> TxParams:
        return {"from": self._signer().address, "value": Wei(value), "chainId": self.chain_id()}

    def _send(self, action: str, tx: TxParams) -> TxReceipt:
        """Pad the gas, take the pending nonce, sign, send, wait; replay a failure for why."""
        signer = self._signer()
        with self.translating(action):
            tx["gas"] = Gas(int(tx["gas"]) * (100 + GAS_HEADROOM_PERCENT) // 100)
            with self._nonce_lock:
                tx["nonce"] = self.w3.eth.get_transaction_count(signer.address, "pending")
                signed = signer.sign_transaction(tx)  # type: ignore[arg-type]
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            raw = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, poll_latency=RECEIPT_POLL_S
            )
        if raw["status"] != 1:
            self._explain_failure(action, tx, raw)
        return raw

    def _explain_failure(self, action: str, tx: TxParams, raw: TxReceipt) -> None:
        """Replay a mined failure against the parent block to recover its revert data."""
        replay = {k: v for k, v in tx.items() if k in ("from", "to", "value", "data", "gas")}
        with self.translating(action):
            self.w3.eth.call(replay, block_identifier=raw["blockNumber"] - 1)  # type: ignore[arg-type]
        raise TransactionFailed(
            f"{action}: transaction 0x{bytes(raw['transactionHash']).hex()} failed "
            f"(status 0, {raw['gasUsed']} gas used)",
            bytes(raw["transactionHash"]),
        )

    def _receipt(self, raw: TxReceipt) -> Receipt:
        events = [event for log in raw["logs"] if (event := self._decode_log(log)) is not None]
        return Receipt(
            tx_hash=bytes(raw["transactionHash"]),
            block_number=int(raw["blockNumber"]),
            gas_used=Gas(int(raw["gasUsed"])),
            effective_gas_price=Wei(int(raw.get("effectiveGasPrice", 0))),
            events=tuple(events),
            l1_fee=Wei(_quantity(raw.get("l1Fee", 0))),
        )

    def _decode_log(self, log: Any) -> Event | None:
        """A log of a known contract whose first topic is one of its events, else ``None``."""
        contract = self._contracts.get(to_checksum_address(log["address"]))
        if contract is None or not log["topics"]:
            return None
        topic = bytes(log["topics"][0])
        for entry in contract.abi:
            if entry.get("type") != "event" or entry.get("anonymous"):
                continue
            if event_abi_to_log_topic(entry) == topic:  # type: ignore[arg-type]
                name = str(entry["name"])
                decoded = contract.events[name]().process_log(log)
                return Event(name, dict(decoded["args"]), contract.address, int(log["logIndex"]))
        return None
