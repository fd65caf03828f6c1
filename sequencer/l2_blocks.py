"""Sealed L2 blocks as the batcher posts them, read over the L2 JSON-RPC.

The batcher reads through JSON-RPC (in the devnet, the in-process provider) rather than the
chain object: it runs in its own thread, and the node's handlers only ever run on the event
loop. A block becomes a :class:`~openledger.batch.Batch`: parent hash, timestamp, its L1
origin (from the L1-attributes deposit that opens it) and its raw non-deposit transactions.
"""

from __future__ import annotations

from web3 import Web3

from node.deposit_tx import DEPOSIT_TX_TYPE
from node.l1_info import L1Attributes
from openledger.batch import Batch


class L2Blocks:
    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def head_number(self) -> int:
        return int(self.w3.eth.block_number)

    def batch(self, number: int) -> Batch:
        """Block ``number`` (>= 1) as a batch; deposits (type 0x7E) are left out."""
        block = self.w3.eth.get_block(number, full_transactions=True)
        transactions = block["transactions"]
        if not transactions or int(transactions[0]["type"]) != DEPOSIT_TX_TYPE:
            raise ValueError(f"L2 block {number} does not open with the L1-attributes deposit")
        origin = L1Attributes.from_calldata(bytes(transactions[0]["input"])).origin
        raw = [
            bytes(self.w3.eth.get_raw_transaction(tx["hash"]))
            for tx in transactions
            if int(tx["type"]) != DEPOSIT_TX_TYPE
        ]
        return Batch(
            parent_hash=bytes(block["parentHash"]),
            epoch_number=origin.number,
            epoch_hash=origin.hash,
            timestamp=int(block["timestamp"]),
            transactions=tuple(raw),
        )
