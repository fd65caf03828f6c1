"""Settling recorded responses on chain, many per `settleBatch` transaction, in one thread.

Batching: a batch leaves when `max_batch` records wait or the oldest has waited `max_wait_s`.
One transaction carries records of any number of sessions (each settlement carries its own
session and signature), so the fee of a transaction is shared by everything that was waiting.

Failures, each logged in one line:

- the batch reverts (one bad record makes `settleBatch` revert whole): it is split in halves
  and each half retried, down to the single culprits, which the contract refused for a reason
  of their own (expired, revoked, cap, balance, deprecated adapter...) and are marked failed;
- `DuplicateRequest`: the request hash is already on chain; if it was our own earlier
  transaction for this very record, the record is marked settled with that inference;
- the operator cannot settle (not registered, exiting, stake below the minimum) or the node
  cannot be reached, or a transaction's outcome was never seen: the records wait `retry_s` and
  go again; those that may have been sent are first looked up on chain (`inferenceIdOf`), so
  nothing is charged twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from openledger.contracts.exceptions import ContractError, ContractReverted
from openledger.contracts.payments import Inference, PaymentsClient, SignedSession
from openledger.types import Wei
from serving.billing.ledger import ResponseLedger, ResponseRecord
from serving.chain import event_topic, get_logs, head_block

log = logging.getLogger(__name__)

OPERATOR_ERRORS = frozenset({"NotOperator", "OperatorExiting", "InsufficientStake"})
"""Reverts that are the operator's state, not the records': retry later, fail nothing."""
SETTLE_ACTION = "InferencePayments.settleBatch"


@dataclass(frozen=True)
class SettlementPolicy:
    max_batch: int = 32
    """Records per transaction at most (gas grows with records and their contributions)."""
    max_wait_s: float = 2.0
    """Longest a record waits for companions before its batch is sent anyway."""
    retry_s: float = 5.0
    """Pause after the node or the operator could not settle."""


class Settler:
    """Queue of records to settle and the thread that settles them.

    `on_outcome(record)` is called with each record once it is settled or failed for good.
    """

    def __init__(
        self,
        payments: PaymentsClient,
        ledger: ResponseLedger,
        policy: SettlementPolicy,
        on_outcome: Callable[[ResponseRecord], None],
    ) -> None:
        self.payments = payments
        self.ledger = ledger
        self.policy = policy
        self.on_outcome = on_outcome
        self._operator = payments.transactor.sender
        self._settled_topic = event_topic(payments, "InferenceSettled")
        self._queue: deque[tuple[float, ResponseRecord]] = deque()
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._sessions: dict[bytes, SignedSession] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, record: ResponseRecord) -> None:
        with self._cond:
            self._queue.append((time.monotonic(), record))
            self._cond.notify()

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="settler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread after its current batch; what is queued stays pending on disk."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def flush(self) -> int:
        """Settle everything queued now, in the caller's thread; return how many are left
        (postponed because the node or the operator could not settle)."""
        with self._cond:
            records = [record for _, record in self._queue]
            self._queue.clear()
        size = self.policy.max_batch
        postponed = [
            left
            for start in range(0, len(records), size)
            for left in self._process(records[start : start + size])
        ]
        self._requeue(postponed)
        return len(postponed)

    # The thread.

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            postponed = self._process(batch)
            if postponed:
                self._requeue(postponed)
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, self.policy.retry_s)

    def _next_batch(self) -> list[ResponseRecord] | None:
        """Wait until a batch is due; None once closing."""
        with self._cond:
            while not self._stopping:
                if self._queue:
                    age = time.monotonic() - self._queue[0][0]
                    if len(self._queue) >= self.policy.max_batch or age >= self.policy.max_wait_s:
                        count = min(len(self._queue), self.policy.max_batch)
                        return [self._queue.popleft()[1] for _ in range(count)]
                    self._cond.wait(self.policy.max_wait_s - age)
                else:
                    self._cond.wait()
            return None

    def _requeue(self, records: list[ResponseRecord]) -> None:
        with self._cond:
            now = time.monotonic()
            self._queue.extendleft((now, r) for r in reversed(records))

    # Settling; returns the records to try again later.

    def _process(self, batch: list[ResponseRecord]) -> list[ResponseRecord]:
        with self._send_lock:
            unsettled: list[ResponseRecord] = []
            for index, record in enumerate(batch):  # those maybe sent before: on chain yet?
                try:
                    if record.submitted_block is None or not self._resolve(record):
                        unsettled.append(record)
                except ContractError as exc:
                    log.warning("cannot check earlier settlements, retrying later: %s", exc)
                    return unsettled + batch[index:]
            return self._settle(unsettled) if unsettled else []

    def _settle(self, batch: list[ResponseRecord]) -> list[ResponseRecord]:
        try:
            self._send(batch)
            return []
        except ContractReverted as exc:
            if exc.error_name in OPERATOR_ERRORS:
                log.error("operator %s cannot settle, retrying later: %s", self._operator, exc)
                return batch
            if len(batch) == 1:
                self._refuse(batch[0], exc)
                return []
            log.info("settlement of %d reverted (%s): splitting it", len(batch), exc.error_name)
            middle = len(batch) // 2
            return self._settle(batch[:middle]) + self._settle(batch[middle:])
        except ContractError as exc:
            log.warning("settlement of %d not confirmed, retrying later: %s", len(batch), exc)
            return batch

    def _send(self, batch: list[ResponseRecord]) -> None:
        batch = self.ledger.mark_submitted(batch, head_block(self.payments.transactor))
        settlements = [
            Inference(
                r.adapter_id, r.request_hash, r.output_hash, r.contribution_ids, r.weights
            ).settlement(self._session(r.session_digest))
            for r in batch
        ]
        function = self.payments.contract.functions.settleBatch(settlements)
        receipt = self.payments.transactor.transact(SETTLE_ACTION, function)
        settled = {
            bytes(e.args["requestHash"]): e for e in receipt.events_named("InferenceSettled")
        }
        for record in batch:
            event = settled[record.request_hash]
            self.on_outcome(
                self.ledger.mark_settled(
                    record, receipt.tx_hash, int(event.args["inferenceId"]), Wei(event.args["fee"])
                )
            )
        log.info(
            "settled %d inferences in tx 0x%s (block %d, %d gas)",
            len(batch),
            receipt.tx_hash.hex(),
            receipt.block_number,
            receipt.gas_used,
        )

    def _refuse(self, record: ResponseRecord, exc: ContractReverted) -> None:
        if exc.error_name == "DuplicateRequest" and self._resolve(record):
            return
        log.warning("response %s will not be settled: %s", record.response_id, exc)
        self.on_outcome(self.ledger.mark_failed(record, str(exc)))

    def _resolve(self, record: ResponseRecord) -> bool:
        """Whether the record's request hash is already settled on chain; if so, mark it
        settled (our own earlier transaction) or failed (someone else's) and say True."""
        function = self.payments.contract.functions.inferenceIdOf(record.request_hash)
        inference_id = int(
            self.payments.transactor.call("InferencePayments.inferenceIdOf", function)
        )
        if inference_id == 0:
            return False
        transactor = self.payments.transactor
        topics = [self._settled_topic, inference_id.to_bytes(32, "big")]
        from_block = record.submitted_block or 0
        event_type = self.payments.contract.events.InferenceSettled()
        for raw in get_logs(
            transactor, self.payments.address, topics, from_block, head_block(transactor)
        ):
            args = event_type.process_log(raw)["args"]
            if (args["operator"], args["user"], bytes(args["requestHash"])) == (
                self._operator,
                record.user,
                record.request_hash,
            ):
                tx_hash = bytes(raw["transactionHash"])
                settled = self.ledger.mark_settled(record, tx_hash, inference_id, Wei(args["fee"]))
                log.info(
                    "response %s was already settled as inference %d in tx 0x%s",
                    record.response_id,
                    inference_id,
                    tx_hash.hex(),
                )
                self.on_outcome(settled)
                return True
        reason = f"request hash already settled as inference {inference_id} by another settlement"
        log.warning("response %s will not be settled: %s", record.response_id, reason)
        self.on_outcome(self.ledger.mark_failed(record, reason))
        return True

    def _session(self, digest: bytes) -> SignedSession:
        if digest not in self._sessions:
            signed = self.ledger.session(digest)
            if signed is None:
                raise KeyError(f"no stored session 0x{digest.hex()}")
            self._sessions[digest] = signed
        return self._sessions[digest]
