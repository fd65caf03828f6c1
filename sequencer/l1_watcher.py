"""The L1 watcher: the L1 origin and deposits of each next L2 block, as OP's sequencer picks them.

Origin rule (``L1Watcher.__call__``, the builder's :class:`~sequencer.l1_origin.L1OriginSource`):
an L2 block keeps its parent's L1 origin unless the next L1 block (origin number + 1) is known,
is at least ``confirmations`` deep, is the child of the current origin, and its timestamp is
not after the L2 block's; then it moves to that block, so origins never skip an L1 block and
an L2 block is never older than its origin. Past ``max_sequencer_drift`` the origin *must*
move; if L1 has nothing confirmed to move to, the block stays on the old origin and the watcher
says so in the log (the builder has no way to leave user transactions out).

Deposits: the L2 deposit transactions of the origin's ``TransactionDeposited`` portal logs
(:func:`node.deposits.deposit_from_log`) are handed over with the block that moves to that
origin, and only then. The rule is a function of the parent block, not of watcher state, so a
failed build or a restart can neither lose nor repeat them.

Batcher: the L1-attributes deposit records the batcher in force at the origin, as op-node
does (derivation writes the same): the parent block's, changed by the ``BatcherUpdated``
events of a new origin. Like deposits, it depends only on the parent block.

L1 is read by a background thread that prefetches the blocks after the current origin with
their logs into a cache; the builder only reads the cache, so a slow or unreachable L1 never
delays block production (the origin just stops advancing).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

from eth.abc import BlockHeaderAPI, SignedTransactionAPI

from node.chain import Chain
from node.deposits import (
    TRANSACTION_DEPOSITED_TOPIC,
    DepositLog,
    InvalidDepositLog,
    deposit_from_log,
)
from node.l1_info import (
    FeeScalars,
    L1Attributes,
    L1Origin,
    block_l1_attributes,
    configured_attributes,
)
from openledger.l1.client import L1Block, L1Client
from openledger.l1.exceptions import L1Unavailable
from openledger.l1.rollup_file import RollupFile
from openledger.l1.system_config import BATCHER_UPDATED_TOPIC, SystemConfig, SystemConfigLog
from sequencer.l1_origin import NextL1Origin

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.0
PREFETCH_BLOCKS = 32
"""L1 blocks cached ahead of the current origin (a sequencer that fell behind catches up at
one origin per L2 block, so more would only be read early)."""


@dataclass(frozen=True)
class L1Epoch:
    """One confirmed L1 block and the L2 deposits of its portal logs."""

    block: L1Block
    deposits: tuple[SignedTransactionAPI, ...]
    batcher: bytes | None = None
    """The batcher this block's SystemConfig events set, if any (the last one)."""

    def scalars(self, parent: FeeScalars) -> FeeScalars:
        """The fee fields of a block on this origin whose parent's are ``parent``."""
        if self.batcher is None:
            return parent
        return replace(parent, batcher_hash=bytes(12) + self.batcher)

    def origin(self) -> L1Origin:
        return L1Origin(
            number=self.block.number,
            timestamp=self.block.timestamp,
            hash=self.block.hash,
            base_fee=self.block.base_fee,
            blob_base_fee=self.block.blob_base_fee,
        )


