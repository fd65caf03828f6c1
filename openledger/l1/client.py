"""A small L1 client over JSON-RPC: exactly what the sequencer's L1 services need.

Blocks (head, ``safe``, ``finalized``, by number or hash), the portal's logs of one block (by
block hash, so a reorg can never mix two blocks' logs), nonces, fees, receipts and raw sends.
Every transport or node error becomes :class:`~openledger.l1.exceptions.L1Unavailable`: the
callers are polling loops that log it and try again, and must never see web3's zoo of errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ProviderConnectionError,
    TransactionNotFound,
    Web3Exception,
)

from openledger.l1.exceptions import L1Unavailable

HTTP_TIMEOUT_S = 10.0

MIN_BLOB_BASE_FEE = 1
BLOB_BASE_FEE_UPDATE_FRACTION = 5_007_716
"""Prague's (EIP-7691) denominator of the blob base fee's exponential."""


def blob_base_fee(excess_blob_gas: int) -> int:
    """EIP-4844's ``fake_exponential(MIN_BLOB_BASE_FEE, excess, fraction)`` (integer only)."""
    i, output, accumulator = 1, 0, MIN_BLOB_BASE_FEE * BLOB_BASE_FEE_UPDATE_FRACTION
    while accumulator > 0:
        output += accumulator
        accumulator = accumulator * excess_blob_gas // (BLOB_BASE_FEE_UPDATE_FRACTION * i)
        i += 1
    return output // BLOB_BASE_FEE_UPDATE_FRACTION


@dataclass(frozen=True)
class L1Block:
    """What the rollup needs of an L1 block header."""

    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    base_fee: int
    blob_base_fee: int


