"""Revert data → :class:`DecodedRevert`, using the custom errors declared in the ABIs.

Pure functions: the transactor hands in the bytes it got from the node, so these are tested
with table tests and no chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from openledger.contracts.exceptions import DecodedRevert

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
"""``Error(string)``: what ``require(cond, "reason")`` and ``revert("reason")`` produce."""
PANIC_SELECTOR = bytes.fromhex("4e487b71")
"""``Panic(uint256)``: compiler-inserted checks (Solidity >= 0.8.0)."""

PANIC_CODES: Mapping[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array encoding",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function pointer",
}
"""From the Solidity documentation, "Panic via assert and Error via require"."""


@dataclass(frozen=True)
class ErrorAbi:
    """One ``"type": "error"`` ABI entry, reduced to what decoding needs."""

    name: str
    names: tuple[str, ...]
    """Parameter names (``arg<i>`` where the source left one unnamed)."""
    types: tuple[str, ...]
    """Canonical ABI types; tuples written out as ``(t1,t2)``."""

    @property
    def selector(self) -> bytes:
        return keccak(text=f"{self.name}({','.join(self.types)})")[:4]


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def error_table(abis: Iterable[Iterable[Mapping[str, Any]]]) -> dict[bytes, ErrorAbi]:
    """Every custom error of the given ABIs by selector (identical errors merge)."""
    table: dict[bytes, ErrorAbi] = {}
    for abi in abis:
        for entry in abi:
            if entry.get("type") != "error":
                continue
            inputs = entry.get("inputs", [])
            error = ErrorAbi(
                str(entry["name"]),
                tuple(str(p.get("name") or f"arg{i}") for i, p in enumerate(inputs)),
                tuple(_abi_type(p) for p in inputs),
            )
            table[error.selector] = error
    return table


def _pythonic(abi_type: str, value: Any) -> Any:
    """Addresses as checksum strings so that a message reads like a block explorer."""
    if abi_type == "address":
        return to_checksum_address(value)
    return value


def decode_revert(data: bytes, errors: Mapping[bytes, ErrorAbi]) -> DecodedRevert | None:
    """Decode ``data`` or return ``None`` if it is empty or matches nothing known."""
    if len(data) < 4:
        return None
    selector, body = data[:4], data[4:]
    try:
        if selector == ERROR_STRING_SELECTOR:
            (reason,) = abi_decode(["string"], body)
            return DecodedRevert("Error", (("reason", reason),), data)
        if selector == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], body)
            meaning = PANIC_CODES.get(code, "unknown panic code")
            return DecodedRevert("Panic", (("code", hex(code)), ("meaning", meaning)), data)
        error = errors.get(selector)
        if error is None:
            return None
        values = abi_decode(list(error.types), body)
    except DecodingError:
        return None
    args = tuple(
        (name, _pythonic(kind, value))
        for name, kind, value in zip(error.names, error.types, values, strict=True)
    )
    return DecodedRevert(error.name, args, data)
