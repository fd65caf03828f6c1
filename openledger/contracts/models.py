"""``ModelRegistry``: base models and the LoRA adapters fine-tuned from them on a datanet version.

An adapter record pins what it was trained on (datanet id + version, and a manifest hash of
the exact contribution ids) and what one call costs, so a settlement can be checked against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from openledger.contracts.artifacts import MODEL_REGISTRY
from openledger.contracts.client import ContractClient, Transacted
from openledger.contracts.transactor import Receipt
from openledger.types import Wei

NO_MANIFEST = bytes(32)


def manifest_hash(contribution_ids: Iterable[int]) -> bytes:
    """keccak256(abi.encodePacked(uint256[] ids)) over the ids in ascending order: the
    concatenated 32-byte big-endian ids (`encodePacked` pads array elements and writes no
    length). Anyone can recompute it from an adapter's training manifest."""
    ids = sorted(contribution_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("a manifest lists each contribution once")
    return keccak(b"".join(i.to_bytes(32, "big") for i in ids))


@dataclass(frozen=True)
class BaseModel:
    base_model_id: int
    owner: str
    name: str
    weights_hash: bytes
    license_uri: str


@dataclass(frozen=True)
class Adapter:
    adapter_id: int
    owner: str
    base_model_id: int
    datanet_id: int
    datanet_version: int
    weights_hash: bytes
    uri: str
    price_per_call: Wei
    manifest_hash: bytes
    """Hash of the list of contribution ids the adapter was trained on."""
    deprecated: bool


def _adapter(adapter_id: int, raw: Any) -> Adapter:
    return Adapter(
        adapter_id=adapter_id,
        owner=raw.owner,
        base_model_id=int(raw.baseModelId),
        datanet_id=int(raw.datanetId),
        datanet_version=int(raw.datanetVersion),
        weights_hash=bytes(raw.weightsHash),
        uri=raw.uri,
        price_per_call=Wei(raw.pricePerCall),
        manifest_hash=bytes(raw.manifestHash),
        deprecated=bool(raw.deprecated),
    )


class ModelRegistryClient(ContractClient):
    NAME = MODEL_REGISTRY

    def register_base_model(
        self, name: str, weights_hash: bytes, license_uri: str
    ) -> Transacted[int]:
        receipt = self._send(
            self.contract.functions.registerBaseModel(name, weights_hash, license_uri)
        )
        return Transacted(int(receipt.event("BaseModelRegistered").args["baseModelId"]), receipt)

    def register_adapter(
        self,
        base_model_id: int,
        datanet_id: int,
        datanet_version: int,
        weights_hash: bytes,
        uri: str,
        price_per_call: Wei,
        manifest_hash: bytes = NO_MANIFEST,
    ) -> Transacted[int]:
        receipt = self._send(
            self.contract.functions.registerAdapter(
                base_model_id,
                datanet_id,
                datanet_version,
                weights_hash,
                uri,
                price_per_call,
                manifest_hash,
            )
        )
        return Transacted(int(receipt.event("AdapterRegistered").args["adapterId"]), receipt)

    def set_price(self, adapter_id: int, price_per_call: Wei) -> Receipt:
        return self._send(self.contract.functions.setPrice(adapter_id, price_per_call))

    def transfer(self, adapter_id: int, new_owner: str) -> Receipt:
        return self._send(self.contract.functions.transferAdapter(adapter_id, new_owner))

    def deprecate(self, adapter_id: int) -> Receipt:
        return self._send(self.contract.functions.deprecate(adapter_id))

    def base_model(self, base_model_id: int) -> BaseModel:
        raw = self._view(self.contract.functions.getBaseModel(base_model_id))
        return BaseModel(base_model_id, raw.owner, raw.name, bytes(raw.weightsHash), raw.licenseURI)

    def adapter(self, adapter_id: int) -> Adapter:
        return _adapter(adapter_id, self._view(self.contract.functions.getAdapter(adapter_id)))

    def base_model_count(self) -> int:
        return int(self._view(self.contract.functions.baseModelCount()))

    def base_models(self) -> list[BaseModel]:
        """Every base model, by id (ids start at 1)."""
        return [self.base_model(i) for i in range(1, self.base_model_count() + 1)]

    def adapter_count(self) -> int:
        return int(self._view(self.contract.functions.adapterCount()))

    def adapter_ids_of(self, owner: str) -> list[int]:
        return [int(i) for i in self._view(self.contract.functions.adaptersOf(owner))]

    def adapters(self) -> list[Adapter]:
        """Every adapter, by id (ids start at 1)."""
        return [self.adapter(i) for i in range(1, self.adapter_count() + 1)]
