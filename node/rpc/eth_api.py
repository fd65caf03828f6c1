"""The ``eth_``, ``net_`` and ``web3_`` methods that read state, blocks and transactions.

Each handler parses its parameters with :mod:`node.rpc.codec` (which raises -32602 naming the
bad argument), reads the chain, and returns JSON-ready values. Errors propagate to dispatch.
"""

from __future__ import annotations

from typing import Any

import rlp
from eth.abc import BlockHeaderAPI
from eth.vm.forks.prague.blocks import PragueBlock
from eth_hash.auto import keccak

from node.chain import Chain
from node.exceptions import BlockNotFound
from node.execution import AccountOverride, CallRequest, Executor
from node.rpc.codec import (
    BlockId,
    data,
    parse_address,
    parse_block_id,
    parse_bool,
    parse_data,
    parse_hash,
    parse_quantity,
    quantity,
)
from node.rpc.errors import invalid_params
from node.rpc.formatting import (
    block_attributes,
    format_block,
    format_included_transaction,
    format_receipt,
    format_transaction,
)
from node.rpc.labels import GenesisLabels, HeadLabels
from node.txpool import TransactionPool
from openledger import __version__

CLIENT_VERSION = f"openledger/v{__version__}/python"


class ChainReader:
    """Resolves block identifiers against the chain; shared by every API class."""

    def __init__(self, chain: Chain, labels: HeadLabels | None = None) -> None:
        self.chain = chain
        self.labels = labels or GenesisLabels(chain)

    def header(self, block_id: BlockId) -> BlockHeaderAPI:
        chain = self.chain
        if block_id.hash is not None:
            header = chain.header_by_hash(block_id.hash)
            if block_id.require_canonical and not chain.is_canonical(header):
                raise BlockNotFound(f"block {block_id.hash.hex()} is not canonical")
            return header
        if block_id.number is not None:
            return chain.header_by_number(block_id.number)
        if block_id.tag == "earliest":
            return chain.header_by_number(0)
        if block_id.tag == "safe":
            return self.labels.safe
        if block_id.tag == "finalized":
            return self.labels.finalized
        # latest and pending: the unsafe head.
        return chain.head

    def header_or_none(self, block_id: BlockId) -> BlockHeaderAPI | None:
        try:
            return self.header(block_id)
        except BlockNotFound:
            return None

    def block_json(self, header: BlockHeaderAPI, full: bool) -> dict[str, Any]:
        outcomes = self.chain.outcomes(header)
        block = PragueBlock(header, transactions=[o.tx for o in outcomes], withdrawals=[])
        return format_block(header, outcomes, full=full, size=len(rlp.encode(block)))


