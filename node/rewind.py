"""Moving the canonical head back: what an L1 reorg, or a sequencer block replaced by a derived
one, needs.

py-evm only ever moves the head forward (to a block of higher score), so a rewind is written
by hand: the number-to-hash lookups and the transaction lookups of the dropped blocks are
deleted and the head pointer is set, in one LevelDB batch with the caller's own records. The
dropped blocks' headers, bodies and state stay in the database (unreachable by number, still
readable by hash), as geth keeps side chains.
"""

from __future__ import annotations

import logging

import rlp
from eth.abc import BlockHeaderAPI
from eth.db.schema import SchemaV1
from eth.rlp.sedes import chain_gaps

from node.chain import Chain

log = logging.getLogger(__name__)


def rewind_writes(chain: Chain, target: BlockHeaderAPI) -> dict[bytes, bytes | None]:
    """The writes that make ``target`` the head: every canonical block above it un-indexed."""
    if not chain.is_canonical(target):
        raise ValueError(f"cannot rewind to non-canonical block {target.hash.hex()}")
    # py-evm tracks which block numbers it holds ("chain gaps"; ours has none): the tip must
    # move back too, or re-importing a dropped height looks up a canonical block no longer there.
    tip = rlp.encode(((), target.block_number + 1), sedes=chain_gaps)
    writes: dict[bytes, bytes | None] = {
        SchemaV1.make_canonical_head_hash_lookup_key(): target.hash,
        SchemaV1.make_header_chain_gaps_lookup_key(): tip,
        SchemaV1.make_chain_gaps_lookup_key(): tip,
    }
    for number in range(target.block_number + 1, chain.head.block_number + 1):
        header = chain.header_by_number(number)
        writes[SchemaV1.make_block_number_to_hash_lookup_key(number)] = None
        for outcome in chain.outcomes(header):
            writes[SchemaV1.make_transaction_hash_to_block_lookup_key(outcome.hash)] = None
    return writes


def rewind(
    chain: Chain, target: BlockHeaderAPI, extra_writes: dict[bytes, bytes | None] | None = None
) -> int:
    """Make ``target`` the canonical head; return how many blocks were dropped."""
    dropped = chain.head.block_number - target.block_number
    if dropped <= 0:
        if extra_writes:
            chain.move_head(chain.head, extra_writes)
        return 0
    writes = rewind_writes(chain, target)
    writes.update(extra_writes or {})
    chain.move_head(target, writes)
    log.info(
        "rewound the chain by %d blocks to %d hash=%s",
        dropped,
        target.block_number,
        target.hash.hex()[:16],
    )
    return dropped
