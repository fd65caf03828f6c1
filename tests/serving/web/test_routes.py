"""The page's JSON routes and assets on a real devnet, through Starlette's test client.

The app holds only `web_routes` (and the service's 404 handler), so these run without a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from eth_account import Account
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from openledger.contracts.datanets import ContributionStatus
from serving.api.errors import http_exception
from serving.web import web_routes
from tests.helpers.devnet import Devnet
from tests.serving.onchain import DEV, OPEN, clients

OWNER, CONTRIBUTOR = DEV[6], DEV[7]
STAKE = OPEN // 100


@pytest.fixture(scope="module")
def client(devnet: Devnet) -> Iterator[TestClient]:
    app = Starlette(
        routes=web_routes(clients(devnet)), exception_handlers={HTTPException: http_exception}
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def datanet(devnet: Devnet) -> dict[str, int]:
    """A datanet with a stake, one approved contribution (version 1) and one pending."""
    owner, contributor = clients(devnet, OWNER).datanets, clients(devnet, CONTRIBUTOR).datanets
    datanet_id = owner.create_datanet("ipfs://web-test", STAKE).value
    approved = contributor.contribute(datanet_id, hashlib.sha256(b"a").digest(), "u:a", 1).value
    pending = contributor.contribute(datanet_id, hashlib.sha256(b"bb").digest(), "u:b", 2).value
    owner.approve([approved])
    return {"id": datanet_id, "approved": approved, "pending": pending}


def test_the_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    script = client.get("/static/app.js")
    assert "javascript" in script.headers["content-type"]
    again = client.get("/static/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    missing = client.get("/static/..%2Fpyproject.toml")
    assert missing.status_code == 404 and "error" in missing.json()


def test_datanets_are_listed_with_their_counts(client: TestClient, datanet: dict[str, int]) -> None:
    listed = {d["id"]: d for d in client.get("/v1/datanets").json()["data"]}
    assert listed[datanet["id"]] == {
        "id": datanet["id"],
        "owner": OWNER.address,
        "metadata_uri": "ipfs://web-test",
        "contribution_stake": str(STAKE),
        "latest_version": 1,
        "approved_count": 1,
        "contribution_count": 2,
    }


def test_a_datanet_shows_its_versions_and_contributions(
    client: TestClient, datanet: dict[str, int]
) -> None:
    detail = client.get(f"/v1/datanets/{datanet['id']}").json()
    assert [v["version"] for v in detail["versions"]] == [1]
    assert detail["versions"][0]["contribution_count"] == 1
    by_id = {c["id"]: c for c in detail["contributions"]}
    assert by_id[datanet["approved"]]["status"] == ContributionStatus.APPROVED.name.lower()
    assert by_id[datanet["pending"]] == {
        "id": datanet["pending"],
        "contributor": CONTRIBUTOR.address,
        "sha256": hashlib.sha256(b"bb").hexdigest(),
        "uri": "u:b",
        "size": 2,
        "status": "pending",
        "stake": str(STAKE),
        "approved_in_version": 0,
    }


def test_unknown_datanets_and_bad_ids_are_openai_errors(client: TestClient) -> None:
    unknown = client.get("/v1/datanets/999999")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "datanet_not_found"
    assert client.get("/v1/datanets/abc").status_code == 404


def test_the_contribute_transaction_registers_when_sent(
    devnet: Devnet, client: TestClient, datanet: dict[str, int]
) -> None:
    """What a browser wallet would do with the answer: sign it as is and send it."""
    content = b"contributed through a wallet"
    digest = hashlib.sha256(content).hexdigest()
    answer = client.get(
        f"/v1/datanets/{datanet['id']}/contribute_tx",
        params={"sha256": "0x" + digest, "size": str(len(content)), "uri": "u:wallet"},
    ).json()
    chain = clients(devnet, CONTRIBUTOR)
    w3 = chain.transactor.w3
    assert answer["value"] == str(STAKE) and answer["chain_id"] == w3.eth.chain_id
    tx = {
        "to": answer["to"],
        "data": answer["data"],
        "value": int(answer["value"]),
        "chainId": answer["chain_id"],
        "nonce": w3.eth.get_transaction_count(CONTRIBUTOR.address, "pending"),
        "gas": 500_000,
        "maxFeePerGas": 2 * w3.eth.gas_price,
        "maxPriorityFeePerGas": 0,
    }
    signed = Account.sign_transaction(tx, CONTRIBUTOR.key)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    contributions = client.get(f"/v1/datanets/{datanet['id']}").json()["contributions"]
    mine = [c for c in contributions if c["sha256"] == digest]
    assert mine and mine[0]["uri"] == "u:wallet" and mine[0]["size"] == len(content)


def test_the_contribute_transaction_checks_its_fields(
    client: TestClient, datanet: dict[str, int]
) -> None:
    path = f"/v1/datanets/{datanet['id']}/contribute_tx"
    digest = "ab" * 32
    default_uri = client.get(path, params={"sha256": digest, "size": "3"})
    assert default_uri.status_code == 200
    for params, param in [
        ({"sha256": "xyz", "size": "3"}, "sha256"),
        ({"sha256": digest, "size": "0"}, "size"),
        ({"sha256": digest, "size": str(2**64)}, "size"),
        ({"sha256": digest}, "size"),
    ]:
        refused = client.get(path, params=params)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param
    unknown = client.get(
        "/v1/datanets/999999/contribute_tx", params={"sha256": digest, "size": "3"}
    )
    assert unknown.status_code == 404


def test_rewards_list_claimable_earnings_and_contributions(
    client: TestClient, datanet: dict[str, int]
) -> None:
    rewards = client.get(f"/v1/rewards/{CONTRIBUTOR.address.lower()}").json()
    assert rewards["address"] == CONTRIBUTOR.address
    assert rewards["claimable"] == "0"
    assert {"datanet_id": datanet["id"], "earned": "0"} in rewards["earnings_by_datanet"]
    assert {datanet["approved"], datanet["pending"]} <= set(rewards["contribution_ids"])
    refused = client.get("/v1/rewards/0x1234")
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "address"
