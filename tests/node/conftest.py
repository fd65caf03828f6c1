"""Fixtures for the RPC tests: a chain on a temporary LevelDB, a fake pool, a dispatcher.

The pool is a few dictionaries implementing :class:`node.txpool.TransactionPool`; blocks are
built directly with a block session, so these tests need neither the sequencer nor a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth._utils.address import generate_contract_address

from node.block_session import Applied, ApplyResult
from node.chain import Chain
from node.rpc.app import build_rpc_server
from node.rpc.dispatch import Dispatcher
from node.rpc.server import RpcServer
from node.transactions import AdmittedTransaction, admit
from openledger.config import NetworkConfig, RpcConfig
from tests.helpers.signing import CHAIN_ID, DEV, GWEI, sign
from tests.node.evm import EMITTER, REVERTER, caller, deployable

SENDER = DEV[0].address


@dataclass
class FakePool:
    """Holds what it is given; ``pending`` and ``queued`` are filled by the test."""

    pending: dict[bytes, dict[int, AdmittedTransaction]] = field(default_factory=dict)
    queued: dict[bytes, dict[int, AdmittedTransaction]] = field(default_factory=dict)
    listeners: list[Callable[[AdmittedTransaction], Any]] = field(default_factory=list)

    def submit(self, raw: bytes) -> AdmittedTransaction:
        admitted = admit(raw, CHAIN_ID)
        self.pending.setdefault(admitted.sender, {})[admitted.nonce] = admitted
        for listener in self.listeners:
            listener(admitted)
        return admitted

    def pending_nonce(self, address: bytes) -> int:
        nonces = self.pending.get(address, {})
        return max(nonces) + 1 if nonces else 0

    def get(self, tx_hash: bytes) -> AdmittedTransaction | None:
        for section in (self.pending, self.queued):
            for by_nonce in section.values():
                for admitted in by_nonce.values():
                    if admitted.hash == tx_hash:
                        return admitted
        return None

    def status(self) -> tuple[int, int]:
        return (
            sum(len(v) for v in self.pending.values()),
            sum(len(v) for v in self.queued.values()),
        )

    def content(self) -> dict[str, dict[bytes, dict[int, AdmittedTransaction]]]:
        return {"pending": self.pending, "queued": self.queued}

    def subscribe(self, listener: Callable[[AdmittedTransaction], Any]) -> None:
        self.listeners.append(listener)


def mine(chain: Chain, raws: list[bytes]) -> list[ApplyResult]:
    """One block holding ``raws`` in order; every one must apply."""
    session = chain.open_block(chain.next_timestamp(0))
    results = []
    for raw in raws:
        admitted = admit(raw, CHAIN_ID)
        results.append(session.apply(admitted.tx, admitted.sender))
    if not all(isinstance(result, Applied) for result in results):
        raise AssertionError(f"a test transaction did not apply: {results}")
    chain.commit(session.seal())
    return results


def deploy_tx(runtime: bytes, nonce: int) -> bytes:
    return sign(nonce=nonce, to=b"", value=0, data=deployable(runtime), gas=200_000)


@dataclass
class Node:
    """A chain with an RPC dispatcher in front of it."""

    chain: Chain
    pool: FakePool
    server: RpcServer

    @property
    def dispatcher(self) -> Dispatcher:
        return self.server.dispatcher

    def rpc(self, method: str, *params: Any) -> Any:
        """The result of one call; raises :class:`RpcError` as the wire would report it."""
        return self.dispatcher.call(method, list(params))


@dataclass(frozen=True)
class Contracts:
    emitter: bytes
    reverter: bytes
    caller: bytes


def make_node(path: Path, config: NetworkConfig | None = None) -> Node:
    chain = Chain.open(config or NetworkConfig(), path)
    pool = FakePool()
    server = build_rpc_server(chain, pool, RpcConfig())
    return Node(chain, pool, server)


def deploy_contracts(node: Node, first_nonce: int = 0) -> Contracts:
    """Block 1: the emitter, the reverter and the caller, deployed by dev account 0."""
    emitter = generate_contract_address(SENDER, first_nonce)
    reverter = generate_contract_address(SENDER, first_nonce + 1)
    calling = generate_contract_address(SENDER, first_nonce + 2)
    mine(
        node.chain,
        [
            deploy_tx(EMITTER, first_nonce),
            deploy_tx(REVERTER, first_nonce + 1),
            deploy_tx(caller(emitter, reverter), first_nonce + 2),
        ],
    )
    return Contracts(emitter, reverter, calling)


def call_tx(to: bytes, nonce: int, payload: bytes = b"\x01\x02", **fields: Any) -> bytes:
    fields.setdefault("gas", 200_000)
    return sign(nonce=nonce, to=to, value=0, data=payload, **fields)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    built = make_node(tmp_path)
    yield built
    built.chain.close()


@dataclass
class World:
    """Genesis; block 1 deploys the contracts; block 2 has two calls with different tips."""

    node: Node
    contracts: Contracts
    calls: list[bytes]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = make_node(tmp_path_factory.mktemp("world"))
    contracts = deploy_contracts(built)
    calls = [
        call_tx(contracts.emitter, 3, b"\x01\x02", maxPriorityFeePerGas=2 * GWEI),
        call_tx(contracts.caller, 4, b"\x03" * 4, maxPriorityFeePerGas=GWEI, maxFeePerGas=3 * GWEI),
    ]
    mine(built.chain, calls)
    yield World(built, contracts, calls)
    built.chain.close()
