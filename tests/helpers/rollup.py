"""A sequencer in this process for the rollup tests: chain, mempool, producer, and web3.py.

web3.py talks to the node's real JSON-RPC dispatcher through :class:`DispatcherProvider`
(JSON-encoded both ways, as over HTTP), so the tests see exactly what a client sees without
a server or an event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth.abc import BlockHeaderAPI
from web3 import Web3
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from node.chain import Chain
from node.rpc.app import build_rpc_server
from node.rpc.dispatch import Dispatcher
from openledger.config import NetworkConfig
from openledger.contracts.predeploys import load_predeploy
from sequencer.builder import BlockProducer
from sequencer.l1_origin import L1OriginSource, NextL1Origin
from sequencer.mempool import Mempool
from sequencer.pool_adapter import SequencerPool


class DispatcherProvider(JSONBaseProvider):
    """web3.py provider answering from a :class:`Dispatcher` in this thread."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__()
        self.dispatcher = dispatcher

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        request = json.loads(self.encode_rpc_request(method, params))
        answer = self.dispatcher.handle_payload(request)
        return self.decode_rpc_response(json.dumps(answer).encode())

    def is_connected(self, show_traceback: bool = False) -> bool:
        return True


@dataclass
class ScriptedL1:
    """An L1 origin source playing a fixed script, one entry per block (the last repeats)."""

    script: list[NextL1Origin]
    asked: list[int] = field(default_factory=list)
    """The parent number of every request, in order."""

    def __call__(self, parent: BlockHeaderAPI, timestamp: int) -> NextL1Origin:
        self.asked.append(parent.block_number)
        return self.script[min(len(self.asked) - 1, len(self.script) - 1)]


@dataclass
class Sequencer:
    chain: Chain
    mempool: Mempool
    producer: BlockProducer
    w3: Web3

    def send(self, raw: bytes) -> bytes:
        """``eth_sendRawTransaction`` through web3.py; returns the hash."""
        return bytes(self.w3.eth.send_raw_transaction(raw))

    def contract(self, name: str, address: bytes) -> Any:
        """A web3 contract for predeploy ``name`` at ``address``."""
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=load_predeploy(name).abi_list()
        )

    def close(self) -> None:
        self.chain.close()


def start_sequencer(
    path: Path, config: NetworkConfig | None = None, l1_origins: L1OriginSource | None = None
) -> Sequencer:
    config = config or NetworkConfig()
    chain = Chain.open(config, path)
    mempool = Mempool(
        config.mempool,
        config.chain.chain_id,
        config.chain.gas_limit,
        chain.state_at(chain.head),
        chain.store.level,
    )
    producer = BlockProducer(chain, mempool, 0, l1_origins=l1_origins)
    pool = SequencerPool(chain, mempool, lambda: None)
    server = build_rpc_server(chain, pool, config.rpc)
    return Sequencer(chain, mempool, producer, Web3(DispatcherProvider(server.dispatcher)))
