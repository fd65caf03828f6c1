"""The chain reads behind the page's JSON routes, as plain JSON-ready dicts.

Blocking (JSON-RPC through web3), so the routes run them in a thread. Amounts are decimal
strings of wei: JavaScript numbers lose precision above 2**53 wei (0.009 OPEN), and the page
formats them with BigInt.
"""

from __future__ import annotations

from typing import Any

from eth_utils import is_address, to_checksum_address

from openledger.contracts.datanets import Contribution, DatanetRegistryClient
from serving.chain import ChainClients
from serving.factory.data.store import InvalidContentHash, normalize_sha256

UINT64_MAX = 2**64 - 1
"""`contribute`'s `size` is a `uint64`."""


class UnknownDatanet(LookupError):
    """No datanet has this id (ids run from 1 to `datanetCount`)."""


class InvalidField(ValueError):
    """A request value the chain would refuse; `param` names it as the request did."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def checksum_address(value: str, param: str = "address") -> str:
    if not is_address(value):
        raise InvalidField(param, f"{param} must be a 20-byte hex address, not {value!r}")
    return str(to_checksum_address(value))


def parse_sha256(value: str) -> bytes:
    """32 bytes from 64 hex digits, with or without `0x` (the contribution store's names)."""
    try:
        return bytes.fromhex(normalize_sha256(value))
    except InvalidContentHash:
        raise InvalidField("sha256", f"sha256 must be 64 hex digits, not {value!r}") from None


def parse_size(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= UINT64_MAX:
        raise InvalidField("size", f"size must be a byte count from 1 to 2**64-1, not {value!r}")
    return int(value)


def _known(datanets: DatanetRegistryClient, datanet_id: int) -> None:
    """Reading an absent id reverts; a clear 404 is better than a decoded revert."""
    if not 1 <= datanet_id <= datanets.datanet_count():
        raise UnknownDatanet(f"no datanet {datanet_id}")


def datanet_summary(datanets: DatanetRegistryClient, datanet_id: int) -> dict[str, Any]:
    datanet = datanets.datanet(datanet_id)
    return {
        "id": datanet_id,
        "owner": datanet.owner,
        "metadata_uri": datanet.metadata_uri,
        "contribution_stake": str(datanet.contribution_stake),
        "latest_version": datanet.latest_version,
        "approved_count": datanet.approved_count,
        "contribution_count": len(datanets.contribution_ids(datanet_id)),
    }


def list_datanets(datanets: DatanetRegistryClient) -> list[dict[str, Any]]:
    return [datanet_summary(datanets, i) for i in range(1, datanets.datanet_count() + 1)]


def contribution_object(contribution: Contribution) -> dict[str, Any]:
    return {
        "id": contribution.contribution_id,
        "contributor": contribution.contributor,
        "sha256": contribution.content_hash.hex(),
        "uri": contribution.uri,
        "size": contribution.size,
        "status": contribution.status.name.lower(),
        "stake": str(contribution.stake),
        "approved_in_version": contribution.approved_in_version,
    }


def datanet_detail(datanets: DatanetRegistryClient, datanet_id: int) -> dict[str, Any]:
    """The summary, every published version, and every contribution (any status)."""
    _known(datanets, datanet_id)
    summary = datanet_summary(datanets, datanet_id)
    versions = [datanets.version(datanet_id, v) for v in range(1, summary["latest_version"] + 1)]
    return {
        **summary,
        "versions": [
            {
                "version": v.version,
                "merkle_root": "0x" + v.merkle_root.hex(),
                "contribution_count": v.contribution_count,
            }
            for v in versions
        ],
        "contributions": [
            contribution_object(datanets.contribution(i))
            for i in datanets.contribution_ids(datanet_id)
        ],
    }


def rewards(chain: ChainClients, address: str) -> dict[str, Any]:
    """What `address` can claim now, and what it earned per datanet it contributed to
    (contributors are the only ones credited per datanet)."""
    address = checksum_address(address)
    contribution_ids = chain.datanets.contribution_ids_by(address)
    datanet_ids = sorted({chain.datanets.contribution(i).datanet_id for i in contribution_ids})
    return {
        "address": address,
        "claimable": str(chain.payments.rewards_of(address)),
        "earnings_by_datanet": [
            {"datanet_id": d, "earned": str(chain.payments.earnings_by_datanet(address, d))}
            for d in datanet_ids
        ],
        "contribution_ids": contribution_ids,
    }


def contribute_tx(
    chain: ChainClients, datanet_id: int, sha256: bytes, size: int, uri: str
) -> dict[str, Any]:
    """The unsigned `DatanetRegistry.contribute` call a browser wallet sends: the stake the
    datanet requires is its value, so the wallet needs nothing else from us."""
    datanets = chain.datanets
    _known(datanets, datanet_id)
    stake = datanets.datanet(datanet_id).contribution_stake
    data = datanets.contract.encode_abi("contribute", args=[datanet_id, sha256, uri, size])
    return {
        "to": datanets.address,
        "data": data,
        "value": str(stake),
        "chain_id": chain.transactor.chain_id(),
    }
