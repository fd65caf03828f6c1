"""Command-line value parsing: amounts are exact integers of wei, hashes exactly 32 bytes."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest

from openledger.cli import build_parser
from openledger.contracts.cli import (
    content_hash,
    default_key,
    parse_address,
    parse_bytes32,
    parse_wei,
)


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("0", 0),
        ("1000", 1000),
        ("1_000", 1000),
        ("2gwei", 2 * 10**9),
        ("1.5ether", 15 * 10**17),
        ("10 OPEN", 10 * 10**18),
        ("0.000000000000000001ether", 1),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_parse_wei(text: str, wei: int) -> None:
    assert parse_wei(text) == wei


@pytest.mark.parametrize(
    "text", ["1.5", "0.0000000000000000001ether", "-1", "ten", "1e", "", "inf", "nan"]
)
def test_parse_wei_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_wei(text)


def test_parse_bytes32() -> None:
    assert parse_bytes32("0x" + "ab" * 32) == b"\xab" * 32
    with pytest.raises(argparse.ArgumentTypeError, match="32 bytes"):
        parse_bytes32("0xabcd")
    with pytest.raises(argparse.ArgumentTypeError, match="not hex"):
        parse_bytes32("0x" + "zz" * 32)


def test_parse_address() -> None:
    lower = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert parse_address(lower) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    with pytest.raises(argparse.ArgumentTypeError):
        parse_address("0x1234")


def test_content_hash_is_sha256_and_size(tmp_path: Path) -> None:
    data = b"hello datanet" * 100_000
    path = tmp_path / "sample.txt"
    path.write_bytes(data)
    assert content_hash(path) == (hashlib.sha256(data).digest(), len(data))


def test_default_key_only_on_the_devnet() -> None:
    key = default_key(901)
    assert key is not None
    assert key.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert default_key(1) is None


def test_commands_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["datanet", "approve", "1", "2", "--rpc", "http://x:1"])
    assert args.contribution_ids == [1, 2]
    assert args.rpc == "http://x:1"
    args = parser.parse_args(["datanet", "create", "ipfs://meta", "--stake", "1ether"])
    assert args.stake == 10**18
