"""Parsing and formatting of the JSON-RPC wire types: quantities, data, addresses, block ids.

Every parser raises :class:`~node.rpc.errors.RpcError` with code -32602 and a message naming
the bad argument, so a handler never has to validate its own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.rpc.errors import invalid_params

BLOCK_TAGS = frozenset({"latest", "earliest", "pending", "safe", "finalized"})
MAX_UINT256 = 2**256 - 1


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + value.hex()


def parse_quantity(value: Any, name: str, *, maximum: int = MAX_UINT256) -> int:
    """A hex quantity (``0x1a``); plain integers are accepted as geth does for JSON numbers."""
    if isinstance(value, bool):
        raise invalid_params(f"invalid argument {name}: expected hex quantity, got bool")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) > 2:
        try:
            number = int(value[2:], 16)
        except ValueError:
            raise invalid_params(f"invalid argument {name}: bad hex quantity {value!r}") from None
    else:
        raise invalid_params(f"invalid argument {name}: expected hex quantity, got {value!r}")
    if number < 0 or number > maximum:
        raise invalid_params(f"invalid argument {name}: quantity {value!r} out of range")
    return number


def parse_data(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise invalid_params(f"invalid argument {name}: expected 0x-prefixed hex data")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise invalid_params(f"invalid argument {name}: bad hex data") from None


def parse_fixed(value: Any, name: str, size: int) -> bytes:
    raw = parse_data(value, name)
    if len(raw) != size:
        raise invalid_params(f"invalid argument {name}: expected {size} bytes, got {len(raw)}")
    return raw


def parse_address(value: Any, name: str) -> bytes:
    return parse_fixed(value, name, 20)


def parse_hash(value: Any, name: str) -> bytes:
    return parse_fixed(value, name, 32)


def parse_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_params(f"invalid argument {name}: expected boolean")
    return value


@dataclass(frozen=True)
class BlockId:
    """A block named by tag, number or hash (EIP-1898 objects included)."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False


def parse_block_id(value: Any, name: str = "block") -> BlockId:
    if value is None:
        return BlockId(tag="latest")
    if isinstance(value, str):
        if value in BLOCK_TAGS:
            return BlockId(tag=value)
        if len(value) == 66:
            return BlockId(hash=parse_hash(value, name))
        return BlockId(number=parse_quantity(value, name, maximum=2**63 - 1))
    if isinstance(value, dict):
        if "blockHash" in value:
            canonical = value.get("requireCanonical", False)
            return BlockId(
                hash=parse_hash(value["blockHash"], name),
                require_canonical=parse_bool(canonical, f"{name}.requireCanonical"),
            )
        if "blockNumber" in value:
            return parse_block_id(value["blockNumber"], name)
    raise invalid_params(f"invalid argument {name}: expected block number, tag or hash")
