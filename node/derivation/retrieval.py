"""L1 retrieval: the batcher's payloads in an L1 block.

A payload is the calldata of a transaction sent to the batch inbox by the batcher, both as
L1's SystemConfig sets them at that block (the pipeline passes them in), in transaction
order. Anyone can send to the inbox; only the batcher's transactions count (OP's rule; the
sender is what the L1 node reports, i.e. the signer).

A blob transaction (EIP-4844, type 3) carries its payloads in its blobs, one payload per blob
(:mod:`openledger.batch.blob`), and its calldata is ignored, as in OP's derivation. The L1
source has fetched and verified the blobs already; a blob that does not decode is skipped with
a warning (the channel bank would refuse its frames anyway).
"""

from __future__ import annotations

import logging

from node.derivation.l1 import L1Block, L1Transaction
from openledger.batch.blob import BlobDecodeError, decode_blob

log = logging.getLogger(__name__)


def is_batcher_tx(tx: L1Transaction, batch_inbox: bytes, batcher: bytes) -> bool:
    return tx.to == batch_inbox and tx.sender == batcher


def batcher_payloads(block: L1Block, batch_inbox: bytes, batcher: bytes) -> list[bytes]:
    payloads: list[bytes] = []
    for tx in block.transactions:
        if not is_batcher_tx(tx, batch_inbox, batcher):
            continue
        if not tx.blob_hashes:
            if tx.input:
                payloads.append(tx.input)
            continue
        if len(tx.blobs) != len(tx.blob_hashes):
            raise ValueError(f"L1 block {block.number}: batcher blob transaction without blobs")
        for index, blob in enumerate(tx.blobs):
            try:
                payloads.append(decode_blob(blob))
            except BlobDecodeError as exc:
                log.warning("L1 block %d: batcher blob %d skipped: %s", block.number, index, exc)
    return payloads
