"""The primitive encodings every batch format is built from: unsigned varints and bit fields.

Why varints (LEB128, as in protobuf and OP's span batches): nonces, gas limits, fees and counts
are small numbers most of the time, and a varint spends one byte on values below 128 instead of
a fixed width. The reader refuses non-minimal varints so that every value has exactly one
encoding, which keeps "decode then encode" byte-identical.
"""

from __future__ import annotations

from openledger.batch.exceptions import BatchDecodeError

MAX_UVARINT_BYTES = 40
"""Enough for any 256-bit value (37 bytes of 7 bits); longer varints are refused at once."""


def write_uvarint(out: bytearray, value: int) -> None:
    """Append ``value`` (>= 0) as an unsigned LEB128 varint."""
    if value < 0:
        raise ValueError(f"uvarint of a negative number: {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def pack_bits(bits: list[bool]) -> bytes:
    """Bit ``i`` is bit ``i % 8`` (least significant first) of byte ``i // 8``; padding is zero."""
    out = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            out[index >> 3] |= 1 << (index & 7)
    return bytes(out)


class Reader:
    """A cursor over bytes whose every read checks the bounds and raises BatchDecodeError."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def read(self, size: int, what: str) -> bytes:
        if size > self.remaining:
            raise BatchDecodeError(f"truncated {what}: need {size} bytes, {self.remaining} left")
        chunk = bytes(self._data[self._pos : self._pos + size])
        self._pos += size
        return chunk

    def read_byte(self, what: str) -> int:
        return self.read(1, what)[0]

    def read_uint(self, size: int, what: str) -> int:
        """A fixed-width big-endian unsigned integer."""
        return int.from_bytes(self.read(size, what), "big")

    def read_uvarint(self, what: str) -> int:
        value = 0
        for index in range(MAX_UVARINT_BYTES):
            byte = self.read_byte(what)
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if byte == 0 and index > 0:
                    raise BatchDecodeError(f"non-minimal varint in {what}")
                return value
        raise BatchDecodeError(f"varint too long in {what}")

    def read_count(self, what: str, min_bytes_each: float) -> int:
        """A varint count of items that each take at least ``min_bytes_each`` bytes further on.

        Bounding counts by the bytes left stops a crafted count from making the reader loop or
        allocate far beyond the (already bounded) input.
        """
        count = self.read_uvarint(what)
        if count * min_bytes_each > self.remaining:
            raise BatchDecodeError(f"{what} {count} exceeds the {self.remaining} bytes left")
        return count

    def read_bits(self, count: int, what: str) -> list[bool]:
        packed = self.read((count + 7) // 8, what)
        bits = [bool(packed[i >> 3] >> (i & 7) & 1) for i in range(count)]
        if pack_bits(bits) != packed:
            raise BatchDecodeError(f"non-zero padding bits in {what}")
        return bits

    def expect_end(self, what: str) -> None:
        if self.remaining:
            raise BatchDecodeError(f"{self.remaining} trailing bytes after {what}")