@dataclass(frozen=True)
class L1Log:
    """One log, with its index in the block (not in the transaction), as deposits need it."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    log_index: int
    tx_hash: bytes


@dataclass(frozen=True)
class L1Receipt:
    tx_hash: bytes
    status: int
    block_number: int
    block_hash: bytes
    gas_used: int
    effective_gas_price: int


BlockId = int | str | bytes
"""A number, a tag (``latest``, ``safe``, ``finalized``) or a 32-byte hash."""


class L1Client:
    """One L1 endpoint. Thread-safe as far as web3's HTTP provider is (one session per thread)."""

    def __init__(self, url: str, timeout: float = HTTP_TIMEOUT_S) -> None:
        self.url = url
        self.w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))
        self._chain_id: int | None = None

    @contextmanager
    def _rpc(self, action: str) -> Iterator[None]:
        try:
            yield
        except (Web3Exception, requests.RequestException, ProviderConnectionError, OSError) as exc:
            raise L1Unavailable(f"L1 {action} at {self.url}: {exc}") from exc

    def chain_id(self) -> int:
        if self._chain_id is None:
            with self._rpc("eth_chainId"):
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def block(self, block_id: BlockId) -> L1Block | None:
        """The block, or ``None`` if the L1 does not have it (yet)."""
        ident: Any = "0x" + block_id.hex() if isinstance(block_id, bytes) else block_id
        with self._rpc(f"eth_getBlock({block_id!r})"):
            try:
                raw = self.w3.eth.get_block(ident)
            except BlockNotFound:
                return None
        return _block(raw)

    def head(self) -> L1Block:
        return self._tagged("latest")

    def safe(self) -> L1Block:
        return self._tagged("safe")

    def finalized(self) -> L1Block:
        return self._tagged("finalized")

    def _tagged(self, tag: str) -> L1Block:
        block = self.block(tag)
        if block is None:
            raise L1Unavailable(f"L1 at {self.url} has no {tag} block")
        return block

    def logs(self, block_hash: bytes, address: str, topic0: bytes) -> list[L1Log]:
        """The logs of ``address`` with first topic ``topic0`` in the block ``block_hash``."""
        params: Any = {
            "blockHash": "0x" + block_hash.hex(),
            "address": to_checksum_address(address),
            "topics": ["0x" + topic0.hex()],
        }
        with self._rpc("eth_getLogs"):
            raw = self.w3.eth.get_logs(params)
        return [
            L1Log(
                address=to_checksum_address(entry["address"]),
                topics=tuple(bytes(t) for t in entry["topics"]),
                data=bytes(entry["data"]),
                block_number=int(entry["blockNumber"]),
                block_hash=bytes(entry["blockHash"]),
                log_index=int(entry["logIndex"]),
                tx_hash=bytes(entry["transactionHash"]),
            )
            for entry in raw
        ]

    def nonce(self, address: str, block: str = "pending") -> int:
        with self._rpc("eth_getTransactionCount"):
            return int(self.w3.eth.get_transaction_count(to_checksum_address(address), block))  # type: ignore[arg-type]

    def max_priority_fee(self) -> int:
        with self._rpc("eth_maxPriorityFeePerGas"):
            return int(self.w3.eth.max_priority_fee)

    def blob_base_fee(self) -> int:
        """The blob base fee of the next block (``eth_blobBaseFee``), else the head's."""
        try:
            return int(self.request("eth_blobBaseFee", []), 16)
        except (L1Unavailable, TypeError, ValueError):  # a node without the method
            return self.head().blob_base_fee

    def supports_blobs(self) -> bool:
        """Whether L1 has EIP-4844 (Cancun or later): its head has ``excessBlobGas``."""
        with self._rpc("eth_getBlock(latest)"):
            raw = self.w3.eth.get_block("latest")
        return raw.get("excessBlobGas") is not None and raw.get("blobGasUsed") is not None

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        with self._rpc("eth_estimateGas"):
            return int(self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]

    def send_raw(self, raw: bytes) -> bytes:
        """Broadcast; node refusals (nonce too low, underpriced) surface as ``L1Unavailable``
        whose message the caller inspects."""
        with self._rpc("eth_sendRawTransaction"):
            return bytes(self.w3.eth.send_raw_transaction(raw))

    def receipt(self, tx_hash: bytes) -> L1Receipt | None:
        """The receipt if the transaction is mined in the node's current chain."""
        with self._rpc("eth_getTransactionReceipt"):
            try:
                raw = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None
        if raw is None or raw.get("blockNumber") is None:
            return None
        return L1Receipt(
            tx_hash=bytes(raw["transactionHash"]),
            status=int(raw["status"]),
            block_number=int(raw["blockNumber"]),
            block_hash=bytes(raw["blockHash"]),
            gas_used=int(raw["gasUsed"]),
            effective_gas_price=int(raw.get("effectiveGasPrice", 0)),
        )

    def confirmations(self, receipt: L1Receipt) -> int:
        """How deep the receipt's block is (1 = it is the head), or 0 if a reorg removed it."""
        block = self.block(receipt.block_number)
        if block is None or block.hash != receipt.block_hash:
            return 0
        return self.head().number - receipt.block_number + 1

    def view(self, function: ContractFunction, block: int | str = "latest") -> Any:
        """``eth_call`` a contract view at the head (or at ``block``)."""
        with self._rpc(f"eth_call {function.fn_name}"):
            return function.call(block_identifier=block)

    def request(self, method: str, params: Sequence[Any]) -> Any:
        """A raw JSON-RPC call (anvil's ``evm_*`` methods in the devnet)."""
        with self._rpc(method):
            response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise L1Unavailable(f"L1 {method} at {self.url}: {response['error']}")
        return response.get("result")


def _block(raw: Any) -> L1Block:
    excess = raw.get("excessBlobGas")
    return L1Block(
        number=int(raw["number"]),
        hash=bytes(raw["hash"]),
        parent_hash=bytes(raw["parentHash"]),
        timestamp=int(raw["timestamp"]),
        base_fee=int(raw.get("baseFeePerGas", 0)),
        blob_base_fee=blob_base_fee(int(excess)) if excess is not None else MIN_BLOB_BASE_FEE,
    )
