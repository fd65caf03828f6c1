"""Sign transactions with the standard dev accounts, as a wallet would."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC

CHAIN_ID = 901
DEV = dev_accounts(DEV_MNEMONIC, 10)
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
GWEI = 10**9


def sign(account_index: int = 0, **fields: Any) -> bytes:
    """A signed EIP-1559 transfer by default; ``fields`` override anything (type 0/1 too)."""
    tx: dict[str, Any] = {
        "chainId": CHAIN_ID,
        "nonce": 0,
        "to": RECIPIENT,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 3 * GWEI,
        "maxPriorityFeePerGas": GWEI,
    }
    if "gasPrice" in fields:
        tx.pop("maxFeePerGas")
        tx.pop("maxPriorityFeePerGas")
    tx.update(fields)
    return bytes(Account.sign_transaction(tx, DEV[account_index].private_key).raw_transaction)
