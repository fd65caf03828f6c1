"""Errors of the batch codec.

Exception tree::

    OpenLedgerError
    └── BatchError
        ├── BatchEncodeError   (the batcher was handed something that cannot be posted)
        └── BatchDecodeError   (L1 data that is not a valid batch, channel or frame)

A reader of L1 data only ever sees :class:`BatchDecodeError`: anyone can post to the batch
inbox, so malformed input is expected and must be dropped with a reason, never crash derivation.
"""

from openledger.errors import OpenLedgerError


class BatchError(OpenLedgerError):
    """Base class of the batch codec's errors."""


class BatchEncodeError(BatchError):
    """Blocks or transactions the encoder refuses (a deposit, a foreign chain id, a gap)."""


class BatchDecodeError(BatchError):
    """Malformed data read from L1; the whole unit it came in (payload, channel) is dropped."""
