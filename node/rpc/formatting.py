"""Blocks, transactions, receipts and logs as the execution-apis schemas spell them."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, LogAPI, SignedTransactionAPI

from node.records import TransactionOutcome, effective_gas_price
from node.rpc.codec import data, quantity
from node.transactions import transaction_type

ZERO_NONCE = "0x0000000000000000"


def format_header(header: BlockHeaderAPI) -> dict[str, Any]:
    return {
        "number": quantity(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": ZERO_NONCE,
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": data(header.bloom.to_bytes(256, "big")),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": data(header.coinbase),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": data(header.extra_data),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "mixHash": data(header.mix_hash),
        "baseFeePerGas": quantity(header.base_fee_per_gas),
        "withdrawalsRoot": data(header.withdrawals_root),
        "blobGasUsed": quantity(header.blob_gas_used),
        "excessBlobGas": quantity(header.excess_blob_gas),
        "parentBeaconBlockRoot": data(header.parent_beacon_block_root),
        "requestsHash": data(header.requests_hash),
    }


def format_block(
    header: BlockHeaderAPI,
    outcomes: list[TransactionOutcome],
    *,
    full: bool,
    size: int,
) -> dict[str, Any]:
    block = format_header(header)
    block["size"] = quantity(size)
    block["uncles"] = []
    block["withdrawals"] = []
    if full:
        block["transactions"] = [
            format_transaction(o.tx, o.sender, header, index) for index, o in enumerate(outcomes)
        ]
    else:
        block["transactions"] = [data(o.tx.hash) for o in outcomes]
    return block


def _access_list(tx: SignedTransactionAPI) -> list[dict[str, Any]]:
    return [
        {
            "address": data(address),
            "storageKeys": ["0x" + key.to_bytes(32, "big").hex() for key in keys],
        }
        for address, keys in tx.access_list
    ]


def format_transaction(
    tx: SignedTransactionAPI,
    sender: bytes,
    header: BlockHeaderAPI | None,
    index: int | None,
) -> dict[str, Any]:
    """A transaction object; ``header`` is None for a pending one."""
    tx_type = transaction_type(tx)
    result: dict[str, Any] = {
        "type": quantity(tx_type),
        "hash": data(tx.hash),
        "nonce": quantity(tx.nonce),
        "blockHash": data(header.hash) if header else None,
        "blockNumber": quantity(header.block_number) if header else None,
        "transactionIndex": quantity(index) if index is not None else None,
        "from": data(sender),
        "to": data(tx.to) if tx.to else None,
        "value": quantity(tx.value),
        "gas": quantity(tx.gas),
        "input": data(tx.data),
        "r": quantity(tx.r),
        "s": quantity(tx.s),
    }
    if tx_type == 0:
        result["gasPrice"] = quantity(tx.gas_price)
        result["v"] = quantity(tx.v)
        if tx.v not in (27, 28):
            result["chainId"] = quantity((tx.v - 35) // 2)
        return result
    result["chainId"] = quantity(tx.chain_id)
    result["accessList"] = _access_list(tx)
    result["v"] = quantity(tx.y_parity)
    result["yParity"] = quantity(tx.y_parity)
    if tx_type == 1:
        result["gasPrice"] = quantity(tx.gas_price)
        return result
    result["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
    result["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
    base_fee = header.base_fee_per_gas if header else None
    result["gasPrice"] = quantity(
        effective_gas_price(tx, base_fee) if base_fee is not None else tx.max_fee_per_gas
    )
    if tx_type == 4:
        result["authorizationList"] = [
            {
                "chainId": quantity(auth.chain_id),
                "address": data(auth.address),
                "nonce": quantity(auth.nonce),
                "yParity": quantity(auth.y_parity),
                "r": quantity(auth.r),
                "s": quantity(auth.s),
            }
            for auth in tx.authorization_list
        ]
    return result


def format_log(
    log: LogAPI,
    header: BlockHeaderAPI,
    tx_hash: bytes,
    tx_index: int,
    log_index: int,
    *,
    removed: bool = False,
) -> dict[str, Any]:
    return {
        "address": data(log.address),
        "topics": ["0x" + topic.to_bytes(32, "big").hex() for topic in log.topics],
        "data": data(log.data),
        "blockNumber": quantity(header.block_number),
        "blockHash": data(header.hash),
        "blockTimestamp": quantity(header.timestamp),
        "transactionHash": data(tx_hash),
        "transactionIndex": quantity(tx_index),
        "logIndex": quantity(log_index),
        "removed": removed,
    }


def format_receipt(
    outcome: TransactionOutcome, header: BlockHeaderAPI, index: int
) -> dict[str, Any]:
    receipt = outcome.receipt
    tx = outcome.tx
    contract = outcome.contract_address
    return {
        "type": quantity(transaction_type(tx)),
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "blockHash": data(header.hash),
        "blockNumber": quantity(header.block_number),
        "from": data(outcome.sender),
        "to": data(tx.to) if tx.to else None,
        "cumulativeGasUsed": quantity(receipt.gas_used),
        "gasUsed": quantity(outcome.gas_used),
        "effectiveGasPrice": quantity(effective_gas_price(tx, header.base_fee_per_gas)),
        "contractAddress": data(contract) if contract else None,
        "logs": [
            format_log(log, header, tx.hash, index, outcome.log_index_start + offset)
            for offset, log in enumerate(receipt.logs)
        ],
        "logsBloom": data(int(receipt.bloom).to_bytes(256, "big")),
        "status": quantity(1 if receipt.state_root == b"\x01" else 0),
    }
