"""Batch validity: may this batch be the next safe L2 block? A pure function (docs/rollup.md,
"Derivation", lists the rules and where they differ from OP's).

The answer is :data:`ACCEPT`, :data:`DROP` (never usable: log and forget it) or
:data:`UNDECIDED` (it depends on an L1 block not read yet: keep it and read on).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from node.derivation.channels import BlockBatch
from node.derivation.l1 import L1Block


class Verdict(Enum):
    ACCEPT = "accept"
    DROP = "drop"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Parent:
    """The safe head the batch must extend."""

    hash: bytes
    number: int
    timestamp: int


@dataclass(frozen=True)
class Windows:
    """The rollup.json bounds the rules use."""

    seq_window_size: int
    max_sequencer_drift: int


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    reason: str = ""


ACCEPTED = Check(Verdict.ACCEPT)


def check_batch(
    batch: BlockBatch,
    parent: Parent,
    epoch: L1Block,
    next_epoch: L1Block | None,
    windows: Windows,
) -> Check:
    """``epoch`` is the parent's L1 origin, ``next_epoch`` the L1 block after it if read."""
    if batch.timestamp <= parent.timestamp:
        return Check(Verdict.DROP, f"old: L2 time {batch.timestamp} is already derived")
    if batch.parent_hash is None:
        if batch.previous_timestamp != parent.timestamp:
            return Check(Verdict.DROP, "span batch continues a block that was not derived")
    elif batch.parent_hash != parent.hash:
        return Check(
            Verdict.DROP,
            f"parent {batch.parent_hash.hex()[:16]} is not the safe head {parent.hash.hex()[:16]}",
        )
    inclusion = batch.inclusion.number
    if batch.epoch_number < epoch.number:
        return Check(Verdict.DROP, f"L1 origin {batch.epoch_number} is before the parent's")
    if batch.epoch_number > epoch.number + 1:
        return Check(Verdict.DROP, f"L1 origin {batch.epoch_number} skips past {epoch.number + 1}")
    if batch.epoch_number > inclusion:
        return Check(Verdict.DROP, f"L1 origin {batch.epoch_number} is after L1 block {inclusion}")
    if batch.epoch_number + windows.seq_window_size <= inclusion:
        return Check(
            Verdict.DROP,
            f"included in L1 block {inclusion}, past the sequencing window of origin "
            f"{batch.epoch_number}",
        )
    origin = epoch if batch.epoch_number == epoch.number else next_epoch
    if origin is None:
        return Check(Verdict.UNDECIDED, f"L1 block {epoch.number + 1} not read yet")
    if batch.epoch_hash != origin.hash:
        return Check(Verdict.DROP, f"L1 origin hash for {origin.number} is not canonical")
    if batch.timestamp < origin.timestamp:
        return Check(Verdict.DROP, f"L2 time {batch.timestamp} is before its L1 origin's")
    if batch.timestamp > origin.timestamp + windows.max_sequencer_drift:
        if batch.transactions:
            return Check(Verdict.DROP, "past the sequencer drift with transactions")
        if origin is epoch:
            if next_epoch is None:
                return Check(Verdict.UNDECIDED, f"L1 block {epoch.number + 1} not read yet")
            if batch.timestamp >= next_epoch.timestamp:
                return Check(Verdict.DROP, "past the sequencer drift on a stale L1 origin")
    return ACCEPTED


def default_origin(timestamp: int, epoch: L1Block, next_epoch: L1Block | None) -> L1Block:
    """The L1 origin of an empty block the sequencing window forces: the next L1 block once
    L2 time has reached it, else the parent's (OP's rule)."""
    if next_epoch is not None and timestamp >= next_epoch.timestamp:
        return next_epoch
    return epoch
