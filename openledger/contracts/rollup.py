"""Where a network's contracts are: the node's ``openledger_rollupConfig`` answer, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from openledger.contracts.exceptions import NotDeployed, RpcFailed
from openledger.contracts.transactor import Transactor

DEVNET_CHAIN_ID = 901
"""The local devnet's L2 chain id (DESIGN.md); the CLI signs with dev account 0 there."""


@dataclass(frozen=True)
class RollupConfig:
    chain_id: int
    l2_contracts: Mapping[str, str]
    """Contract name -> checksum address; empty if the node has not deployed them."""

    def address(self, name: str) -> str:
        """The address of ``name`` or a :class:`NotDeployed` that says which node lacks it."""
        address = self.l2_contracts.get(name)
        if address is None:
            raise NotDeployed(
                f"the node reports no {name} contract (openledger_rollupConfig lists "
                f"{', '.join(sorted(self.l2_contracts)) or 'none'})"
            )
        return address


def parse_rollup_config(raw: Any) -> RollupConfig:
    """Check the shape of the RPC answer; a malformed one is the node's fault, said so."""
    try:
        chain_id = raw["chainId"]
        contracts = raw.get("l2Contracts") or {}
        return RollupConfig(
            int(chain_id, 16) if isinstance(chain_id, str) else int(chain_id),
            {str(name): to_checksum_address(addr) for name, addr in contracts.items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RpcFailed(f"malformed openledger_rollupConfig answer: {raw!r}") from exc


def fetch_rollup_config(transactor: Transactor) -> RollupConfig:
    return parse_rollup_config(transactor.request("openledger_rollupConfig", []))
