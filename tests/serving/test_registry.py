"""The on-chain catalogue against a devnet: what it lists, what it refuses, how it follows the
chain. Adapter files are a few random bytes: the catalogue and the manager's `register` only
hash and copy them."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from openledger.contracts.models import ModelRegistryClient
from serving.api.ports import UnknownModel
from serving.catalog import CatalogError, ContentStore, OnChainCatalog
from serving.chain import connect_contracts
from serving.lora.layers import BatchMapping, wrap_lora_layers
from serving.lora.manager import AdapterManager
from serving.lora.slots import AdapterSlots
from tests.helpers.devnet import Devnet
from tests.helpers.waiting import wait_for
from tests.serving.onchain import DEV, Datanet, approved_datanet, clients, fake_adapter

pytestmark = pytest.mark.slow

PRICE = 10**15
BASE_WEIGHTS = b"tiny base model weights"


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(tmp_path_factory.mktemp("catalog") / "datadir").start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def owner(devnet: Devnet) -> ModelRegistryClient:
    return clients(devnet, DEV[0]).models


@pytest.fixture(scope="module")
def datanet(devnet: Devnet) -> Datanet:
    return approved_datanet(devnet, DEV[0], [DEV[1], DEV[2]])


@pytest.fixture(scope="module")
def base_id(owner: ModelRegistryClient) -> int:
    digest = hashlib.sha256(BASE_WEIGHTS).digest()
    return owner.register_base_model("tiny-gpt2", digest, "ipfs://license").value


def manager(store: Path) -> AdapterManager:
    """A real manager over one tiny wrapped layer; these tests never load weights."""
    model = torch.nn.ModuleDict({"proj": torch.nn.Linear(4, 4)})
    layers = wrap_lora_layers(model, ["proj"], max_slots=2, max_rank=4, mapping=BatchMapping())
    return AdapterManager(AdapterSlots(layers), store, host_capacity=1)


def register(
    owner: ModelRegistryClient, base_id: int, datanet: Datanet, digest: bytes, uri: str
) -> int:
    return owner.register_adapter(
        base_id, datanet.datanet_id, datanet.version, digest, uri, PRICE
    ).value


def catalog_for(devnet: Devnet, base_id: int, tmp_path: Path, source: Path) -> OnChainCatalog:
    reader = connect_contracts(devnet.url).models  # as a remote node: no key, no datadir
    return OnChainCatalog(
        reader,
        manager(tmp_path / "store"),
        base_id,
        weights=ContentStore(source),
        base_weights_sha256=hashlib.sha256(BASE_WEIGHTS).hexdigest(),
        refresh_s=0.1,
    )


def test_lists_servable_adapters_and_refuses_a_wrong_hash(
    devnet: Devnet, owner: ModelRegistryClient, datanet: Datanet, base_id: int, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    _, good_hash = fake_adapter(source / "good")
    (source / "good").rename(source / good_hash.hex())
    good = register(owner, base_id, datanet, good_hash, "ipfs://good-adapter")
    # Weights stored under the on-chain hash, but they are not those weights.
    wrong_hash = hashlib.sha256(b"what the owner registered").digest()
    fake_adapter(source / wrong_hash.hex(), b"something else")
    wrong = register(owner, base_id, datanet, wrong_hash, "ipfs://wrong-adapter")
    absent = register(owner, base_id, datanet, b"\x01" * 32, "ipfs://absent")
    other_base = owner.register_base_model("other", b"\x02" * 32, "ipfs://l").value
    foreign = register(owner, other_base, datanet, good_hash, "ipfs://foreign")
    deprecated = register(owner, base_id, datanet, good_hash, "ipfs://deprecated")
    owner.deprecate(deprecated)

    catalog = catalog_for(devnet, base_id, tmp_path, source)
    catalog.refresh()

    cards = catalog.models()
    assert [c.id for c in cards] == ["tiny-gpt2", f"adapter-{good}"]
    base, adapter = cards
    assert (base.owned_by, base.adapter_id, base.onchain_id, base.price_per_call) == (
        DEV[0].address,
        None,
        None,
        0,
    )
    assert (adapter.owned_by, adapter.adapter_id, adapter.onchain_id, adapter.price_per_call) == (
        DEV[0].address,
        f"adapter-{good}",
        good,
        PRICE,
    )
    assert abs(adapter.created - time.time()) < 120 and base.created <= adapter.created
    assert catalog.resolve("ipfs://good-adapter") == adapter == catalog.resolve(adapter.id)
    assert catalog.resolve("tiny-gpt2") == base
    for name in (f"adapter-{wrong}", "ipfs://wrong-adapter", f"adapter-{foreign}"):
        with pytest.raises(UnknownModel):
            catalog.resolve(name)
    with pytest.raises(UnknownModel):
        catalog.resolve(f"adapter-{deprecated}")
    assert catalog.manager.registered() == [f"adapter-{good}"]
    assert list(catalog.refused()) == [wrong]
    assert "expected" in catalog.refused()[wrong]
    assert list(catalog.missing()) == [absent]


def test_follows_new_adapters_prices_and_deprecation_in_the_background(
    devnet: Devnet, owner: ModelRegistryClient, datanet: Datanet, base_id: int, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    catalog = catalog_for(devnet, base_id, tmp_path, source).start()
    try:
        _, digest = fake_adapter(source / "incoming")
        (source / "incoming").rename(source / digest.hex())
        adapter_id = register(owner, base_id, datanet, digest, "ipfs://late")
        card = caught_up(lambda: catalog.resolve("ipfs://late"))
        assert card.id == f"adapter-{adapter_id}"

        owner.set_price(adapter_id, PRICE * 3)
        caught_up(lambda: catalog.resolve(card.id).price_per_call == PRICE * 3)

        owner.deprecate(adapter_id)
        caught_up(lambda: card.id not in [c.id for c in catalog.models()])
    finally:
        catalog.close()


def test_refuses_to_start_on_other_base_weights(
    devnet: Devnet, base_id: int, tmp_path: Path
) -> None:
    with pytest.raises(CatalogError, match="registered with weights"):
        OnChainCatalog(
            clients(devnet).models,
            manager(tmp_path / "store"),
            base_id,
            base_weights_sha256=hashlib.sha256(b"other weights").hexdigest(),
        )


def caught_up(probe: Callable[[], Any]) -> Any:
    """The first truthy value of `probe()`, which may raise UnknownModel meanwhile."""
    return wait_for(probe, 10, "the catalogue to catch up with the chain", ignoring=(UnknownModel,))
