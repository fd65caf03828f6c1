"""What a transaction cost its sender, on the node (gas + L1 data fee) and on anvil (gas)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def l1_fee(receipt: Mapping[str, Any]) -> int:
    """The receipt's ``l1Fee`` (OP's field); 0 on a chain without one, such as anvil."""
    value = receipt.get("l1Fee", 0)
    return int(value, 16) if isinstance(value, str) else int(value)


def fee_paid(receipt: Mapping[str, Any]) -> int:
    """Gas used at the effective gas price, plus the L1 data fee where the chain charges one."""
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"]) + l1_fee(receipt)
