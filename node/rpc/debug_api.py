"""``debug_traceTransaction`` with geth's ``callTracer`` (and ``debug_traceBlockBy*``).

A committed transaction is traced by replaying its block on the parent's state up to it
(:func:`node.tracing.replay_to`) and running it once more with the instrumented computation;
nothing is written. Only the call tracer is offered: the struct logger (the default when no
tracer is named) would need a per-opcode hook py-evm does not have, so asking for it is -32602
rather than a silently different answer.
"""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI
from eth.exceptions import Revert

from node.chain import Chain
from node.exceptions import BlockNotFound
from node.execution import execution_error_message, revert_message
from node.rpc.codec import BlockId, data, parse_block_id, parse_bool, parse_hash, quantity
from node.rpc.errors import invalid_params
from node.rpc.eth_api import ChainReader
from node.tracing import CallFrame, TracingVM, apply_in_block, call_frame, replay_to
from node.vm import OpenLedgerVM

CALL_TRACER = "callTracer"
REVERT_PREFIX = "execution reverted: "


def parse_trace_config(value: Any) -> bool:
    """Validate a TraceConfig; returns ``onlyTopCall``."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise invalid_params("invalid argument 1: expected a trace config object")
    tracer = value.get("tracer")
    if tracer != CALL_TRACER:
        raise invalid_params(
            f"invalid argument 1: tracer {tracer!r} is not supported; use {CALL_TRACER!r}"
        )
    tracer_config = value.get("tracerConfig") or {}
    if not isinstance(tracer_config, dict):
        raise invalid_params("invalid argument 1: tracerConfig must be an object")
    only_top = tracer_config.get("onlyTopCall", False)
    return parse_bool(only_top, "tracerConfig.onlyTopCall")


def format_frame(frame: CallFrame, only_top: bool = False) -> dict[str, Any]:
    """geth's callFrame JSON: ``value``, ``output``, ``error``, ``calls`` only when present."""
    result: dict[str, Any] = {
        "type": frame.kind,
        "from": data(frame.sender),
        "to": data(frame.to),
    }
    if frame.value is not None:
        result["value"] = quantity(frame.value)
    result["gas"] = quantity(frame.gas)
    result["gasUsed"] = quantity(frame.gas_used)
    result["input"] = data(frame.input)
    if frame.output:
        result["output"] = data(frame.output)
    if frame.error is not None:
        if isinstance(frame.error, Revert):
            result["error"] = "execution reverted"
            message = revert_message(frame.output)
            if message.startswith(REVERT_PREFIX):
                result["revertReason"] = message[len(REVERT_PREFIX) :]
        else:
            result["error"] = execution_error_message(frame.error)
    if frame.calls and not only_top:
        result["calls"] = [format_frame(child) for child in frame.calls]
    return result


class DebugApi:
    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.chain: Chain = reader.chain

    def handlers(self) -> dict[str, Any]:
        return {
            "debug_traceTransaction": self.trace_transaction,
            "debug_traceBlockByNumber": self.trace_block_by_number,
            "debug_traceBlockByHash": self.trace_block_by_hash,
        }

    def _trace(self, header: BlockHeaderAPI, until: int | None) -> list[CallFrame]:
        """Trace the block's transactions up to index ``until`` (all when ``None``)."""
        if header.block_number == 0:
            return []
        parent = self.chain.header_by_hash(header.parent_hash)
        outcomes = self.chain.outcomes(header)
        last = len(outcomes) - 1 if until is None else until
        first = 0 if until is None else until
        state = replay_to(self.chain.vm_at, header, parent, outcomes[:first], TracingVM)
        frames = []
        for outcome in outcomes[first : last + 1]:
            computation = apply_in_block(state, outcome.tx)
            gas_used = OpenLedgerVM.finalize_gas_used(outcome.tx, computation)
            frames.append(call_frame(outcome.tx, outcome.sender, computation, gas_used))
        return frames

    def trace_transaction(self, tx_hash: Any, config: Any = None) -> dict[str, Any]:
        wanted = parse_hash(tx_hash, "hash")
        only_top = parse_trace_config(config)
        location = self.chain.transaction_location(wanted)
        if location is None:
            raise BlockNotFound(f"transaction {data(wanted)} not found")
        (frame,) = self._trace(location.header, location.index)
        return format_frame(frame, only_top)

    def _trace_block(self, header: BlockHeaderAPI, config: Any) -> list[dict[str, Any]]:
        only_top = parse_trace_config(config)
        outcomes = self.chain.outcomes(header)
        return [
            {"txHash": data(outcome.tx.hash), "result": format_frame(frame, only_top)}
            for outcome, frame in zip(outcomes, self._trace(header, None), strict=True)
        ]

    def trace_block_by_number(self, block: Any, config: Any = None) -> list[dict[str, Any]]:
        return self._trace_block(self.reader.header(parse_block_id(block, "block")), config)

    def trace_block_by_hash(self, block_hash: Any, config: Any = None) -> list[dict[str, Any]]:
        header = self.reader.header(BlockId(hash=parse_hash(block_hash, "blockHash")))
        return self._trace_block(header, config)
