"""``openledger_rollupConfig``: what a client needs to find this network's contracts.

The addresses come in as a callable rather than a value because the devnet deploys the
Payable-AI contracts only after its server is up (deployment needs a running node), and the
node must not know who deploys them: the sequencer hands in a getter over plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eth_utils import to_checksum_address

from node.rpc.codec import quantity
from openledger.types import Address

ContractAddresses = Callable[[], Mapping[str, Address]]
"""Contract name -> address; empty until the contracts are deployed."""


def no_contracts() -> Mapping[str, Address]:
    return {}


class RollupApi:
    def __init__(self, chain_id: int, l2_contracts: ContractAddresses = no_contracts) -> None:
        self.chain_id = chain_id
        self.l2_contracts = l2_contracts

    def handlers(self) -> dict[str, Any]:
        return {"openledger_rollupConfig": self.rollup_config}

    def rollup_config(self) -> dict[str, Any]:
        """``{chainId, l2Contracts: {name: checksum address}}``; chainId as a hex quantity."""
        return {
            "chainId": quantity(self.chain_id),
            "l2Contracts": {
                name: to_checksum_address(address)
                for name, address in sorted(self.l2_contracts().items())
            },
        }
