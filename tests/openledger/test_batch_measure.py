"""What a simple transfer costs on L1: 1,000 signed EIP-1559 transfers between the 10 dev
accounts, encoded as the batcher posts them, against their plain RLP size."""

from __future__ import annotations

import random

import pytest
from eth_account.signers.local import LocalAccount

from openledger.batch import Batch, BatchReader, ChannelOut, measure_transactions

CHAIN_ID = 901
SIGNATURE_FLOOR = 64
"""r and s: random, hence incompressible."""


@pytest.fixture(scope="module")
def transfers(dev_keys: list[LocalAccount]) -> list[bytes]:
    rng = random.Random(901)
    nonces = [0] * len(dev_keys)
    raws = []
    for n in range(1_000):
        sender = n % len(dev_keys)
        recipient = rng.choice([k for k in range(len(dev_keys)) if k != sender])
        tx = {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": nonces[sender],
            "to": dev_keys[recipient].address,
            "value": rng.randrange(1, 10**6) * 10**12,  # up to 1 OPEN, in micro-OPEN steps
            "gas": 21_000,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 10**6,
        }
        nonces[sender] += 1
        raws.append(bytes(dev_keys[sender].sign_transaction(tx).raw_transaction))
    return raws


def test_span_encoding_beats_plain_rlp(transfers: list[bytes]) -> None:
    span = measure_transactions(transfers, CHAIN_ID)
    singular = measure_transactions(transfers, CHAIN_ID, span=False)
    print(
        f"\n1,000 transfers: plain RLP {span.rlp_bytes_per_tx:.1f} B/tx, "
        f"span+zlib {span.l1_bytes_per_tx:.1f} B/tx (ratio {span.ratio:.3f}), "
        f"singular+zlib {singular.l1_bytes_per_tx:.1f} B/tx (ratio {singular.ratio:.3f})"
    )
    assert span.transactions == 1_000 and span.payloads == 1
    assert span.l1_bytes < singular.l1_bytes < span.rlp_bytes
    assert span.ratio < 0.7
    assert SIGNATURE_FLOOR < span.l1_bytes_per_tx < SIGNATURE_FLOOR + 12


def test_measured_transfers_come_back_from_l1_unchanged(transfers: list[bytes]) -> None:
    out = ChannelOut(CHAIN_ID)
    for number in range(4):
        txs = tuple(transfers[250 * number : 250 * (number + 1)])
        out.add_block(Batch(bytes([number]) * 32, 0, b"\x01" * 32, 2 * number, txs))
    (channel,) = BatchReader(CHAIN_ID).add_l1_block(1, out.payloads()).channels
    (span,) = channel.batches
    assert [tx for block in span.blocks for tx in block.transactions] == transfers


def test_nothing_to_measure() -> None:
    with pytest.raises(ValueError, match="nothing"):
        measure_transactions([], CHAIN_ID)
