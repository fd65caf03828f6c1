"""``eth_getProof`` (EIP-1186): Merkle proofs of an account and some of its storage slots.

The withdrawal flow of the bridge depends on it: a user proves the message passer's storage slot
against an output root on L1. Proofs are read straight from the state trie in the chain database:
the account trie is keyed by ``keccak(address)``, each storage trie by ``keccak(slot)``, and the
proof lists the RLP of each hashed node on the path, root first, as geth does (nodes shorter than
32 bytes are embedded in their parent and not listed separately).
"""

from __future__ import annotations

from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from trie import HexaryTrie

from node.rpc.codec import data, parse_address, parse_block_id, quantity
from node.rpc.errors import invalid_params
from node.rpc.eth_api import ChainReader

MAX_PROOF_KEYS = 1024
"""geth's ``maxGetProofKeys``: storage keys one request may ask for."""

EMBEDDED_NODE_LIMIT = 32
"""A trie node whose RLP is shorter than this lives inside its parent (yellow paper, appendix D)."""


def parse_storage_key(value: Any, name: str) -> tuple[int, str]:
    """A slot as up to 32 bytes of hex, and the key to echo back.

    geth echoes a full 32-byte key as given and any shorter form as a quantity; clients
    compare the echoed key with what they sent, so the same rule applies here.
    """
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise invalid_params(f"invalid argument {name}: expected 0x-prefixed hex")
    digits = value[2:]
    if len(digits) % 2:
        digits = "0" + digits
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise invalid_params(f"invalid argument {name}: bad hex {value!r}") from None
    if len(raw) > 32:
        raise invalid_params(f"invalid argument {name}: hex string too long, want at most 32 bytes")
    slot = int.from_bytes(raw, "big")
    echoed = data(raw) if len(raw) == 32 else quantity(slot)
    return slot, echoed


def trie_proof(trie: HexaryTrie, key: bytes) -> list[str]:
    """The hashed nodes on the path to ``key`` (an absent key yields its exclusion proof)."""
    nodes = trie.get_proof(key)
    encoded = [rlp.encode(node) for node in nodes]
    return [
        data(node)
        for position, node in enumerate(encoded)
        if position == 0 or len(node) >= EMBEDDED_NODE_LIMIT
    ]


class ProofApi:
    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.chain = reader.chain

    def handlers(self) -> dict[str, Any]:
        return {"eth_getProof": self.get_proof}

    def get_proof(self, address: Any, storage_keys: Any, block: Any = None) -> dict[str, Any]:
        account_address = parse_address(address, "address")
        if not isinstance(storage_keys, list):
            raise invalid_params("invalid argument 1: expected an array of storage keys")
        if len(storage_keys) > MAX_PROOF_KEYS:
            raise invalid_params(f"invalid argument 1: too many keys, at most {MAX_PROOF_KEYS}")
        keys = [
            parse_storage_key(key, f"storageKeys[{position}]")
            for position, key in enumerate(storage_keys)
        ]
        header = self.reader.header(parse_block_id(block, "block"))

        state_trie = HexaryTrie(self.chain.store, header.state_root)
        account_key = keccak(account_address)
        encoded_account = state_trie.get(account_key)
        account = (
            rlp.decode(encoded_account, sedes=Account)
            if encoded_account
            else Account(nonce=0, balance=0, storage_root=BLANK_ROOT_HASH, code_hash=EMPTY_SHA3)
        )
        storage_trie = HexaryTrie(self.chain.store, account.storage_root)
        storage_proofs = []
        for slot, echoed in keys:
            slot_key = keccak(slot.to_bytes(32, "big"))
            stored = storage_trie.get(slot_key)
            storage_proofs.append(
                {
                    "key": echoed,
                    "value": quantity(
                        rlp.decode(stored, sedes=rlp.sedes.big_endian_int) if stored else 0
                    ),
                    "proof": trie_proof(storage_trie, slot_key),
                }
            )
        return {
            "address": data(account_address),
            "accountProof": trie_proof(state_trie, account_key),
            "balance": quantity(account.balance),
            "codeHash": data(account.code_hash),
            "nonce": quantity(account.nonce),
            "storageHash": data(account.storage_root),
            "storageProof": storage_proofs,
        }
