"""``eth_createAccessList``: the EIP-2930 list a call would benefit from, and its gas.

The search itself (run, collect, rerun until stable) is
:meth:`node.execution.Executor.create_access_list`; this module parses the request and spells the
answer as the spec does.
"""

from __future__ import annotations

from typing import Any

from node.execution import Executor
from node.rpc.codec import data, parse_block_id, quantity
from node.rpc.eth_api import ChainReader, parse_call_request


class AccessListApi:
    def __init__(self, reader: ChainReader, executor: Executor) -> None:
        self.reader = reader
        self.executor = executor

    def handlers(self) -> dict[str, Any]:
        return {"eth_createAccessList": self.create_access_list}

    def create_access_list(self, request: Any, block: Any = None) -> dict[str, Any]:
        call = parse_call_request(request)
        header = self.reader.header(parse_block_id(block, "block"))
        result = self.executor.create_access_list(call, header)
        answer: dict[str, Any] = {
            "accessList": [
                {
                    "address": data(address),
                    "storageKeys": [data(slot.to_bytes(32, "big")) for slot in slots],
                }
                for address, slots in result.access_list
            ],
            "gasUsed": quantity(result.gas_used),
        }
        if result.error is not None:
            answer["error"] = result.error
        return answer
