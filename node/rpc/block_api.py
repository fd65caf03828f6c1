"""Block-scoped reads: receipts of a block, transaction counts, transactions by index, uncles.

An L2 block has no uncles, so the uncle methods answer as geth does for a post-merge block:
a count of zero and ``null`` for any index. An unknown block is ``null`` everywhere, never an
error, as the spec's ``notFound`` result says.
"""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI

from node.rpc.codec import BlockId, parse_block_id, parse_hash, parse_quantity, quantity
from node.rpc.eth_api import ChainReader
from node.rpc.formatting import block_attributes, format_included_transaction, format_receipt


class BlockApi:
    """``eth_getBlockReceipts`` and the by-block-and-index methods."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.chain = reader.chain

    def handlers(self) -> dict[str, Any]:
        return {
            "eth_getBlockReceipts": self.get_block_receipts,
            "eth_getBlockTransactionCountByNumber": self.transaction_count_by_number,
            "eth_getBlockTransactionCountByHash": self.transaction_count_by_hash,
            "eth_getTransactionByBlockNumberAndIndex": self.transaction_by_number_and_index,
            "eth_getTransactionByBlockHashAndIndex": self.transaction_by_hash_and_index,
            "eth_getUncleCountByBlockNumber": self.uncle_count_by_number,
            "eth_getUncleCountByBlockHash": self.uncle_count_by_hash,
            "eth_getUncleByBlockNumberAndIndex": self.uncle_by_number_and_index,
            "eth_getUncleByBlockHashAndIndex": self.uncle_by_hash_and_index,
        }

    def _by_number(self, block: Any) -> BlockHeaderAPI | None:
        return self.reader.header_or_none(parse_block_id(block, "block"))

    def _by_hash(self, block_hash: Any) -> BlockHeaderAPI | None:
        return self.reader.header_or_none(BlockId(hash=parse_hash(block_hash, "blockHash")))

    def get_block_receipts(self, block: Any) -> list[dict[str, Any]] | None:
        """Number, tag, hash or EIP-1898 object: all of them name one block here."""
        header = self._by_number(block)
        if header is None:
            return None
        outcomes = self.chain.outcomes(header)
        l1 = block_attributes(outcomes)
        return [
            format_receipt(outcome, header, index, l1) for index, outcome in enumerate(outcomes)
        ]

    def _count(self, header: BlockHeaderAPI | None) -> str | None:
        return None if header is None else quantity(len(self.chain.outcomes(header)))

    def transaction_count_by_number(self, block: Any) -> str | None:
        return self._count(self._by_number(block))

    def transaction_count_by_hash(self, block_hash: Any) -> str | None:
        return self._count(self._by_hash(block_hash))

    def _transaction(self, header: BlockHeaderAPI | None, index: Any) -> dict[str, Any] | None:
        position = parse_quantity(index, "index", maximum=2**63 - 1)
        if header is None:
            return None
        outcomes = self.chain.outcomes(header)
        if position >= len(outcomes):
            return None
        return format_included_transaction(outcomes[position], header, position)

    def transaction_by_number_and_index(self, block: Any, index: Any) -> dict[str, Any] | None:
        return self._transaction(self._by_number(block), index)

    def transaction_by_hash_and_index(self, block_hash: Any, index: Any) -> dict[str, Any] | None:
        return self._transaction(self._by_hash(block_hash), index)

    def uncle_count_by_number(self, block: Any) -> str | None:
        return None if self._by_number(block) is None else quantity(0)

    def uncle_count_by_hash(self, block_hash: Any) -> str | None:
        return None if self._by_hash(block_hash) is None else quantity(0)

    def uncle_by_number_and_index(self, block: Any, index: Any) -> None:
        parse_block_id(block, "block")
        parse_quantity(index, "index")

    def uncle_by_hash_and_index(self, block_hash: Any, index: Any) -> None:
        parse_hash(block_hash, "blockHash")
        parse_quantity(index, "index")
