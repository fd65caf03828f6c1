"""How many L1 bytes our encoding spends on a list of transactions, against plain RLP.

The number the batcher is judged by: calldata is what a rollup pays L1 for. Transactions are put
in blocks of ``txs_per_block`` (block metadata is part of the real cost), encoded as one span
batch per channel, compressed, framed and cut into payloads exactly as the batcher posts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openledger.batch.channel_out import ChannelOut
from openledger.batch.frames import MAX_PAYLOAD_BYTES
from openledger.batch.singular import Batch


@dataclass(frozen=True)
class SizeReport:
    transactions: int
    rlp_bytes: int
    """Sum of the raw signed transactions' lengths: what posting them as they are would cost."""
    l1_bytes: int
    """Calldata of every payload that carries them: our format, all overheads included."""
    payloads: int

    @property
    def rlp_bytes_per_tx(self) -> float:
        return self.rlp_bytes / self.transactions

    @property
    def l1_bytes_per_tx(self) -> float:
        return self.l1_bytes / self.transactions

    @property
    def ratio(self) -> float:
        """``l1_bytes / rlp_bytes``: below 1 means we post less than the transactions' size."""
        return self.l1_bytes / self.rlp_bytes


def measure_transactions(
    raw_txs: Sequence[bytes],
    chain_id: int,
    *,
    txs_per_block: int = 100,
    span: bool = True,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
) -> SizeReport:
    """Encode ``raw_txs`` in consecutive synthetic blocks (2 s apart, one L1 origin per 6
    blocks) in one channel, and count the bytes on L1."""
    if not raw_txs:
        raise ValueError("nothing to measure")
    channel = ChannelOut(chain_id, span=span)
    for index, start in enumerate(range(0, len(raw_txs), txs_per_block)):
        epoch = index // 6
        channel.add_block(
            Batch(
                parent_hash=index.to_bytes(32, "big"),
                epoch_number=epoch,
                epoch_hash=(epoch + 1).to_bytes(32, "big"),
                timestamp=2 * index,
                transactions=tuple(raw_txs[start : start + txs_per_block]),
            )
        )
    payloads = channel.payloads(max_payload_bytes)
    return SizeReport(
        transactions=len(raw_txs),
        rlp_bytes=sum(len(raw) for raw in raw_txs),
        l1_bytes=sum(len(payload) for payload in payloads),
        payloads=len(payloads),
    )
