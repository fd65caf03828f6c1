"""``debug_traceTransaction`` with the callTracer, replayed on the parent state."""

from __future__ import annotations

import pytest

from node.rpc.errors import INVALID_PARAMS, SERVER_ERROR, RpcError
from tests.node.conftest import SENDER, World
from tests.node.evm import EMITTER, REVERT_DATA, REVERTER, caller, deployable

CALL_TRACER = {"tracer": "callTracer"}


def hex_(value: bytes) -> str:
    return "0x" + value.hex()


def test_nested_calls_after_an_earlier_transaction_of_the_block(world: World) -> None:
    node = world.node
    contracts = world.contracts
    outcome = node.chain.outcomes(node.chain.head)[1]
    trace = node.rpc("debug_traceTransaction", hex_(outcome.tx.hash), CALL_TRACER)
    assert trace["type"] == "CALL"
    assert (trace["from"], trace["to"]) == (hex_(SENDER), hex_(contracts.caller))
    assert trace["gas"] == hex(outcome.tx.gas)
    # The replay reproduces the block (tx 0 ran first, its warm sets cleared): receipt gas.
    assert trace["gasUsed"] == hex(outcome.gas_used)
    assert trace["input"] == "0x03030303"
    assert trace["output"] == "0x03030303" + "00" * 28
    inner_call, static_call = trace["calls"]
    assert inner_call["type"] == "CALL"
    assert (inner_call["from"], inner_call["to"]) == (
        hex_(contracts.caller),
        hex_(contracts.emitter),
    )
    assert inner_call["value"] == "0x0"
    assert inner_call["output"] == "0x03030303"
    assert "error" not in inner_call and "calls" not in inner_call
    assert static_call["type"] == "STATICCALL" and "value" not in static_call
    assert static_call["to"] == hex_(contracts.reverter)
    assert static_call["error"] == "execution reverted"
    assert static_call["revertReason"] == "nope"
    assert static_call["output"] == hex_(REVERT_DATA)


def test_only_top_call(world: World) -> None:
    outcome = world.node.chain.outcomes(world.node.chain.head)[1]
    config = {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}}
    assert "calls" not in world.node.rpc("debug_traceTransaction", hex_(outcome.tx.hash), config)


def test_a_deployment_is_a_create_frame(world: World) -> None:
    node = world.node
    outcome = node.chain.outcomes(node.chain.header_by_number(1))[2]
    trace = node.rpc("debug_traceTransaction", hex_(outcome.tx.hash), CALL_TRACER)
    assert trace["type"] == "CREATE"
    assert trace["to"] == hex_(world.contracts.caller)
    assert trace["input"] == hex_(
        deployable(caller(world.contracts.emitter, world.contracts.reverter))
    )
    assert trace["output"] == hex_(caller(world.contracts.emitter, world.contracts.reverter))
    assert trace["gasUsed"] == hex(outcome.gas_used)


def test_trace_block(world: World) -> None:
    node = world.node
    traces = node.rpc("debug_traceBlockByNumber", "0x1", CALL_TRACER)
    assert [t["result"]["output"] for t in traces] == [
        hex_(EMITTER),
        hex_(REVERTER),
        hex_(caller(world.contracts.emitter, world.contracts.reverter)),
    ]
    by_hash = node.rpc(
        "debug_traceBlockByHash", hex_(node.chain.header_by_number(1).hash), CALL_TRACER
    )
    assert by_hash == traces


def test_unknown_transactions_and_tracers(world: World) -> None:
    node = world.node
    with pytest.raises(RpcError) as caught:
        node.rpc("debug_traceTransaction", "0x" + "11" * 32, CALL_TRACER)
    assert caught.value.code == SERVER_ERROR
    outcome = node.chain.outcomes(node.chain.head)[0]
    for config in (None, {"tracer": "prestateTracer"}, {"tracer": "callTracer", "tracerConfig": 1}):
        with pytest.raises(RpcError) as caught:
            node.rpc("debug_traceTransaction", hex_(outcome.tx.hash), config)
        assert caught.value.code == INVALID_PARAMS
