"""Payload attributes: the full transaction list of the next block, as the sequencer built it.

In order (``sequencer/builder.py`` does the same): the L1-attributes deposit for the block's
origin and sequence number (``node.l1_info``), then, in the first block of a new origin only,
the user deposits from that L1 block's portal logs (``node.deposits``), then the batch's
transactions. A transaction that does not decode or whose signature does not recover makes the
block invalid (:class:`InvalidBlock`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI

from node.deposits import InvalidDepositLog, deposit_from_log
from node.derivation.exceptions import InvalidBlock
from node.derivation.l1 import L1Block
from node.exceptions import InvalidTransaction
from node.heads import L1Ref
from node.l1_info import FeeScalars, L1Attributes, l1_info_deposit, next_attributes
from node.transactions import AdmittedTransaction, admit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayloadAttributes:
    """Everything needed to build one L2 block on the safe head."""

    timestamp: int
    origin: L1Block
    transactions: tuple[SignedTransactionAPI, ...]
    """Deposits first, then the batch's transactions (senders recovered and pinned)."""
    deposit_count: int
    derived_from: L1Ref
    """The L1 block whose data made this block safe."""


def user_deposits(origin: L1Block) -> list[SignedTransactionAPI]:
    deposits = []
    for deposit_log in origin.deposit_logs:
        try:
            deposits.append(deposit_from_log(deposit_log))
        except InvalidDepositLog as exc:
            log.warning(
                "L1 block %d log %d: not a deposit: %s", origin.number, deposit_log.log_index, exc
            )
    return deposits


def build_attributes(
    parent_attributes: L1Attributes | None,
    parent_origin_number: int,
    origin: L1Block,
    scalars: FeeScalars,
    timestamp: int,
    raw_transactions: tuple[bytes, ...],
    chain_id: int,
    derived_from: L1Ref,
    admit_raw: Callable[[bytes, int], AdmittedTransaction] = admit,
) -> PayloadAttributes:
    """``parent_attributes``: what the parent's L1-attributes deposit set (``None`` at genesis,
    whose origin is ``parent_origin_number``)."""
    attributes = next_attributes(parent_attributes, origin.origin(), scalars)
    deposits: list[SignedTransactionAPI] = [l1_info_deposit(attributes)]
    if origin.number != parent_origin_number:
        deposits += user_deposits(origin)
    transactions = list(deposits)
    for index, raw in enumerate(raw_transactions):
        try:
            transactions.append(admit_raw(raw, chain_id).tx)
        except InvalidTransaction as exc:
            raise InvalidBlock(f"transaction {index} of the batch: {exc}") from exc
    return PayloadAttributes(
        timestamp=timestamp,
        origin=origin,
        transactions=tuple(transactions),
        deposit_count=len(deposits),
        derived_from=derived_from,
    )
