"""The HTTP and WebSocket endpoint under malformed and hostile input, in process.

Each case checks the JSON-RPC error code a client library keys on, and that a bad argument's
message names the argument.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.chain import Chain
from node.rpc.app import build_rpc_server
from openledger.config import NetworkConfig, RpcConfig
from tests.helpers.signing import sign
from tests.node.conftest import FakePool, Node, deploy_contracts, mine
from tests.node.evm import REVERT_DATA

BODY_LIMIT = 4096
BATCH_LIMIT = 3


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Node, TestClient]]:
    chain = Chain.open(NetworkConfig(), tmp_path)
    pool = FakePool()
    server = build_rpc_server(
        chain, pool, RpcConfig(max_body_bytes=BODY_LIMIT, max_batch_size=BATCH_LIMIT)
    )
    with TestClient(server.app()) as client:
        yield Node(chain, pool, server), client
    chain.close()


def post(client: TestClient, body: Any) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body)
    response = client.post("/", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 200
    return response.json() if response.content else None


def request(method: str, params: list[Any] | None = None, request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}


def test_invalid_json_is_a_parse_error(served: tuple[Node, TestClient]) -> None:
    _, client = served
    answer = post(client, b'{"jsonrpc": "2.0", "method": ')
    assert answer["error"]["code"] == -32700 and answer["id"] is None
    assert post(client, b"\xff\xfe")["error"]["code"] == -32700


@pytest.mark.parametrize(
    "body",
    [5, "text", None, {"id": 1, "method": "eth_chainId"}, {"jsonrpc": "2.0", "id": 1, "method": 7}],
)
def test_not_a_request_object_is_invalid_request(
    served: tuple[Node, TestClient], body: Any
) -> None:
    assert post(served[1], body)["error"]["code"] == -32600


def test_unknown_method(served: tuple[Node, TestClient]) -> None:
    answer = post(served[1], request("eth_mine"))
    assert answer["error"]["code"] == -32601 and "eth_mine" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("method", "params", "named"),
    [
        ("eth_getBalance", ["0x1234", "latest"], "address"),
        ("eth_getBalance", ["0x" + "ab" * 20, "newest"], "block"),
        ("eth_getBlockByNumber", ["latest", "yes"], "full"),
        ("eth_getTransactionByBlockNumberAndIndex", ["latest", "0xzz"], "index"),
        ("eth_feeHistory", ["ten", "latest", []], "blockCount"),
        ("eth_getLogs", [{"fromBlock": "0x1", "blockHash": "0x" + "11" * 32}], "BlockHash"),
        ("eth_getProof", ["0x" + "ab" * 20, ["0x" + "00" * 40]], "storageKeys[0]"),
        ("eth_getBalance", [], "argument 0"),
        ("eth_chainId", [1], "too many arguments"),
    ],
)
def test_bad_params_name_the_argument(
    served: tuple[Node, TestClient], method: str, params: list[Any], named: str
) -> None:
    answer = post(served[1], request(method, params))
    assert answer["error"]["code"] == -32602
    assert named in answer["error"]["message"]


def test_params_must_be_an_array(served: tuple[Node, TestClient]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {"a": 1}}
    assert post(served[1], body)["error"]["code"] == -32602


def test_an_oversized_body_is_413_with_a_json_rpc_error(served: tuple[Node, TestClient]) -> None:
    _, client = served
    body = json.dumps(request("web3_sha3", ["0x" + "ab" * BODY_LIMIT]))
    response = client.post("/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600
    assert str(BODY_LIMIT) in response.json()["error"]["message"]


def test_batches(served: tuple[Node, TestClient]) -> None:
    _, client = served
    answers = post(client, [request("eth_chainId", [], 1), request("eth_nope", [], 2)])
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["result"] == "0x385" and answers[1]["error"]["code"] == -32601
    over = post(client, [request("eth_chainId", [], n) for n in range(BATCH_LIMIT + 1)])
    assert over["error"]["code"] == -32600 and "batch" in over["error"]["message"]
    assert post(client, [])["error"]["code"] == -32600
    # Invalid members are answered one by one, valid ones still run.
    mixed = post(client, [1, request("eth_chainId")])
    assert mixed[0]["error"]["code"] == -32600 and mixed[1]["result"] == "0x385"


def test_notifications_get_no_answer(served: tuple[Node, TestClient]) -> None:
    _, client = served
    notification = {"jsonrpc": "2.0", "method": "eth_chainId", "params": []}
    assert post(client, notification) is None
    assert post(client, [notification, dict(notification, method="eth_nope")]) is None
    answers = post(client, [notification, request("eth_blockNumber")])
    assert len(answers) == 1 and answers[0]["result"] == "0x0"


def test_a_revert_is_code_3_with_the_revert_data(served: tuple[Node, TestClient]) -> None:
    node, client = served
    contracts = deploy_contracts(node)
    call = {"to": "0x" + contracts.reverter.hex(), "input": "0x"}
    error = post(client, request("eth_call", [call, "latest"]))["error"]
    assert error["code"] == 3
    assert error["message"] == "execution reverted: nope"
    assert error["data"] == "0x" + REVERT_DATA.hex()


def test_websocket_new_heads_after_a_commit(served: tuple[Node, TestClient]) -> None:
    node, client = served
    with client.websocket_connect("/") as socket:
        socket.send_json(request("eth_subscribe", ["newHeads"]))
        subscription = socket.receive_json()["result"]
        socket.send_json(request("eth_blockNumber", [], 2))
        assert socket.receive_json()["result"] == "0x0"
        # Commit on the server's event loop, as the sequencer does in the running node.
        socket.portal.call(mine, node.chain, [sign(nonce=0)])
        notification = socket.receive_json()
    assert notification["method"] == "eth_subscription"
    assert notification["params"]["subscription"] == subscription
    head = notification["params"]["result"]
    assert head["number"] == "0x1" and head["hash"] == "0x" + node.chain.head.hash.hex()


def test_http_answers_include_the_new_methods(served: tuple[Node, TestClient]) -> None:
    _, client = served
    answers = post(
        client,
        [
            request("eth_gasPrice", [], 1),
            request("txpool_status", [], 2),
            request("eth_newBlockFilter", [], 3),
        ],
    )
    assert all("result" in answer for answer in answers)
    assert answers[1]["result"] == {"pending": "0x0", "queued": "0x0"}


def test_metrics_count_known_methods_and_lump_the_rest(
    served: tuple[Node, TestClient],
) -> None:
    _, client = served
    client.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    client.post("/", json={"jsonrpc": "2.0", "id": 2, "method": "made_up_1", "params": []})
    client.post("/", json={"jsonrpc": "2.0", "id": 3, "method": "made_up_2", "params": []})
    text = client.get("/metrics").text
    assert 'openledger_rpc_requests_total{method="eth_chainId"} 1' in text
    assert 'openledger_rpc_requests_total{method="unknown"} 2' in text
    assert "made_up" not in text
    assert "openledger_chain_head" in text
