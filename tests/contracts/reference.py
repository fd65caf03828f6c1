"""Off-chain reference for the Payable-AI contracts: the rules written again in plain Python.

The tests compare the contracts against these functions, so each rule of docs/contracts.md exists
twice, independently: the datanet Merkle tree (leaf encoding, sorted-pair hashing, zero padding
to a fixed depth), the fee split, and the EIP-712 spending session a wallet signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

MERKLE_DEPTH = 32
"""DatanetRegistry.MERKLE_DEPTH: every proof has exactly this many siblings."""
BPS = 10_000
"""InferencePayments.BPS."""
EIP712_NAME = "OpenLedger InferencePayments"
EIP712_VERSION = "1"
SESSION_FIELDS = [
    {"name": "user", "type": "address"},
    {"name": "operator", "type": "address"},
    {"name": "adapterId", "type": "uint256"},
    {"name": "maxTotal", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]


# --- datanet Merkle tree -------------------------------------------------------------------


def leaf_hash(
    datanet_id: int, contribution_id: int, contributor: str, content_hash: bytes
) -> bytes:
    """``keccak256(keccak256(abi.encode(datanetId, contributionId, contributor, contentHash)))``."""
    inner = keccak(
        encode(
            ["uint256", "uint256", "address", "bytes32"],
            [datanet_id, contribution_id, contributor, content_hash],
        )
    )
    return keccak(inner)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin ``Hashes.commutativeKeccak256``: the smaller word first."""
    return keccak(a + b) if a < b else keccak(b + a)


def _zero_hashes() -> list[bytes]:
    zeros = [bytes(32)]
    for _ in range(MERKLE_DEPTH):
        zeros.append(hash_pair(zeros[-1], zeros[-1]))
    return zeros


ZERO_HASHES = _zero_hashes()
"""``ZERO_HASHES[level]``: root of an empty subtree of height ``level`` (leaf: 32 zero bytes)."""


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the tree, bottom up, holding only the non-empty prefix of each level."""
    levels = [list(leaves)]
    for level in range(MERKLE_DEPTH):
        below = levels[-1]
        if len(below) % 2:
            below = [*below, ZERO_HASHES[level]]
        levels.append([hash_pair(below[i], below[i + 1]) for i in range(0, len(below), 2)])
    return levels


def merkle_root(leaves: list[bytes]) -> bytes:
    """Root over ``leaves`` (in approval order) padded with zero leaves to 2**MERKLE_DEPTH."""
    if not leaves:
        return ZERO_HASHES[MERKLE_DEPTH]
    return _levels(leaves)[-1][0]


def merkle_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """The MERKLE_DEPTH siblings of ``leaves[index]``, bottom up, for ``MerkleProof.verify``."""
    proof = []
    for level, nodes in enumerate(_levels(leaves)[:MERKLE_DEPTH]):
        sibling = index ^ 1
        proof.append(nodes[sibling] if sibling < len(nodes) else ZERO_HASHES[level])
        index //= 2
    return proof


# --- fee split -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    owner: int
    treasury: int
    shares: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.owner + self.treasury + sum(self.shares)


def split_fee(fee: int, owner_bps: int, treasury_bps: int, weights: list[int]) -> Split:
    """Owner and treasury round down; the contributors' pool is the rest, pro rata to weight,
    and its remainder goes to the largest weight (the first on a tie)."""
    owner = fee * owner_bps // BPS
    treasury = fee * treasury_bps // BPS
    pool = fee - owner - treasury
    total = sum(weights)
    shares = [pool * w // total for w in weights]
    largest = max(range(len(weights)), key=lambda i: (weights[i], -i))
    shares[largest] += pool - sum(shares)
    return Split(owner, treasury, tuple(shares))


# --- EIP-712 spending sessions -------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    user: str
    operator: str
    adapter_id: int
    max_total: int
    expiry: int
    nonce: int

    def as_tuple(self) -> tuple[Any, ...]:
        """The ``SpendingSession`` struct as web3 encodes it."""
        return (
            self.user,
            self.operator,
            self.adapter_id,
            self.max_total,
            self.expiry,
            self.nonce,
        )

    def typed_data(self, chain_id: int, contract: str) -> dict[str, Any]:
        """The full EIP-712 message a wallet (``eth_signTypedData_v4``) signs."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "SpendingSession": SESSION_FIELDS,
            },
            "primaryType": "SpendingSession",
            "domain": {
                "name": EIP712_NAME,
                "version": EIP712_VERSION,
                "chainId": chain_id,
                "verifyingContract": contract,
            },
            "message": {
                "user": self.user,
                "operator": self.operator,
                "adapterId": self.adapter_id,
                "maxTotal": self.max_total,
                "expiry": self.expiry,
                "nonce": self.nonce,
            },
        }


def sign_session(signer: LocalAccount, session: Session, chain_id: int, contract: str) -> bytes:
    """The 65-byte signature over ``session`` as a wallet produces it."""
    signed = Account.sign_typed_data(
        signer.key, full_message=session.typed_data(chain_id, contract)
    )
    return bytes(signed.signature)
