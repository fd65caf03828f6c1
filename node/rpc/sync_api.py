"""``openledger_syncStatus`` and ``openledger_outputAtBlock``: op-node's ``optimism_syncStatus``
and ``optimism_outputAtBlock`` for this chain.

The L2 heads come from the chain and its labels; the L1 side (how far derivation has read,
L1's head and finalized block) from whoever derives, through :data:`L1Status`. A node that does
not derive (the sequencer) reports those as ``null``. Block references use op-node's JSON
shape: plain integers for numbers and timestamps, hex for hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockHeaderAPI

from node.l1_info import block_l1_attributes
from node.output_root import output_at
from node.rpc.codec import data, parse_block_id
from node.rpc.eth_api import ChainReader


@dataclass(frozen=True)
class L1BlockRef:
    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int

    def json(self) -> dict[str, Any]:
        return {
            "hash": data(self.hash),
            "number": self.number,
            "parentHash": data(self.parent_hash),
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class L1Status:
    """What derivation knows of L1: the block it has read up to, L1's head and finalized."""

    current: L1BlockRef | None
    head: L1BlockRef | None
    safe: L1BlockRef | None
    finalized: L1BlockRef | None


L1StatusSource = Callable[[], L1Status]


def no_l1_status() -> L1Status:
    return L1Status(None, None, None, None)


class SyncApi:
    def __init__(self, reader: ChainReader, l1_status: L1StatusSource = no_l1_status) -> None:
        self.reader = reader
        self.chain = reader.chain
        self.l1_status = l1_status

    def handlers(self) -> dict[str, Any]:
        return {
            "openledger_syncStatus": self.sync_status,
            "openledger_outputAtBlock": self.output_at_block,
        }

    def l2_ref(self, header: BlockHeaderAPI) -> dict[str, Any]:
        """op-node's ``L2BlockRef``: the block and its L1 origin (its L1-attributes deposit)."""
        attributes = block_l1_attributes([o.tx for o in self.chain.outcomes(header)[:1]])
        origin = (
            {"hash": data(attributes.origin.hash), "number": attributes.origin.number}
            if attributes is not None
            else {
                "hash": data(self.chain.config.rollup.l1_origin_hash),
                "number": self.chain.config.rollup.l1_origin_number,
            }
        )
        return {
            "hash": data(header.hash),
            "number": header.block_number,
            "parentHash": data(header.parent_hash),
            "timestamp": header.timestamp,
            "l1origin": origin,
            "sequenceNumber": attributes.sequence_number if attributes is not None else 0,
        }

    def sync_status(self) -> dict[str, Any]:
        l1 = self.l1_status()
        labels = self.reader.labels

        def l1_json(ref: L1BlockRef | None) -> dict[str, Any] | None:
            return ref.json() if ref is not None else None

        return {
            "current_l1": l1_json(l1.current),
            "head_l1": l1_json(l1.head),
            "safe_l1": l1_json(l1.safe),
            "finalized_l1": l1_json(l1.finalized),
            "unsafe_l2": self.l2_ref(self.chain.head),
            "safe_l2": self.l2_ref(labels.safe),
            "finalized_l2": self.l2_ref(labels.finalized),
        }

    def output_at_block(self, block: Any) -> dict[str, Any]:
        """The version-0 output root of a canonical block (number or tag)."""
        header = self.reader.header(parse_block_id(block, "block"))
        output = output_at(self.chain.store, header)
        return {
            "version": data(output.version),
            "outputRoot": data(output.root),
            "blockRef": self.l2_ref(header),
            "withdrawalStorageRoot": data(output.message_passer_storage_root),
            "stateRoot": data(output.state_root),
        }
