"""A full node in one process: chain, derivation driver, JSON-RPC server, on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from eth_utils import to_canonical_address

from node.chain import Chain
from node.derivation.blobs import BeaconBlobSource, BlobSource, RpcBlobSource
from node.derivation.driver import Driver
from node.derivation.forward_pool import ForwardingPool
from node.derivation.jsonrpc import JsonRpcClient
from node.derivation.l1_rpc import RpcL1Source
from node.derivation.pipeline import Pipeline
from node.derivation.sender_prefetch import SenderPrefetch
from node.derivation.system_config import SystemConfigTracker
from node.heads import ChainHeads
from node.rpc.app import build_rpc_server
from openledger.config import NetworkConfig
from openledger.l1.exceptions import RollupFileError
from openledger.l1.rollup_file import RollupFile
from openledger.l1.system_config import SystemConfig

log = logging.getLogger(__name__)


class FullNode:
    """Derives the chain from L1; optionally follows and forwards to a sequencer."""

    def __init__(
        self,
        config: NetworkConfig,
        rollup: RollupFile,
        datadir: Path,
        l1_rpc: str,
        sequencer_rpc: str | None = None,
        poll_interval: float = 1.0,
        l1_beacon: str | None = None,
        sender_workers: int = 0,
    ) -> None:
        """``l1_beacon``: a beacon node's API for the batcher's blobs (without it they are
        asked of ``l1_rpc`` with ``anvil_getBlobByHash``, which only anvil answers).
        ``sender_workers``: processes recovering batch senders ahead of execution
        (``node.derivation.sender_prefetch``; 0: in the node's own thread)."""
        self.config = config
        self.chain = Chain.open(config, datadir)
        genesis = self.chain.genesis_hash
        if genesis != rollup.l2_genesis_hash:
            self.chain.close()
            raise RollupFileError(
                f"genesis built from the config is {genesis.hex()}, rollup.json "
                f"says {rollup.l2_genesis_hash.hex()}: not the same network config"
            )
        self.heads = ChainHeads(self.chain)
        l1 = JsonRpcClient(l1_rpc)
        tracker = SystemConfigTracker(
            l1,
            to_canonical_address(rollup.l1_contracts.system_config),
            SystemConfig.from_rollup(rollup),
            rollup.l1_genesis.number,
        )
        blobs: BlobSource = BeaconBlobSource(l1_beacon) if l1_beacon else RpcBlobSource(l1)
        self.source = RpcL1Source(
            l1,
            to_canonical_address(rollup.l1_contracts.portal),
            tracker,
            blobs=blobs,
            batcher_config=SystemConfig.from_rollup(rollup),
        )
        self.pipeline = Pipeline(
            self.chain, self.heads, self.source, rollup, SenderPrefetch(sender_workers)
        )
        sequencer = JsonRpcClient(sequencer_rpc) if sequencer_rpc else None
        self.driver = Driver(self.pipeline, self.source, sequencer, poll_interval)
        self.pool = ForwardingPool(self.chain, sequencer)
        self.rpc = build_rpc_server(
            self.chain, self.pool, config.rpc, labels=self.heads, l1_status=self.driver.l1_status
        )

    async def serve(self, on_ready: asyncio.Event | None = None) -> None:
        """Serve RPC and derive until the server shuts down (SIGINT/TERM)."""
        server = self.rpc.uvicorn_server(self.config.rpc.host, self.config.rpc.port)
        # Spawning the workers takes a moment: now, off the event loop, not at the first batch.
        await asyncio.to_thread(self.pipeline.senders.start)
        driver = asyncio.create_task(self.driver.run())
        try:
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if on_ready is not None:
                on_ready.set()
            await serving
        finally:
            self.driver.stop()
            with contextlib.suppress(Exception):
                await driver
            self.pipeline.senders.close()
            self.chain.close()
