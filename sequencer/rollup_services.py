"""The sequencer's L1 side in one object: the L1 watcher, the batcher and the proposer.

:class:`SequencerNode` builds it with the chain (the watcher is the block builder's origin
source from the first block on) and starts the batcher and proposer once its event loop runs,
because they read the L2 through the in-process JSON-RPC provider.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from eth.abc import BlockHeaderAPI
from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain import Chain
from openledger.l1.client import L1Client
from openledger.l1.rollup_file import RollupFile
from openledger.l1.tx_manager import TxManager, TxManagerConfig
from sequencer.batcher import Batcher, BatcherConfig
from sequencer.batcher_progress import PROGRESS_FILE, ProgressFile
from sequencer.l1_watcher import L1Watcher
from sequencer.l2_blocks import L2Blocks
from sequencer.proposer import Proposer


@dataclass(frozen=True)
class L1Settings:
    """How the sequencer reaches L1 and with which keys."""

    rollup: RollupFile
    l1_rpc: str
    batcher_key: LocalAccount
    proposer_key: LocalAccount
    origin_confirmations: int = 1
    """How deep an L1 block must be to become an L1 origin."""
    tx: TxManagerConfig = field(default_factory=TxManagerConfig)
    batcher: BatcherConfig = field(default_factory=BatcherConfig)


class RollupServices:
    def __init__(self, settings: L1Settings, chain: Chain, datadir: Path) -> None:
        self.chain = chain
        self.settings = settings
        self.datadir = datadir
        self.client = L1Client(settings.l1_rpc)
        self.watcher = L1Watcher(self.client, chain, settings.rollup, settings.origin_confirmations)
        self._stop = threading.Event()
        self.batcher: Batcher | None = None
        self.proposer: Proposer | None = None

    def start(self, l2: Web3) -> None:
        """Start polling L1 and, with ``l2`` (a client of this node), batching and proposing."""
        rollup = self.settings.rollup
        self.watcher.start()
        self.batcher = Batcher(
            L2Blocks(l2),
            self.client,
            TxManager(self.client, self.settings.batcher_key, self.settings.tx, self._stop),
            rollup.batch_inbox_address,
            rollup.l2_chain_id,
            rollup.channel_timeout,
            ProgressFile(self.datadir / PROGRESS_FILE),
            self.settings.batcher,
        )
        batcher = self.batcher
        self.proposer = Proposer(
            l2,
            self.client,
            TxManager(self.client, self.settings.proposer_key, self.settings.tx, self._stop),
            rollup.l1_contracts.output_oracle,
            safe_head=lambda: batcher.confirmed_through,
        )
        self.batcher.start()
        self.proposer.start()

    def stop(self) -> None:
        """Stop every thread (blocking: call it off the event loop the L2 client needs)."""
        self._stop.set()
        self.watcher.stop()
        if self.batcher is not None:
            self.batcher.stop()
        if self.proposer is not None:
            self.proposer.stop()


class BatcherLabels:
    """The sequencer's ``safe`` and ``finalized`` block tags (``node.rpc.labels.HeadLabels``).

    ``safe``: the last L2 block whose batch the batcher has seen confirmed on L1, which is what
    a full node deriving from the same L1 calls safe. ``finalized`` stays at genesis: the
    batcher does not track which L1 block holds each channel, and a tag must never claim more
    than L1 gave.
    """

    def __init__(self, services: RollupServices) -> None:
        self.services = services
        self._genesis = services.chain.header_by_number(0)

    @property
    def safe(self) -> BlockHeaderAPI:
        batcher = self.services.batcher
        if batcher is None:
            return self._genesis
        chain = self.services.chain
        return chain.header_by_number(min(batcher.confirmed_through, chain.head.block_number))

    @property
    def finalized(self) -> BlockHeaderAPI:
        return self._genesis
