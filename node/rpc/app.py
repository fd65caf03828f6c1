"""Wires the method tables, the subscription hub and the server for one chain and pool."""

from __future__ import annotations

from node.chain import Chain
from node.execution import Executor
from node.rpc.dispatch import Dispatcher
from node.rpc.eth_api import ChainReader, EthApi
from node.rpc.metrics import Metrics
from node.rpc.server import RpcServer
from node.rpc.subscriptions import SubscriptionHub
from node.txpool import TransactionPool
from openledger.config import RpcConfig


def build_rpc_server(chain: Chain, pool: TransactionPool, config: RpcConfig) -> RpcServer:
    reader = ChainReader(chain)
    executor = Executor(chain.vm_at, chain.config.chain.chain_id, config.gas_cap)
    dispatcher = Dispatcher(config.max_batch_size)
    dispatcher.register_all(EthApi(reader, pool, executor).handlers())

    hub = SubscriptionHub()
    chain.subscribe(hub.on_block)
    pool.subscribe(hub.on_pending)

    metrics = Metrics()
    metrics.gauge(
        "openledger_chain_head", "Number of the head block.", lambda: chain.head.block_number
    )
    metrics.gauge("openledger_txpool_pending", "Executable transactions.", lambda: pool.status()[0])
    metrics.gauge("openledger_txpool_queued", "Future transactions.", lambda: pool.status()[1])
    return RpcServer(dispatcher, hub, metrics, config.max_body_bytes)
