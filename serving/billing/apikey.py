"""API keys that are signed spending sessions: `ol1_` + base64url(abi.encode(session, signature)).

The key a user sends as `Authorization: Bearer <key>` *is* its permission to be charged: the
EIP-712 `SpendingSession` and the user's signature over it, so the service needs no account
database and the operator can settle with exactly what the user signed. The body is the
standard ABI encoding of `((address,address,uint256,uint256,uint64,uint256), bytes)`, so any
Ethereum library decodes it in one call (ethers: `AbiCoder.defaultAbiCoder().decode(...)`);
base64url without padding keeps it header- and shell-safe. `ol1` versions the format.

Make one from the command line with `python -m serving.billing.keygen` (see there).
"""

from __future__ import annotations

import base64
import binascii
import secrets

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from openledger.contracts.payments import (
    ANY_ADAPTER,
    EIP712_NAME,
    EIP712_VERSION,
    SESSION_TYPES,
    Session,
    SignedSession,
    sign_session,
)
from openledger.types import Wei

PREFIX = "ol1_"
KEY_TYPES = ("(address,address,uint256,uint256,uint64,uint256)", "bytes")


class MalformedKey(ValueError):
    """Not an `ol1_` key, or its body does not decode to a session and a signature."""


def encode_api_key(signed: SignedSession) -> str:
    raw = abi_encode(list(KEY_TYPES), [signed.session.as_abi(), signed.signature])
    return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_api_key(key: str) -> SignedSession:
    """The session and signature in `key`; raises `MalformedKey` (says what is wrong)."""
    if not key.startswith(PREFIX):
        raise MalformedKey(f"an API key starts with {PREFIX!r}")
    body = key[len(PREFIX) :]
    try:
        standard = body.replace("-", "+").replace("_", "/") + "=" * (-len(body) % 4)
        raw = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedKey("the key is not base64url") from exc
    try:
        (user, operator, adapter_id, max_total, expiry, nonce), signature = abi_decode(
            list(KEY_TYPES), raw
        )
    except (DecodingError, OverflowError) as exc:
        raise MalformedKey("the key does not hold a spending session") from exc
    session = Session(
        to_checksum_address(user),
        to_checksum_address(operator),
        int(adapter_id),
        Wei(int(max_total)),
        int(expiry),
        int(nonce),
    )
    signed = SignedSession(session, bytes(signature))
    if encode_api_key(signed) != key:  # one key per session: no padding or trailing tricks
        raise MalformedKey("the key is not canonically encoded")
    return signed


def _signable(session: Session, chain_id: int, contract: str) -> SignableMessage:
    domain = {
        "name": EIP712_NAME,
        "version": EIP712_VERSION,
        "chainId": chain_id,
        "verifyingContract": contract,
    }
    return encode_typed_data(domain, SESSION_TYPES, session.message())


def session_digest(session: Session, chain_id: int, contract: str) -> bytes:
    """The EIP-712 digest, equal to the contract's `hashSession`: the session's identity."""
    message = _signable(session, chain_id, contract)
    return keccak(b"\x19" + message.version + message.header + message.body)


def recover_signer(signed: SignedSession, chain_id: int, contract: str) -> str | None:
    """Who signed the session (checksum address), None for an unusable signature. Contract
    wallets (ERC-1271) are not recovered here."""
    try:
        signer = Account.recover_message(
            _signable(signed.session, chain_id, contract), signature=signed.signature
        )
    except Exception:  # eth-keys raises several types for malformed signatures
        return None
    return str(signer)


def make_api_key(
    user: LocalAccount,
    operator: str,
    chain_id: int,
    payments_address: str,
    max_total: Wei,
    expiry: int,
    adapter_id: int = ANY_ADAPTER,
    nonce: int | None = None,
) -> str:
    """Sign a session for `operator` and encode it; a random 128-bit nonce unless given."""
    session = Session(
        user.address,
        to_checksum_address(operator),
        adapter_id,
        max_total,
        expiry,
        secrets.randbits(128) if nonce is None else nonce,
    )
    return encode_api_key(sign_session(user, session, chain_id, payments_address))
