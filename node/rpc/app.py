"""Wires the method tables, the subscription hub and the server for one chain and pool."""

from __future__ import annotations

from node.chain import Chain
from node.execution import Executor
from node.rpc.access_list_api import AccessListApi
from node.rpc.block_api import BlockApi
from node.rpc.debug_api import DebugApi
from node.rpc.dispatch import Dispatcher
from node.rpc.eth_api import ChainReader, EthApi
from node.rpc.fee_api import FeeApi
from node.rpc.filters import FilterApi, LogReader
from node.rpc.labels import HeadLabels
from node.rpc.metrics import Metrics
from node.rpc.proof_api import ProofApi
from node.rpc.rollup_api import ContractAddresses, RollupApi, no_contracts
from node.rpc.server import RpcServer
from node.rpc.subscriptions import SubscriptionHub
from node.rpc.sync_api import L1StatusSource, SyncApi, no_l1_status
from node.rpc.txpool_api import TxPoolApi
from node.txpool import TransactionPool
from openledger.config import RpcConfig


def build_rpc_server(
    chain: Chain,
    pool: TransactionPool,
    config: RpcConfig,
    l2_contracts: ContractAddresses = no_contracts,
    labels: HeadLabels | None = None,
    l1_status: L1StatusSource = no_l1_status,
) -> RpcServer:
    """``l2_contracts`` feeds ``openledger_rollupConfig`` (see :mod:`node.rpc.rollup_api`);
    ``labels`` and ``l1_status`` come from a deriving node (genesis and ``null`` otherwise)."""
    reader = ChainReader(chain, labels)
    executor = Executor(chain.vm_at, chain.config.chain.chain_id, config.gas_cap)
    dispatcher = Dispatcher(config.max_batch_size)
    filters = FilterApi(LogReader(reader))
    for api in (
        EthApi(reader, pool, executor),
        FeeApi(reader),
        BlockApi(reader),
        filters,
        AccessListApi(reader, executor),
        ProofApi(reader),
        TxPoolApi(pool),
        DebugApi(reader),
        RollupApi(chain.config.chain.chain_id, l2_contracts),
        SyncApi(reader, l1_status),
    ):
        dispatcher.register_all(api.handlers())
    chain.subscribe(filters.on_block)
    pool.subscribe(filters.on_pending)

    hub = SubscriptionHub()
    chain.subscribe(hub.on_block)
    pool.subscribe(hub.on_pending)

    metrics = Metrics(frozenset(dispatcher.method_names))
    metrics.gauge(
        "openledger_chain_head", "Number of the head block.", lambda: chain.head.block_number
    )
    metrics.gauge("openledger_txpool_pending", "Executable transactions.", lambda: pool.status()[0])
    metrics.gauge("openledger_txpool_queued", "Future transactions.", lambda: pool.status()[1])
    return RpcServer(dispatcher, hub, metrics, config.max_body_bytes)
