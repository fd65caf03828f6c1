"""An L2 block's output root computed from the node's own state (no JSON-RPC round trip).

``openledger.output_root`` defines the root and computes it from any node over JSON-RPC (the
proposer's way); ``openledger_outputAtBlock`` reads the message passer's storage root straight
from the block's state trie instead, and builds the same :class:`OutputRoot`.
"""

from __future__ import annotations

import rlp
from eth.abc import BlockHeaderAPI, DatabaseAPI
from eth.constants import BLANK_ROOT_HASH
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from trie import HexaryTrie

from openledger.contracts.predeploys import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from openledger.output_root import OutputRoot


def storage_root(db: DatabaseAPI, state_root: bytes, address: bytes) -> bytes:
    """The storage root of ``address`` in the state ``state_root`` (empty if no account)."""
    encoded = HexaryTrie(db, state_root).get(keccak(address))
    if not encoded:
        return BLANK_ROOT_HASH
    return bytes(rlp.decode(encoded, sedes=Account).storage_root)


def output_at(db: DatabaseAPI, header: BlockHeaderAPI) -> OutputRoot:
    return OutputRoot(
        block_number=header.block_number,
        state_root=header.state_root,
        message_passer_storage_root=storage_root(
            db, header.state_root, L2_TO_L1_MESSAGE_PASSER_ADDRESS
        ),
        block_hash=header.hash,
    )
