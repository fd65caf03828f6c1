"""The sequencer's L1 side in one object: the L1 watcher, the batcher and the proposer.

:class:`SequencerNode` builds it with the chain (the watcher is the block builder's origin
source from the first block on) and starts the batcher and proposer once its event loop runs,
because they read the L2 through the in-process JSON-RPC provider.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from eth.abc import BlockHeaderAPI
from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain import Chain
from openledger.l1.client import L1Client
from openledger.l1.exceptions import L1Unavailable
from openledger.l1.rollup_file import RollupFile
from openledger.l1.system_config import SystemConfigReader
from openledger.l1.tx_manager import TxManager, TxManagerConfig
from sequencer.batcher import Batcher, BatcherConfig
from sequencer.batcher_progress import PROGRESS_FILE, Confirmation, ProgressFile
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


FINALITY_POLL_S = 2.0
"""How long the sequencer's ``finalized`` tag trusts its last look at L1."""


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
            SystemConfigReader(self.client, rollup.l1_contracts.system_config),
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
    a full node deriving from the same L1 calls safe. ``finalized``: the last L2 block whose
    channel landed in an L1 block that L1 calls finalized, checked against L1 (the channel's
    last transaction is still in that block: a reorg before finality may have moved it), so a
    tag never claims more than L1 gave. Reads of L1 are cached for `FINALITY_POLL_S`: a tag
    is read on every JSON-RPC call that names it.
    """

    def __init__(self, services: RollupServices) -> None:
        self.services = services
        self._genesis = services.chain.header_by_number(0)
        self._final = Confirmation(0, 0, b"")
        """The newest confirmation checked final: finality never goes back."""
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def safe(self) -> BlockHeaderAPI:
        batcher = self.services.batcher
        if batcher is None:
            return self._genesis
        chain = self.services.chain
        return chain.header_by_number(min(batcher.confirmed_through, chain.head.block_number))

    @property
    def finalized(self) -> BlockHeaderAPI:
        with self._lock:
            if time.monotonic() - self._checked_at >= FINALITY_POLL_S:
                self._checked_at = time.monotonic()
                self._advance()
            through = self._final.l2_through
        chain = self.services.chain
        return chain.header_by_number(min(through, chain.head.block_number))

    def _advance(self) -> None:
        batcher = self.services.batcher
        if batcher is None:
            return
        pending = [
            c for c in batcher.progress.confirmations if c.l2_through > self._final.l2_through
        ]
        if not pending:
            return
        client = self.services.client
        try:
            l1_final = client.finalized().number
            for confirmation in reversed(pending):  # the newest final one settles all before it
                if confirmation.l1_block > l1_final:
                    continue
                receipt = client.receipt(confirmation.tx_hash)
                if receipt is not None and receipt.block_number == confirmation.l1_block:
                    self._final = confirmation
                    return
        except L1Unavailable:
            return  # L1 unreachable: keep what was known
