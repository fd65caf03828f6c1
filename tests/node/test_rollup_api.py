"""``openledger_rollupConfig``: chain id as a quantity, contracts by name in checksum form."""

from __future__ import annotations

from eth_utils import to_canonical_address

from node.rpc.rollup_api import RollupApi
from openledger.types import Address
from tests.node.conftest import Node

REGISTRY = Address(to_canonical_address("0x5fbdb2315678afecb367f032d93f642f64180aa3"))


def test_empty_until_contracts_exist() -> None:
    assert RollupApi(901).rollup_config() == {"chainId": "0x385", "l2Contracts": {}}


def test_addresses_are_read_at_call_time() -> None:
    deployed: dict[str, Address] = {}
    api = RollupApi(901, lambda: deployed)
    deployed["DatanetRegistry"] = REGISTRY
    assert api.rollup_config()["l2Contracts"] == {
        "DatanetRegistry": "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    }


def test_registered_on_the_server(node: Node) -> None:
    assert node.rpc("openledger_rollupConfig") == {"chainId": "0x385", "l2Contracts": {}}
