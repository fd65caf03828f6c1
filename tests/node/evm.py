"""Hand-assembled contracts for the RPC tests (there is no Solidity compiler in Python).

Each runtime is a few opcodes, written out with its mnemonics; :func:`deployable` wraps one in
the standard init code that copies it to memory and returns it.
"""

from __future__ import annotations

from eth_abi import encode

EMIT_TOPIC = bytes.fromhex("aa" * 32)
"""The topic the emitter logs under."""

EMITTER = bytes.fromhex(
    "36"
    "6000"
    "6000"
    "37"  # CALLDATACOPY(mem 0, calldata 0, CALLDATASIZE)
    "7f"
    + EMIT_TOPIC.hex()  # PUSH32 topic
    + "36"
    "6000"
    "a1"  # LOG1(mem 0, CALLDATASIZE, topic)
    "6001"
    "6000"
    "55"  # SSTORE(slot 0, 1)
    "36"
    "6000"
    "f3"  # RETURN(mem 0, CALLDATASIZE): echo the calldata
)
"""Logs its calldata under ``EMIT_TOPIC``, sets slot 0 to 1, and returns the calldata."""

REVERT_REASON = "nope"
REVERT_DATA = bytes.fromhex("08c379a0") + encode(["string"], [REVERT_REASON])
"""``Error("nope")``: 4 + 96 bytes, as Solidity's ``revert("nope")`` encodes it."""


def _reverter() -> bytes:
    padded = REVERT_DATA.ljust(128, b"\x00")
    code = b""
    for word in range(4):
        # PUSH32 word, PUSH1 offset, MSTORE
        code += b"\x7f" + padded[word * 32 : (word + 1) * 32] + bytes([0x60, word * 32, 0x52])
    # PUSH1 len, PUSH1 0, REVERT
    return code + bytes([0x60, len(REVERT_DATA), 0x60, 0x00, 0xFD])


REVERTER = _reverter()
"""Reverts every call with ``REVERT_DATA``."""


def caller(emitter: bytes, reverter: bytes) -> bytes:
    """CALLs ``emitter`` with its own calldata, then STATICCALLs ``reverter``; returns 32 bytes."""
    return bytes.fromhex(
        "36"
        "6000"
        "6000"
        "37"  # CALLDATACOPY(mem 0, calldata 0, CALLDATASIZE)
        "6020"
        "6000"
        "36"
        "6000"
        "6000"  # retSize 32, retOffset 0, argsSize, argsOffset 0, value 0
        "73"
        + emitter.hex()  # PUSH20 emitter
        + "5a"
        "f1"
        "50"  # GAS, CALL, POP
        "6000"
        "6000"
        "6000"
        "6000"  # retSize, retOffset, argsSize, argsOffset: all 0
        "73"
        + reverter.hex()  # PUSH20 reverter
        + "5a"
        "fa"
        "50"  # GAS, STATICCALL, POP
        "6020"
        "6000"
        "f3"  # RETURN(mem 0, 32)
    )


def deployable(runtime: bytes) -> bytes:
    """Init code returning ``runtime``: CODECOPY(0, 12, len); RETURN(0, len)."""
    size = len(runtime).to_bytes(2, "big").hex()
    init = bytes.fromhex(
        "61"
        + size  # PUSH2 len
        + "80"  # DUP1
        "600c"  # PUSH1 12 (this init code's length)
        "6000"  # PUSH1 0
        "39"  # CODECOPY(mem 0, code 12, len)
        "6000"  # PUSH1 0
        "f3"  # RETURN(mem 0, len)
    )
    return init + runtime
