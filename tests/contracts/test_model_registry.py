"""ModelRegistry: every function, view and revert path, on the node and on anvil."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from tests.contracts.builders import adapter, approved_datanet, base_model
from tests.contracts.conftest import Chain, Deployment

pytestmark = pytest.mark.slow

ZERO_ADDRESS = "0x" + "00" * 20
WEIGHTS = keccak(text="weights")
MANIFEST = keccak(text="manifest")


def test_base_models(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.models.functions
    owner = chain.account()
    assert fns.datanets().call() == d.datanets.address
    chain.expect_revert(owner, fns.registerBaseModel("", WEIGHTS, "lic"), "EmptyName")
    chain.expect_revert(owner, fns.registerBaseModel("m", bytes(32), "lic"), "EmptyWeightsHash")
    receipt = chain.transact(owner, fns.registerBaseModel("Qwen", WEIGHTS, "ipfs://lic"))
    (event,) = chain.events(d.models, receipt, "BaseModelRegistered")
    model_id = event["baseModelId"]
    assert (event["owner"], event["name"], event["weightsHash"], event["licenseURI"]) == (
        owner.address,
        "Qwen",
        WEIGHTS,
        "ipfs://lic",
    )
    assert fns.getBaseModel(model_id).call() == (owner.address, WEIGHTS, "Qwen", "ipfs://lic")
    assert fns.baseModelCount().call() >= model_id
    chain.expect_revert(owner, fns.getBaseModel(10**9), "UnknownBaseModel", 10**9)


def test_register_adapter_and_its_reverts(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.models.functions
    owner = chain.account()
    world = approved_datanet(chain, d, [chain.account()])
    model_id = base_model(chain, d, chain.account())  # anyone's base model may be used

    def register(base: int, datanet: int, version: int, weights: bytes = WEIGHTS):
        return fns.registerAdapter(base, datanet, version, weights, "ipfs://a", 7, MANIFEST)

    chain.expect_revert(owner, register(10**9, world.datanet_id, 1), "UnknownBaseModel", 10**9)
    chain.expect_revert(
        owner, register(model_id, world.datanet_id, 1, bytes(32)), "EmptyWeightsHash"
    )
    chain.expect_revert(
        owner,
        register(model_id, world.datanet_id, 0),
        "UnknownDatanetVersion",
        world.datanet_id,
        0,
    )
    chain.expect_revert(
        owner,
        register(model_id, world.datanet_id, 2),
        "UnknownDatanetVersion",
        world.datanet_id,
        2,
    )
    chain.expect_revert(owner, register(model_id, 10**9, 1), "UnknownDatanetVersion", 10**9, 1)

    receipt = chain.transact(owner, register(model_id, world.datanet_id, 1))
    (event,) = chain.events(d.models, receipt, "AdapterRegistered")
    adapter_id = event["adapterId"]
    assert event["owner"] == owner.address
    assert event["baseModelId"] == model_id
    assert (event["datanetId"], event["datanetVersion"]) == (world.datanet_id, 1)
    assert (event["weightsHash"], event["manifestHash"]) == (WEIGHTS, MANIFEST)
    assert (event["pricePerCall"], event["uri"]) == (7, "ipfs://a")
    assert fns.getAdapter(adapter_id).call() == (
        owner.address,
        False,
        1,
        model_id,
        world.datanet_id,
        7,
        WEIGHTS,
        MANIFEST,
        "ipfs://a",
    )
    assert fns.adapterCount().call() >= adapter_id
    assert fns.adaptersOf(owner.address).call() == [adapter_id]
    assert fns.settlementInfo(adapter_id).call() == [owner.address, 7, world.datanet_id, 1, False]
    assert fns.settlementInfo(10**9).call() == [ZERO_ADDRESS, 0, 0, 0, False]
    chain.expect_revert(owner, fns.getAdapter(10**9), "UnknownAdapter", 10**9)


def test_owner_updates_transfer_and_deprecation(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.models.functions
    owner, buyer, stranger = chain.account(), chain.account(), chain.account()
    world = approved_datanet(chain, d, [chain.account()])
    adapter_id = adapter(chain, d, owner, world.datanet_id, 1, price=5)

    chain.expect_revert(
        stranger, fns.setPrice(adapter_id, 9), "NotAdapterOwner", adapter_id, stranger.address
    )
    chain.expect_revert(stranger, fns.setPrice(10**9, 9), "UnknownAdapter", 10**9)
    receipt = chain.transact(owner, fns.setPrice(adapter_id, 9))
    (event,) = chain.events(d.models, receipt, "PriceChanged")
    assert (event["oldPrice"], event["newPrice"]) == (5, 9)
    assert fns.getAdapter(adapter_id).call()[5] == 9

    chain.expect_revert(stranger, fns.transferAdapter(adapter_id, buyer.address), "NotAdapterOwner")
    chain.expect_revert(owner, fns.transferAdapter(adapter_id, ZERO_ADDRESS), "ZeroAddress")
    receipt = chain.transact(owner, fns.transferAdapter(adapter_id, buyer.address))
    (event,) = chain.events(d.models, receipt, "AdapterTransferred")
    assert (event["from"], event["to"]) == (owner.address, buyer.address)
    assert fns.getAdapter(adapter_id).call()[0] == buyer.address
    assert adapter_id in fns.adaptersOf(buyer.address).call()
    chain.expect_revert(owner, fns.setPrice(adapter_id, 1), "NotAdapterOwner")

    chain.expect_revert(owner, fns.deprecate(adapter_id), "NotAdapterOwner")
    receipt = chain.transact(buyer, fns.deprecate(adapter_id))
    assert chain.events(d.models, receipt, "AdapterDeprecated")[0]["adapterId"] == adapter_id
    assert fns.getAdapter(adapter_id).call()[1] is True
    for call in (
        fns.setPrice(adapter_id, 1),
        fns.transferAdapter(adapter_id, owner.address),
        fns.deprecate(adapter_id),
    ):
        chain.expect_revert(buyer, call, "AdapterIsDeprecated", adapter_id)


def test_constructor_refuses_zero_registry(chain: Chain) -> None:
    factory = chain.w3.eth.contract(
        abi=chain.artifacts["ModelRegistry"]["abi"],
        bytecode=chain.artifacts["ModelRegistry"]["bytecode"],
    )
    data = factory.constructor(ZERO_ADDRESS).data_in_transaction
    deployer = chain.account()
    with pytest.raises(Exception) as info:
        chain.w3.eth.estimate_gas({"from": deployer.address, "data": data})
    revert = chain.decoder.decode(info.value.data)  # type: ignore[attr-defined]
    assert revert.name == "ZeroAddress"


def test_owner_calls_on_unknown_adapters(chain: Chain, deployment: Deployment) -> None:
    fns = deployment.models.functions
    someone = chain.account(fund=0)
    missing = 10**9
    chain.expect_revert(
        someone, fns.transferAdapter(missing, someone.address), "UnknownAdapter", missing
    )
    chain.expect_revert(someone, fns.deprecate(missing), "UnknownAdapter", missing)
