"""Revert data decoding: a table of the shapes a node returns, against a small ABI."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak

from openledger.contracts.exceptions import ContractReverted, DecodedRevert
from openledger.contracts.revert import (
    ERROR_STRING_SELECTOR,
    PANIC_SELECTOR,
    decode_revert,
    error_table,
)

ABI: list[dict[str, Any]] = [
    {
        "type": "error",
        "name": "DuplicateContribution",
        "inputs": [
            {"name": "datanetId", "type": "uint256"},
            {"name": "contentHash", "type": "bytes32"},
        ],
    },
    {
        "type": "error",
        "name": "NotCurator",
        "inputs": [{"name": "", "type": "address"}],
    },
    {
        "type": "error",
        "name": "BadSplit",
        "inputs": [
            {
                "name": "split",
                "type": "tuple",
                "components": [
                    {"name": "owner", "type": "uint16"},
                    {"name": "protocol", "type": "uint16"},
                ],
            },
            {"name": "ids", "type": "uint256[]"},
        ],
    },
    {"type": "function", "name": "approve", "inputs": [], "outputs": []},
]
TABLE = error_table([ABI])
ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


CASES = [
    pytest.param(
        selector("DuplicateContribution(uint256,bytes32)")
        + encode(["uint256", "bytes32"], [7, b"\xab" * 32]),
        "DuplicateContribution(datanetId=7, contentHash=0x" + "ab" * 32 + ")",
        id="custom error",
    ),
    pytest.param(
        selector("NotCurator(address)") + encode(["address"], [ALICE]),
        f"NotCurator(arg0={ALICE})",
        id="unnamed address parameter",
    ),
    pytest.param(
        selector("BadSplit((uint16,uint16),uint256[])")
        + encode(["(uint16,uint16)", "uint256[]"], [(9000, 2000), [1, 2]]),
        "BadSplit(split=[9000, 2000], ids=[1, 2])",
        id="tuple and array",
    ),
    pytest.param(
        ERROR_STRING_SELECTOR + encode(["string"], ["not yours"]),
        "Error(reason='not yours')",
        id="require string",
    ),
    pytest.param(
        PANIC_SELECTOR + encode(["uint256"], [0x11]),
        "Panic(code=0x11, meaning='arithmetic overflow or underflow')",
        id="panic",
    ),
]


@pytest.mark.parametrize(("data", "described"), CASES)
def test_decodes(data: bytes, described: str) -> None:
    decoded = decode_revert(data, TABLE)
    assert decoded is not None
    assert decoded.describe() == described
    assert decoded.data == data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x01\x02", id="shorter than a selector"),
        pytest.param(selector("Unknown()"), id="unknown selector"),
        pytest.param(selector("NotCurator(address)") + b"\x00" * 5, id="truncated arguments"),
    ],
)
def test_undecodable_is_none(data: bytes) -> None:
    assert decode_revert(data, TABLE) is None


def test_only_errors_enter_the_table() -> None:
    assert {e.name for e in TABLE.values()} == {"DuplicateContribution", "NotCurator", "BadSplit"}


def test_reverted_message_names_the_action() -> None:
    revert = DecodedRevert("NotCurator", (("curator", ALICE),), b"")
    error = ContractReverted("DatanetRegistry.approve", revert)
    assert str(error) == f"DatanetRegistry.approve reverted: NotCurator(curator={ALICE})"
    assert error.error_name == "NotCurator"
    bare = ContractReverted("DatanetRegistry.approve", None, "execution reverted")
    assert str(bare) == "DatanetRegistry.approve reverted: execution reverted"
    assert bare.error_name is None
