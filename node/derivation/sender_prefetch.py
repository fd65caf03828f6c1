"""Recover the senders of batches ahead of execution, in worker processes (geth's senderCacher).

A full node holds a whole channel's transactions as soon as it has read the channel, long
before it executes them, while the sequencer meets its transactions one at a time. So
derivation hands every batch's raw transactions to worker processes the moment the channel
stage yields them; by the time a block is built, its senders are recovered and its FastLZ
lengths counted, and this process only decodes (``node.transactions.admit_recovered``). The
CPU-bound part of admission thereby runs on another core, beside execution.

Nothing is trusted that this process could not check: a sender counts only for the very
signature this process decodes, and a transaction a worker could not recover (or a worker that
died) is admitted here as usual, with the usual error.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor

from node.sender_worker import Recovered, exit_with_parent, recover_chunk
from node.transactions import AdmittedTransaction, admit, admit_recovered

log = logging.getLogger(__name__)

CHUNK = 200
"""Transactions per task: large enough that pickling is small beside the work."""

MAX_PENDING = 200_000
"""Transactions whose results are kept waiting; beyond that the oldest are forgotten (those of
batches that were rejected and will never be executed)."""


class SenderPrefetch:
    """Sender recovery for transactions that will be admitted soon; see the module docstring."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: OrderedDict[bytes, tuple[Future[list[Recovered]], int]] = OrderedDict()

    def start(self) -> None:
        """Start the worker processes now (they take a moment to import), not at first use.
        If they cannot start, say so and recover senders in this process instead."""
        if self.workers <= 0 or self._pool is not None:
            return
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
        )
        try:
            pool.submit(recover_chunk, []).result()
        except Exception as exc:  # e.g. BrokenProcessPool where processes cannot be spawned
            log.warning("sender recovery workers did not start (%s); recovering here", exc)
            pool.shutdown(wait=False, cancel_futures=True)
            self.workers = 0
            return
        self._pool = pool

    def prefetch(self, raws: Iterable[bytes]) -> None:
        """Start recovering ``raws``; :meth:`admit` picks the results up."""
        self.start()
        if self._pool is None:
            return
        todo = [raw for raw in raws if raw and raw not in self._pending]
        for offset in range(0, len(todo), CHUNK):
            chunk = todo[offset : offset + CHUNK]
            future = self._pool.submit(recover_chunk, chunk)
            for index, raw in enumerate(chunk):
                self._pending[raw] = (future, index)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def admit(self, raw: bytes, chain_id: int) -> AdmittedTransaction:
        """``node.transactions.admit(raw, chain_id)``, with the sender recovered ahead."""
        entry = self._pending.pop(raw, None)
        if entry is None:
            return admit(raw, chain_id)
        future, index = entry
        try:
            recovered = future.result()[index]
        except Exception as exc:  # a worker died or was shut down: do the work here
            log.warning("sender recovery worker failed (%s); recovering here", exc)
            return admit(raw, chain_id)
        return admit_recovered(raw, chain_id, recovered)

    def reset(self) -> None:
        """Forget what was fetched (the pipeline reads its channels again after a reset)."""
        self._pending.clear()

    def close(self) -> None:
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
