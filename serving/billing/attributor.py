"""Attribution off the request's path: recorded answers are scored here, then settled.

`record` returns as soon as the answer is durable; this thread asks the `AttributionSource`
for the credit of each answer in arrival order, stores it (`ResponseLedger.set_attribution`)
and hands the now complete record to the settler. Scoring that fails (a broken attribution
file, a model that does not load) must not cost the operator the fee: the answer is credited
to the Datanet pool instead and the failure logged. Only when even that fails (the chain is
unreachable) does the record wait and try again; a restart re-queues whatever was left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from attribution.pool import DatanetPool
from attribution.weights import Weights
from serving.api.ports import AnsweredChoice
from serving.billing.attribution import AttributionSource
from serving.billing.ledger import ResponseLedger, ResponseRecord

log = logging.getLogger(__name__)

RETRY_S = 2.0
"""Wait before trying a record again when not even the pool's manifest could be read."""

Job = tuple[ResponseRecord, Sequence[AnsweredChoice]]


class Attributor:
    """Queue of recorded answers and the thread that credits them."""

    def __init__(
        self,
        source: AttributionSource,
        fallback: DatanetPool,
        ledger: ResponseLedger,
        on_attributed: Callable[[ResponseRecord], None],
    ) -> None:
        self.source = source
        self.fallback = fallback
        self.ledger = ledger
        self.on_attributed = on_attributed
        self._queue: deque[Job] = deque()
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, record: ResponseRecord, choices: Sequence[AnsweredChoice]) -> None:
        with self._cond:
            self._queue.append((record, choices))
            self._cond.notify_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="attributor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop after the answer in hand; the queued ones stay `attributing` on disk."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every submitted answer is credited; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                record, choices = self._queue.popleft()
                self._busy = True
            credited: ResponseRecord | None = None
            try:
                credited = self._credit(record, choices)
            finally:
                with self._cond:
                    self._busy = False
                    if credited is None:
                        self._queue.append((record, choices))
                    self._cond.notify_all()
            if credited is None:
                time.sleep(RETRY_S)
            else:
                self.on_attributed(credited)

    def _credit(
        self, record: ResponseRecord, choices: Sequence[AnsweredChoice]
    ) -> ResponseRecord | None:
        """Score and store one answer; None when it must be tried again later."""
        try:
            credit = self._score(record, choices)
        except Exception:
            log.exception("could not credit %s even to the pool: will retry", record.response_id)
            return None
        return self.ledger.set_attribution(record, credit)

    def _score(self, record: ResponseRecord, choices: Sequence[AnsweredChoice]) -> Weights:
        try:
            return self.source.attribute(record.adapter_id, choices)
        except Exception:
            log.exception(
                "attribution of %s (adapter-%d) failed: crediting the datanet pool",
                record.response_id,
                record.adapter_id,
            )
            return self.fallback.attribute(record.adapter_id, choices)