class L1Watcher:
    """Implements ``L1OriginSource``; :meth:`start` the poller before the block producer runs."""

    def __init__(
        self,
        client: L1Client,
        chain: Chain,
        rollup: RollupFile,
        confirmations: int = 1,
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be at least 1 (1 = the L1 head itself)")
        self.client = client
        self.chain = chain
        self.rollup = rollup
        self.confirmations = confirmations
        self.poll_s = poll_s
        self._genesis = configured_attributes(rollup.node_rollup())
        self._genesis_origin = self._genesis.origin
        self._scalars: FeeScalars = self._genesis.scalars
        self._lock = threading.Lock()
        self._epochs: dict[int, L1Epoch] = {}
        self._current = self._genesis_origin
        """The origin of the newest L2 block asked about; the poller fetches from its child."""
        self._warned_drift: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._current = self.origin_of(self.chain.head)
        self._thread = threading.Thread(target=self._poll_loop, name="l1-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def attributes_of(self, header: BlockHeaderAPI) -> L1Attributes:
        """What an L2 block's L1-attributes deposit set (genesis: the rollup's)."""
        attributes = block_l1_attributes([o.tx for o in self.chain.outcomes(header)[:1]])
        return self._genesis if attributes is None else attributes

    def origin_of(self, header: BlockHeaderAPI) -> L1Origin:
        """The L1 origin an L2 block names in its L1-attributes deposit (genesis: the rollup's)."""
        return self.attributes_of(header).origin

    def __call__(self, parent: BlockHeaderAPI, timestamp: int) -> NextL1Origin:
        recorded = self.attributes_of(parent)
        current = recorded.origin
        # rollup.json's scalars, with the batcher in force at the parent's origin.
        scalars = replace(self._scalars, batcher_hash=recorded.scalars.batcher_hash)
        with self._lock:
            self._current = current
            following = self._epochs.get(current.number + 1)
        if (
            following is not None
            and following.block.parent_hash == current.hash
            and following.block.timestamp <= timestamp
        ):
            return NextL1Origin(
                origin=following.origin(),
                scalars=following.scalars(scalars),
                deposits=following.deposits,
            )
        drifted = timestamp > current.timestamp + self.rollup.max_sequencer_drift
        if drifted and self._warned_drift != current.number:
            self._warned_drift = current.number
            log.warning(
                "L2 time %d is past L1 origin %d's time %d + max sequencer drift %d, and no "
                "confirmed next L1 block: deposit-only blocks until the origin can advance",
                timestamp,
                current.number,
                current.timestamp,
                self.rollup.max_sequencer_drift,
            )
        return NextL1Origin(origin=current, scalars=scalars, deposits_only=drifted)

    # -- the poller (its own thread) --------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except L1Unavailable as exc:
                log.warning("L1 watcher: %s", exc)
            except Exception:  # a bug must not silently freeze the L1 origin: log, go on
                log.exception("L1 watcher poll failed")
            self._stop.wait(self.poll_s)

    def poll(self) -> None:
        """Cache the confirmed L1 blocks after the current origin, with their deposits."""
        with self._lock:
            current = self._current
            for number in [n for n in self._epochs if n <= current.number]:
                del self._epochs[number]
        confirmed = self.client.head().number - self.confirmations + 1
        parent_hash = current.hash
        for number in range(
            current.number + 1, min(confirmed, current.number + PREFETCH_BLOCKS) + 1
        ):
            with self._lock:
                cached = self._epochs.get(number)
            if cached is None:
                block = self.client.block(number)
                if block is None:
                    return
                cached = L1Epoch(block, self._deposits(block), self._new_batcher(block))
            if cached.block.parent_hash != parent_hash:
                # A reorg deeper than `confirmations` replaced what we cached (or the origin).
                log.warning("L1 block %d does not extend the cached chain: refetching", number)
                with self._lock:
                    for stale in [n for n in self._epochs if n >= number]:
                        del self._epochs[stale]
                return
            with self._lock:
                self._epochs[number] = cached
            parent_hash = cached.block.hash

    def _new_batcher(self, block: L1Block) -> bytes | None:
        """The batcher that SystemConfig's ``BatcherUpdated`` events in ``block`` set, if any."""
        logs = self.client.logs(
            block.hash, self.rollup.l1_contracts.system_config, BATCHER_UPDATED_TOPIC
        )
        if not logs:
            return None
        unset = SystemConfig(batcher=b"", batch_inbox=b"")
        batcher = unset.updated(
            SystemConfigLog(entry.topics, entry.log_index)
            for entry in sorted(logs, key=lambda entry: entry.log_index)
        ).batcher
        if not batcher:
            return None
        log.info("L1 block %d sets the batcher to 0x%s", block.number, batcher.hex())
        return batcher

    def _deposits(self, block: L1Block) -> tuple[SignedTransactionAPI, ...]:
        deposits = []
        logs = self.client.logs(
            block.hash, self.rollup.l1_contracts.portal, TRANSACTION_DEPOSITED_TOPIC
        )
        for entry in logs:
            try:
                deposits.append(
                    deposit_from_log(
                        DepositLog(entry.topics, entry.data, entry.block_hash, entry.log_index)
                    )
                )
            except InvalidDepositLog as exc:
                log.error(
                    "skipping portal log %d of L1 block %d: %s", entry.log_index, block.number, exc
                )
        if deposits:
            log.info("L1 block %d has %d deposits", block.number, len(deposits))
        return tuple(deposits)
