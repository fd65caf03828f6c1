"""L1 retrieval: the batcher's payloads in an L1 block.

A payload is the calldata of a transaction sent to the batch inbox by the batcher named in
rollup.json, in transaction order. Anyone can send to the inbox; only the batcher's
transactions count (OP's rule; the sender is what the L1 node reports, i.e. the signer).
"""

from __future__ import annotations

from node.derivation.l1 import L1Block


def batcher_payloads(block: L1Block, batch_inbox: bytes, batcher: bytes) -> list[bytes]:
    return [
        tx.input
        for tx in block.transactions
        if tx.to == batch_inbox and tx.sender == batcher and tx.input
    ]
