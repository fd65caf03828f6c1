"""The output root of an L2 block (docs/rollup.md, "Output root (version 0)").

Computed from any L2 JSON-RPC endpoint with two standard calls (``eth_getBlockByNumber`` and
``eth_getProof`` of the message passer), so the proposer, a challenger and the full node's
``openledger_outputAtBlock`` all compute it the same way, against a local or a remote node.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from openledger.contracts.predeploys import L2_TO_L1_MESSAGE_PASSER_ADDRESS

OUTPUT_VERSION_0 = bytes(32)


@dataclass(frozen=True)
class OutputRoot:
    """The four committed fields and the root; the fields are the portal's ``OutputRootProof``."""

    block_number: int
    state_root: bytes
    message_passer_storage_root: bytes
    block_hash: bytes
    version: bytes = OUTPUT_VERSION_0

    @property
    def root(self) -> bytes:
        """``keccak256(version ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)``."""
        return keccak(
            self.version + self.state_root + self.message_passer_storage_root + self.block_hash
        )


def output_at_block(w3: Web3, block_number: int) -> OutputRoot:
    """The output of canonical L2 block ``block_number``, read from ``w3``'s node."""
    block = w3.eth.get_block(block_number)
    proof = w3.eth.get_proof(
        to_checksum_address(L2_TO_L1_MESSAGE_PASSER_ADDRESS), [], block["hash"]
    )
    return OutputRoot(
        block_number=int(block["number"]),
        state_root=bytes(block["stateRoot"]),
        message_passer_storage_root=bytes(proof["storageHash"]),
        block_hash=bytes(block["hash"]),
    )