def parse_call_request(value: Any) -> CallRequest:
    if not isinstance(value, dict):
        raise invalid_params("invalid argument 0: expected a transaction call object")

    def optional_quantity(key: str) -> int | None:
        return parse_quantity(value[key], key) if value.get(key) is not None else None

    input_data = value.get("input", value.get("data"))
    both = value.get("input") is not None and value.get("data") is not None
    if both and value["input"] != value["data"]:
        raise invalid_params(
            'both "data" and "input" are set and not equal. Please use "input" '
            "to pass transaction call data"
        )
    if value.get("gasPrice") is not None and (
        value.get("maxFeePerGas") is not None or value.get("maxPriorityFeePerGas") is not None
    ):
        raise invalid_params("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
    access_list = []
    for entry in value.get("accessList") or []:
        if not isinstance(entry, dict):
            raise invalid_params("invalid argument accessList: expected objects")
        access_list.append(
            (
                parse_address(entry.get("address"), "accessList.address"),
                [
                    int.from_bytes(parse_hash(key, "accessList.storageKeys"), "big")
                    for key in entry.get("storageKeys") or []
                ],
            )
        )
    return CallRequest(
        sender=parse_address(value["from"], "from") if value.get("from") else b"\x00" * 20,
        to=parse_address(value["to"], "to") if value.get("to") else None,
        gas=optional_quantity("gas"),
        gas_price=optional_quantity("gasPrice"),
        max_fee_per_gas=optional_quantity("maxFeePerGas"),
        max_priority_fee_per_gas=optional_quantity("maxPriorityFeePerGas"),
        value=optional_quantity("value") or 0,
        data=parse_data(input_data, "input") if input_data is not None else b"",
        nonce=optional_quantity("nonce"),
        access_list=tuple(access_list),
    )


def parse_overrides(value: Any) -> dict[bytes, AccountOverride]:
    """geth's state-override set: ``{address: {balance, nonce, code, state, stateDiff}}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_params("invalid argument 2: expected a state override object")
    overrides = {}
    for address, fields in value.items():
        if not isinstance(fields, dict):
            raise invalid_params(f"invalid argument 2: override of {address} must be an object")
        if fields.get("state") is not None and fields.get("stateDiff") is not None:
            raise invalid_params(f"account {address} has both 'state' and 'stateDiff'")

        def slots(key: str, fields: dict[str, Any] = fields) -> dict[int, int] | None:
            raw = fields.get(key)
            if raw is None:
                return None
            return {
                int.from_bytes(parse_hash(slot, key), "big"): int.from_bytes(
                    parse_hash(val, key), "big"
                )
                for slot, val in raw.items()
            }

        overrides[parse_address(address, "override address")] = AccountOverride(
            balance=parse_quantity(fields["balance"], "balance")
            if fields.get("balance") is not None
            else None,
            nonce=parse_quantity(fields["nonce"], "nonce", maximum=2**64 - 1)
            if fields.get("nonce") is not None
            else None,
            code=parse_data(fields["code"], "code") if fields.get("code") is not None else None,
            state=slots("state"),
            state_diff=slots("stateDiff"),
        )
    return overrides


class EthApi:
    """State, block and transaction reads plus transaction submission and calls."""

    def __init__(self, reader: ChainReader, pool: TransactionPool, executor: Executor) -> None:
        self.reader = reader
        self.chain = reader.chain
        self.pool = pool
        self.executor = executor

    def handlers(self) -> dict[str, Any]:
        return {
            "web3_clientVersion": self.client_version,
            "web3_sha3": self.sha3,
            "net_version": self.net_version,
            "net_listening": lambda: True,
            "net_peerCount": lambda: "0x0",
            "eth_chainId": self.chain_id,
            "eth_blockNumber": self.block_number,
            "eth_syncing": lambda: False,
            "eth_mining": lambda: True,
            "eth_accounts": lambda: [],
            "eth_coinbase": self.coinbase,
            "eth_getBalance": self.get_balance,
            "eth_getCode": self.get_code,
            "eth_getStorageAt": self.get_storage_at,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
            "eth_getRawTransactionByHash": self.get_raw_transaction_by_hash,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
        }

    # -- identity -------------------------------------------------------------------------

    def client_version(self) -> str:
        return CLIENT_VERSION

    def sha3(self, value: Any) -> str:
        return data(keccak(parse_data(value, "data")))

    def chain_id(self) -> str:
        return quantity(self.chain.config.chain.chain_id)

    def net_version(self) -> str:
        return str(self.chain.config.chain.chain_id)

    def block_number(self) -> str:
        return quantity(self.chain.head.block_number)

    def coinbase(self) -> str:
        return data(self.chain.config.chain.fee_recipient)

    # -- state ----------------------------------------------------------------------------

    def get_balance(self, address: Any, block: Any = None) -> str:
        header = self.reader.header(parse_block_id(block, "block"))
        return quantity(self.chain.state_at(header).get_balance(parse_address(address, "address")))

    def get_code(self, address: Any, block: Any = None) -> str:
        header = self.reader.header(parse_block_id(block, "block"))
        return data(self.chain.state_at(header).get_code(parse_address(address, "address")))

    def get_storage_at(self, address: Any, slot: Any, block: Any = None) -> str:
        header = self.reader.header(parse_block_id(block, "block"))
        position = (
            parse_quantity(slot, "slot")
            if len(str(slot)) < 66
            else int(parse_hash(slot, "slot").hex(), 16)
        )
        value = self.chain.state_at(header).get_storage(parse_address(address, "address"), position)
        return data(value.to_bytes(32, "big"))

    def get_transaction_count(self, address: Any, block: Any = None) -> str:
        account = parse_address(address, "address")
        block_id = parse_block_id(block, "block")
        if block_id.tag == "pending":
            return quantity(self.pool.pending_nonce(account))
        header = self.reader.header(block_id)
        return quantity(self.chain.state_at(header).get_nonce(account))

    # -- transactions ---------------------------------------------------------------------

    def send_raw_transaction(self, raw: Any) -> str:
        admitted = self.pool.submit(parse_data(raw, "transaction"))
        return data(admitted.hash)

    def call(self, request: Any, block: Any = None, overrides: Any = None) -> str:
        header = self.reader.header(parse_block_id(block, "block"))
        return data(
            self.executor.call(parse_call_request(request), header, parse_overrides(overrides))
        )

    def estimate_gas(self, request: Any, block: Any = None, overrides: Any = None) -> str:
        block_id = parse_block_id(block or "latest", "block")
        header = self.reader.header(block_id)
        call = parse_call_request(request)
        return quantity(self.executor.estimate_gas(call, header, parse_overrides(overrides)))

    # -- blocks ---------------------------------------------------------------------------

    def get_block_by_number(self, block: Any, full: Any) -> dict[str, Any] | None:
        with_transactions = parse_bool(full, "full")
        header = self.reader.header_or_none(parse_block_id(block, "block"))
        if header is None:
            return None
        return self.reader.block_json(header, with_transactions)

    def get_block_by_hash(self, block_hash: Any, full: Any) -> dict[str, Any] | None:
        with_transactions = parse_bool(full, "full")
        header = self.reader.header_or_none(BlockId(hash=parse_hash(block_hash, "hash")))
        if header is None:
            return None
        return self.reader.block_json(header, with_transactions)

    def get_transaction_by_hash(self, tx_hash: Any) -> dict[str, Any] | None:
        wanted = parse_hash(tx_hash, "hash")
        location = self.chain.transaction_location(wanted)
        if location is not None:
            outcome = self.chain.outcomes(location.header)[location.index]
            return format_included_transaction(outcome, location.header, location.index)
        pending = self.pool.get(wanted)
        if pending is not None:
            return format_transaction(pending.tx, pending.sender, None, None)
        return None

    def get_raw_transaction_by_hash(self, tx_hash: Any) -> str | None:
        wanted = parse_hash(tx_hash, "hash")
        location = self.chain.transaction_location(wanted)
        if location is not None:
            return data(self.chain.outcomes(location.header)[location.index].tx.encode())
        pending = self.pool.get(wanted)
        return data(pending.raw) if pending is not None else None

    def get_transaction_receipt(self, tx_hash: Any) -> dict[str, Any] | None:
        location = self.chain.transaction_location(parse_hash(tx_hash, "hash"))
        if location is None:
            return None
        outcomes = self.chain.outcomes(location.header)
        return format_receipt(
            outcomes[location.index], location.header, location.index, block_attributes(outcomes)
        )
