"""Blocks, transactions, receipts and logs as the execution-apis schemas spell them.

Plus op-geth's extensions: deposit transactions (``sourceHash``, ``mint``, ``isSystemTx``,
``depositNonce``, ``depositReceiptVersion``) and the L1 data fee of every other receipt
(``l1Fee``, ``l1GasPrice``, ``l1GasUsed``, ``l1BaseFeeScalar``, ``l1BlobBaseFee``,
``l1BlobBaseFeeScalar``), read back from the block's L1-attributes deposit.
"""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, LogAPI, SignedTransactionAPI

from node.deposit_tx import DEPOSIT_TX_TYPE, deposit_payload, deposit_receipt
from node.l1_fee import L1FeeParams, compressed_size, l1_gas_used
from node.l1_info import L1Attributes, block_l1_attributes
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
            format_included_transaction(o, header, index) for index, o in enumerate(outcomes)
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


def format_included_transaction(
    outcome: TransactionOutcome, header: BlockHeaderAPI, index: int
) -> dict[str, Any]:
    """A transaction of a block: a deposit's nonce comes from its receipt."""
    return format_transaction(outcome.tx, outcome.sender, header, index, outcome)


def format_transaction(
    tx: SignedTransactionAPI,
    sender: bytes,
    header: BlockHeaderAPI | None,
    index: int | None,
    outcome: TransactionOutcome | None = None,
) -> dict[str, Any]:
    """A transaction object; ``header`` is None for a pending one (never a deposit)."""
    tx_type = transaction_type(tx)
    if tx_type == DEPOSIT_TX_TYPE:
        if outcome is None:
            raise ValueError("a deposit is only ever formatted with its outcome")
        return _format_deposit(outcome, header, index)
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


def _format_deposit(
    outcome: TransactionOutcome, header: BlockHeaderAPI | None, index: int | None
) -> dict[str, Any]:
    """op-geth's deposit transaction object: no fee fields beyond a zero gas price, no signature."""
    tx = outcome.tx
    payload = deposit_payload(tx)
    return {
        "type": quantity(DEPOSIT_TX_TYPE),
        "hash": data(tx.hash),
        "nonce": quantity(outcome.nonce),
        "blockHash": data(header.hash) if header else None,
        "blockNumber": quantity(header.block_number) if header else None,
        "transactionIndex": quantity(index) if index is not None else None,
        "from": data(outcome.sender),
        "to": data(tx.to) if tx.to else None,
        "value": quantity(tx.value),
        "gas": quantity(tx.gas),
        "gasPrice": quantity(0),
        "input": data(tx.data),
        "sourceHash": data(payload.source_hash),
        "mint": quantity(payload.mint),
        "isSystemTx": payload.is_system_tx,
        "depositReceiptVersion": quantity(deposit_receipt(outcome.receipt).deposit_receipt_version),
        "v": quantity(0),
        "r": quantity(0),
        "s": quantity(0),
    }


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


def block_attributes(outcomes: list[TransactionOutcome]) -> L1Attributes | None:
    """The L1 attributes of the block of ``outcomes`` (its first transaction)."""
    return block_l1_attributes([outcome.tx for outcome in outcomes[:1]])


def format_receipt(
    outcome: TransactionOutcome,
    header: BlockHeaderAPI,
    index: int,
    l1: L1Attributes | None,
) -> dict[str, Any]:
    """A receipt; ``l1`` (the block's L1 attributes) prices a user transaction's L1 fee."""
    receipt = outcome.receipt
    tx = outcome.tx
    contract = outcome.contract_address
    result = {
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
    if transaction_type(tx) == DEPOSIT_TX_TYPE:
        result["depositNonce"] = quantity(deposit_receipt(receipt).deposit_nonce)
        result["depositReceiptVersion"] = quantity(deposit_receipt(receipt).deposit_receipt_version)
    elif l1 is not None:
        result.update(_l1_fee_fields(tx, L1FeeParams.from_attributes(l1)))
    return result


def _l1_fee_fields(tx: SignedTransactionAPI, params: L1FeeParams) -> dict[str, str]:
    size = compressed_size(tx)
    return {
        "l1Fee": quantity(params.fee(size)),
        "l1GasPrice": quantity(params.base_fee),
        "l1GasUsed": quantity(l1_gas_used(size)),
        "l1BaseFeeScalar": quantity(params.base_fee_scalar),
        "l1BlobBaseFee": quantity(params.blob_base_fee),
        "l1BlobBaseFeeScalar": quantity(params.blob_base_fee_scalar),
    }
