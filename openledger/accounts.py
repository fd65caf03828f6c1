"""The development accounts every Ethereum tool knows: derived from a BIP-39 mnemonic."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account

from openledger.types import Address

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class DevAccount:
    address: Address
    """20-byte canonical address."""
    private_key: bytes

    @property
    def checksum_address(self) -> str:
        return Account.from_key(self.private_key).address


def dev_accounts(mnemonic: str, count: int) -> list[DevAccount]:
    """Accounts ``m/44'/60'/0'/0/i`` for ``i < count``, as anvil and Hardhat derive them."""
    accounts = []
    for index in range(count):
        account = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        accounts.append(DevAccount(Address(bytes.fromhex(account.address[2:])), account.key))
    return accounts
