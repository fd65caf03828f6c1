"""``DatanetRegistry``: community datasets whose approved contributions are versioned on-chain.

Contributions carry a content hash (the bytes live off-chain, content-addressed) and a stake
that approval returns and rejection slashes; every approval publishes a new version whose
Merkle root proves membership of each approved contribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from openledger.contracts.artifacts import DATANET_REGISTRY
from openledger.contracts.client import ContractClient, Transacted
from openledger.contracts.transactor import Receipt
from openledger.types import Wei


class ContributionStatus(IntEnum):
    """Mirrors ``DatanetRegistry.Status``, in declaration order (``NONE``: no such id)."""

    NONE = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3


@dataclass(frozen=True)
class Datanet:
    datanet_id: int
    owner: str
    metadata_uri: str
    contribution_stake: Wei
    """What each contribution must send along; returned on approval, slashed on rejection."""
    latest_version: int
    """0 until the first approval publishes version 1."""
    approved_count: int


@dataclass(frozen=True)
class Contribution:
    contribution_id: int
    datanet_id: int
    contributor: str
    content_hash: bytes
    """32 bytes identifying the off-chain content."""
    uri: str
    size: int
    """Bytes of the content."""
    stake: Wei
    status: ContributionStatus
    approved_in_version: int
    """The first version containing it; 0 unless approved."""
    leaf_index: int
    """Its position in the datanet's Merkle tree (meaningful once approved)."""


@dataclass(frozen=True)
class DatanetVersion:
    datanet_id: int
    version: int
    merkle_root: bytes
    """Root over the approved contributions of this version (see docs/contracts.md)."""
    contribution_count: int


def _datanet(datanet_id: int, raw: Any) -> Datanet:
    return Datanet(
        datanet_id=datanet_id,
        owner=raw.owner,
        metadata_uri=raw.metadataURI,
        contribution_stake=Wei(raw.contributionStake),
        latest_version=int(raw.latestVersion),
        approved_count=int(raw.approvedCount),
    )


def _contribution(contribution_id: int, raw: Any) -> Contribution:
    return Contribution(
        contribution_id=contribution_id,
        datanet_id=int(raw.datanetId),
        contributor=raw.contributor,
        content_hash=bytes(raw.contentHash),
        uri=raw.uri,
        size=int(raw.size),
        stake=Wei(raw.stake),
        status=ContributionStatus(raw.status),
        approved_in_version=int(raw.approvedInVersion),
        leaf_index=int(raw.leafIndex),
    )


class DatanetRegistryClient(ContractClient):
    NAME = DATANET_REGISTRY

    def create_datanet(self, metadata_uri: str, contribution_stake: Wei) -> Transacted[int]:
        """Create a datanet owned by the sender; the value is its id."""
        receipt = self._send(
            self.contract.functions.createDatanet(metadata_uri, contribution_stake)
        )
        return Transacted(int(receipt.event("DatanetCreated").args["datanetId"]), receipt)

    def add_curator(self, datanet_id: int, curator: str) -> Receipt:
        return self._send(self.contract.functions.addCurator(datanet_id, curator))

    def remove_curator(self, datanet_id: int, curator: str) -> Receipt:
        return self._send(self.contract.functions.removeCurator(datanet_id, curator))

    def contribute(
        self,
        datanet_id: int,
        content_hash: bytes,
        uri: str,
        size: int,
        stake: Wei | None = None,
    ) -> Transacted[int]:
        """Submit content; ``stake`` defaults to the datanet's required stake (read first)."""
        if stake is None:
            stake = self.datanet(datanet_id).contribution_stake
        receipt = self._send(
            self.contract.functions.contribute(datanet_id, content_hash, uri, size), stake
        )
        event = receipt.event("ContributionSubmitted")
        return Transacted(int(event.args["contributionId"]), receipt)

    def approve(self, contribution_ids: Sequence[int]) -> Transacted[DatanetVersion]:
        """Approve pending contributions of one datanet (curators only); returns their stakes
        and publishes one new version, which is the value."""
        receipt = self._send(self.contract.functions.approve(list(contribution_ids)))
        event = receipt.event("VersionPublished").args
        version = DatanetVersion(
            int(event["datanetId"]),
            int(event["version"]),
            bytes(event["merkleRoot"]),
            int(event["contributionCount"]),
        )
        return Transacted(version, receipt)

    def reject(self, contribution_id: int, reason: str) -> Receipt:
        """Reject (curators only); the stake goes to the treasury."""
        return self._send(self.contract.functions.reject(contribution_id, reason))

    def withdraw(self) -> Transacted[Wei]:
        """Pull returned stakes (contributors) or slashed ones (treasury); value: the amount."""
        receipt = self._send(self.contract.functions.withdraw())
        return Transacted(Wei(int(receipt.event("Withdrawn").args["amount"])), receipt)

    def withdrawable(self, account: str) -> Wei:
        return Wei(int(self._view(self.contract.functions.withdrawable(account))))

    def datanet_count(self) -> int:
        return int(self._view(self.contract.functions.datanetCount()))

    def datanet(self, datanet_id: int) -> Datanet:
        return _datanet(datanet_id, self._view(self.contract.functions.getDatanet(datanet_id)))

    def contribution(self, contribution_id: int) -> Contribution:
        raw = self._view(self.contract.functions.getContribution(contribution_id))
        return _contribution(contribution_id, raw)

    def contribution_ids(self, datanet_id: int) -> list[int]:
        return [int(i) for i in self._view(self.contract.functions.contributionsOf(datanet_id))]

    def approved_contribution_ids(self, datanet_id: int) -> list[int]:
        """In leaf order: the order a Merkle proof builder needs."""
        raw = self._view(self.contract.functions.approvedContributionsOf(datanet_id))
        return [int(i) for i in raw]

    def contribution_ids_by(self, contributor: str) -> list[int]:
        raw = self._view(self.contract.functions.contributionsByContributor(contributor))
        return [int(i) for i in raw]

    def version(self, datanet_id: int, version: int) -> DatanetVersion:
        raw = self._view(self.contract.functions.getVersion(datanet_id, version))
        return DatanetVersion(
            datanet_id, version, bytes(raw.merkleRoot), int(raw.contributionCount)
        )

    def leaf_of(self, contribution_id: int) -> bytes:
        return bytes(self._view(self.contract.functions.leafOf(contribution_id)))

    def verify_contribution(
        self, datanet_id: int, version: int, contribution_id: int, proof: Sequence[bytes]
    ) -> bool:
        function = self.contract.functions.verifyContribution(
            datanet_id, version, contribution_id, list(proof)
        )
        return bool(self._view(function))

    def is_curator(self, datanet_id: int, account: str) -> bool:
        return bool(self._view(self.contract.functions.isCurator(datanet_id, account)))
