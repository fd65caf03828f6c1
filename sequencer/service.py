"""A sequencer node in one process: chain, mempool, block producer and JSON-RPC server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import uvicorn

from node.chain import Chain
from node.rpc.app import build_rpc_server
from openledger.config import NetworkConfig
from openledger.store import LevelStore
from sequencer.builder import BlockProducer
from sequencer.mempool import Mempool
from sequencer.pool_adapter import SequencerPool

log = logging.getLogger(__name__)


class SequencerNode:
    """Everything a sequencer runs, sharing one event loop and one LevelDB database."""

    def __init__(self, config: NetworkConfig, datadir: Path) -> None:
        self.config = config
        self.chain = Chain.open(config, datadir)
        journal: LevelStore = self.chain.store.level
        self.mempool = Mempool(
            config.mempool,
            config.chain.chain_id,
            config.chain.gas_limit,
            self.chain.state_at(self.chain.head),
            journal,
        )
        self.producer = BlockProducer(self.chain, self.mempool, config.chain.block_time)
        self.pool = SequencerPool(self.chain, self.mempool, self.producer.notify)
        restored = self.mempool.restore(self.pool.next_base_fee())
        if restored:
            log.info("restored %d journaled transactions", restored)
        self.rpc = build_rpc_server(self.chain, self.pool, config.rpc)

    async def serve(self, on_ready: asyncio.Event | None = None) -> None:
        """Run the block producer and the RPC server until the server shuts down (SIGINT/TERM)."""
        server = uvicorn.Server(
            uvicorn.Config(
                self.rpc.app(),
                host=self.config.rpc.host,
                port=self.config.rpc.port,
                log_level="warning",
                ws_max_size=self.config.rpc.max_body_bytes,
                lifespan="off",
            )
        )
        producer = asyncio.create_task(self.producer.run())
        if self.mempool.status()[0]:
            self.producer.notify()
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if on_ready is not None:
            on_ready.set()
        try:
            await serving
        finally:
            self.producer.stop()
            await asyncio.gather(producer, return_exceptions=True)
            self.chain.close()
