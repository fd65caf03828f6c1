"""Varints and bit fields: one encoding per value, and every malformed read is a decode error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openledger.batch import BatchDecodeError
from openledger.batch.wire import Reader, pack_bits, write_uvarint


@given(st.integers(0, 2**256 - 1))
def test_uvarint_round_trips(value: int) -> None:
    out = bytearray()
    write_uvarint(out, value)
    reader = Reader(bytes(out))
    assert reader.read_uvarint("value") == value
    reader.expect_end("value")


@given(st.lists(st.booleans(), max_size=40))
def test_bits_round_trip(bits: list[bool]) -> None:
    assert Reader(pack_bits(bits)).read_bits(len(bits), "bits") == bits


def test_small_values_take_one_byte() -> None:
    out = bytearray()
    write_uvarint(out, 127)
    write_uvarint(out, 128)
    assert bytes(out) == b"\x7f\x80\x01"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00", "non-minimal"),
        (b"\x80", "truncated"),
        (b"\xff" * 41, "too long"),
    ],
)
def test_bad_varints_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(BatchDecodeError, match=message):
        Reader(data).read_uvarint("value")


def test_reader_bounds() -> None:
    with pytest.raises(BatchDecodeError, match="non-zero padding"):
        Reader(b"\xff").read_bits(3, "bits")
    with pytest.raises(BatchDecodeError, match="exceeds"):
        Reader(b"\x05\x00").read_count("items", 1)
    with pytest.raises(BatchDecodeError, match="trailing"):
        Reader(b"\x00").expect_end("nothing")
    with pytest.raises(ValueError):
        write_uvarint(bytearray(), -1)
