"""The batch codec: how sealed L2 blocks travel to L1 as calldata or blobs and come back.

Blocks become batches (:mod:`.singular`, :mod:`.span`), batches a compressed channel
(:mod:`.channel`), the channel frames packed into L1 transaction payloads (:mod:`.frames`,
:mod:`.channel_out`); readers reassemble frames (:mod:`.channel_bank`) and decode
(:mod:`.reader`); :mod:`.blob` carries a payload in an EIP-4844 blob. The byte format is in
``docs/rollup.md``, "Batches, channels and frames".
"""

from openledger.batch.channel import decode_channel, new_channel_id
from openledger.batch.channel_bank import ChannelBank, Drop
from openledger.batch.channel_out import ChannelOut
from openledger.batch.exceptions import BatchDecodeError, BatchEncodeError, BatchError
from openledger.batch.frames import MAX_PAYLOAD_BYTES, Frame, pack_payloads, parse_payload
from openledger.batch.measure import SizeReport, measure_transactions
from openledger.batch.reader import BatchReader, DecodedChannel, ReadResult
from openledger.batch.singular import Batch
from openledger.batch.span import SpanBatch, SpanBlock

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "Batch",
    "BatchDecodeError",
    "BatchEncodeError",
    "BatchError",
    "BatchReader",
    "ChannelBank",
    "ChannelOut",
    "DecodedChannel",
    "Drop",
    "Frame",
    "ReadResult",
    "SizeReport",
    "SpanBatch",
    "SpanBlock",
    "decode_channel",
    "measure_transactions",
    "new_channel_id",
    "pack_payloads",
    "parse_payload",
]
