"""A sequencer node in one process: chain, mempool, block producer and JSON-RPC server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address
from web3 import Web3

from node.chain import Chain
from node.rpc.app import build_rpc_server
from node.rpc.inproc import InProcessProvider
from openledger.config import NetworkConfig
from openledger.contracts.artifacts import ARTIFACTS_DIR, L2_CONTRACTS, load_artifact
from openledger.contracts.deploy import DEPLOYMENT_FILE, DeploySettings, ensure_deployed
from openledger.contracts.exceptions import ContractError
from openledger.contracts.transactor import Transactor
from openledger.store import LevelStore
from openledger.types import Address
from sequencer.builder import BlockProducer
from sequencer.mempool import Mempool
from sequencer.pool_adapter import SequencerPool
from sequencer.rollup_services import BatcherLabels, L1Settings, RollupServices

log = logging.getLogger(__name__)


class SequencerNode:
    """Everything a sequencer runs, sharing one event loop and one LevelDB database."""

    def __init__(
        self,
        config: NetworkConfig,
        datadir: Path,
        deployer: LocalAccount | None = None,
        artifacts_dir: Path = ARTIFACTS_DIR,
        l1: L1Settings | None = None,
    ) -> None:
        """``deployer``: if given, the L2 contracts are deployed from it at start (devnet).
        ``l1``: the rollup's L1 (origins and deposits, batcher, proposer); without it the L2
        runs standalone on the configured L1 origin."""
        self.config = config
        self.datadir = datadir
        self.deployer = deployer
        self.artifacts_dir = artifacts_dir
        self.l2_contracts: dict[str, Address] = {}
        """Name -> address of the Payable-AI contracts, once deployed or found."""
        self.deploy_error: str | None = None
        """Why the contracts could not be deployed, for the banner."""
        self.chain = Chain.open(config, datadir)
        journal: LevelStore = self.chain.store.level
        self.mempool = Mempool(
            config.mempool,
            config.chain.chain_id,
            config.chain.gas_limit,
            self.chain.state_at(self.chain.head),
            journal,
        )
        self.l1 = RollupServices(l1, self.chain, datadir) if l1 is not None else None
        self.producer = BlockProducer(
            self.chain,
            self.mempool,
            config.chain.block_time,
            l1_origins=self.l1.watcher if self.l1 is not None else None,
        )
        self.pool = SequencerPool(self.chain, self.mempool, self.producer.notify)
        restored = self.mempool.restore(self.pool.next_base_fee())
        if restored:
            log.info("restored %d journaled transactions", restored)
        self.rpc = build_rpc_server(
            self.chain,
            self.pool,
            config.rpc,
            l2_contracts=lambda: self.l2_contracts,
            labels=BatcherLabels(self.l1) if self.l1 is not None else None,
        )

    def _deploy_contracts(self, loop: asyncio.AbstractEventLoop) -> None:
        """Find or deploy the L2 contracts through the in-process provider (worker thread).

        In-process and before the port opens, so no client races dev account 0's nonces and
        ``openledger_rollupConfig`` has the addresses from the first request on.
        """
        assert self.deployer is not None
        w3 = Web3(InProcessProvider(self.rpc.dispatcher, loop))
        artifacts = tuple(load_artifact(name, self.artifacts_dir) for name in L2_CONTRACTS)
        transactor = Transactor(w3, self.deployer, artifacts)
        deployment, fresh = ensure_deployed(
            transactor,
            self.datadir / DEPLOYMENT_FILE,
            DeploySettings(artifacts_dir=self.artifacts_dir),
        )
        self.l2_contracts = {
            name: Address(to_canonical_address(address))
            for name, address in deployment.contracts.items()
        }
        log.info(
            "%s the L2 contracts: %s",
            "deployed" if fresh else "found",
            ", ".join(f"{k}={v}" for k, v in deployment.contracts.items()),
        )

    async def serve(self, on_ready: asyncio.Event | None = None) -> None:
        """Run the block producer and the RPC server until the server shuts down (SIGINT/TERM)."""
        server = self.rpc.uvicorn_server(self.config.rpc.host, self.config.rpc.port)
        if self.l1 is not None:
            loop = asyncio.get_running_loop()
            self.l1.start(Web3(InProcessProvider(self.rpc.dispatcher, loop)))
        producer = asyncio.create_task(self.producer.run())
        if self.mempool.status()[0]:
            self.producer.notify()
        try:
            if self.deployer is not None:
                try:
                    await asyncio.to_thread(self._deploy_contracts, asyncio.get_running_loop())
                except ContractError as exc:
                    # The chain is still useful without them; say why loudly and serve on.
                    self.deploy_error = str(exc)
                    log.error("L2 contracts not deployed: %s", exc)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if on_ready is not None:
                on_ready.set()
            await serving
        finally:
            if self.l1 is not None:
                # Off the loop: the L1 threads may be waiting on in-process L2 calls.
                await asyncio.to_thread(self.l1.stop)
            self.producer.stop()
            await asyncio.gather(producer, return_exceptions=True)
            self.chain.close()
