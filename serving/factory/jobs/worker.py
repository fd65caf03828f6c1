"""The worker: one thread per device, running the queued jobs one after the other.

A device trains one job at a time (two would fight over its memory and each run slower), so a
worker claims the oldest queued job, trains it with ``resume=True`` in ``<output_root>/<job id>``
and records the outcome. ``resume=True`` is what makes a restart harmless: a job that was running
when the process died is back at the front of the queue (see `JobStore`) and continues from its
newest checkpoint instead of starting over.

Stopping the worker (`request_stop`, service shutdown) interrupts the running job through the
trainer's cancel check but leaves it ``running`` in the store, exactly like a crash: the next
start resumes it. Only a user's cancel (the store's flag) makes a job ``cancelled``.

Step events are many (one per optimizer step) and each commit is an fsync, so they are written
in batches, at most every `flush_seconds`; every other event (evaluation, checkpoint, end) is
written at once, so the events on disk always reach the newest checkpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from serving.factory.data.datanet import DatanetSpecError
from serving.factory.data.formats import DatasetError
from serving.factory.data.manifest import TrainingManifest
from serving.factory.jobs.render import to_training_examples
from serving.factory.jobs.sources import DatasetSource, source_for
from serving.factory.jobs.store import Job, JobStatus, JobStore, NewEvent
from serving.factory.training import (
    EventKind,
    ProgressEvent,
    TrainingCancelled,
    TrainingConfig,
    TrainingDataError,
    TrainingExample,
    TrainingResult,
    train,
)
from serving.factory.training.checkpoint import latest_checkpoint, read_state

log = logging.getLogger("serving.factory.jobs")

AttributionHook = Callable[
    [TrainingResult, Sequence[TrainingExample], TrainingManifest], Mapping[str, Any]
]
"""Called after training with the examples trained on, before `SuccessHook`: builds what Proof
of Attribution needs; what it returns is recorded under the result's ``attribution``. If it
raises, the job still succeeds (its answers then credit the Datanet pool) and says so."""
SuccessHook = Callable[[Job, TrainingResult, TrainingManifest], Mapping[str, Any] | None]
"""Called with a succeeded job and its result (registration on chain, loading into serving);
what it returns is recorded under the result's ``hook``; if it raises, the job fails with its
message and the adapter stays on disk."""


def fine_tuned_model_name(job: Job) -> str:
    """OpenAI's ``ft:<base>:<suffix>:<id>`` (empty suffix when none was given)."""
    return f"ft:{job.model}:{job.suffix or ''}:{job.id}"


class JobWorker:
    """Trains the store's queued jobs on one device, in a thread of its own."""

    def __init__(
        self,
        store: JobStore,
        sources: Sequence[DatasetSource],
        base_models: Mapping[str, str | Path],
        output_root: Path,
        *,
        on_success: SuccessHook | None = None,
        attribution: AttributionHook | None = None,
        flush_seconds: float = 1.0,
        idle_poll_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.sources = sources
        self.base_models = base_models
        self.output_root = Path(output_root)
        self.on_success = on_success
        self.attribution = attribution
        self.flush_seconds = flush_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fine-tuning-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop before the running job's next step (it stays ``running``: resumed at restart)."""
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self, timeout: float | None = None) -> None:
        self.request_stop()
        self.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            job = self.store.claim_next()
            if job is None:
                self._wake.wait(self.idle_poll_seconds)
                self._wake.clear()
                continue
            self.run_job(job)

    def run_job(self, job: Job) -> None:
        """Train one claimed job to its final status (or leave it running if stopping)."""
        events = _EventWriter(self.store, job.id, self.flush_seconds)
        events.message(f"Fine-tuning job started on {job.training_file}")
        checkpoint = latest_checkpoint(self.output_root / job.id)
        if checkpoint is not None:  # a restart: say where it continues, for the job's events
            events.message(f"Resuming from the checkpoint at step {read_state(checkpoint).step}")
        try:
            result, examples, manifest = self._train(job, events.progress)
        except TrainingCancelled as exc:
            events.flush()
            if self.store.cancel_requested(job.id):
                self.store.finish(job.id, JobStatus.CANCELLED, message=f"Job cancelled: {exc}")
            else:
                events.message(f"Worker stopped after step {exc.step}; the job resumes at restart")
            return
        except (DatasetError, DatanetSpecError, TrainingDataError, ValueError) as exc:
            events.flush()
            self._fail(job, "invalid_training_file", str(exc), "training_file")
            return
        except Exception as exc:
            log.exception("fine-tuning job %s failed", job.id)
            events.flush()
            self._fail(job, "training_failed", f"{type(exc).__name__}: {exc}", None)
            return
        events.flush()
        attribution = self._attribution(job, result, examples, manifest, events)
        self._succeed(job, result, manifest, attribution)

    def _attribution(
        self,
        job: Job,
        result: TrainingResult,
        examples: Sequence[TrainingExample],
        manifest: TrainingManifest,
        events: _EventWriter,
    ) -> Mapping[str, Any] | None:
        if self.attribution is None:
            return None
        try:
            built = self.attribution(result, examples, manifest)
        except Exception as exc:
            log.exception("attribution data of fine-tuning job %s could not be built", job.id)
            events.message(
                f"Attribution data could not be built ({type(exc).__name__}: {exc}); "
                "answers will credit the whole Datanet version equally"
            )
            return {"error": f"{type(exc).__name__}: {exc}"}
        events.message(
            f"Attribution data built: {built['method']} over {built['examples']} examples "
            f"of {built['contributions']} contributions"
        )
        return built

    def _train(
        self, job: Job, progress: Callable[[ProgressEvent], None]
    ) -> tuple[TrainingResult, list[TrainingExample], TrainingManifest]:
        dataset = source_for(self.sources, job.training_file).load(job.training_file)
        config = TrainingConfig.from_json(job.config)
        held_out = None
        examples = dataset.examples
        if config.eval_fraction > 0:
            split = dataset.split(config.eval_fraction)
            examples, held_out = split.train, to_training_examples(split.held_out)
        trained_on = to_training_examples(examples)
        result = train(
            self.base_models[job.model],
            trained_on,
            config,
            self.output_root / job.id,
            held_out=held_out,
            progress=progress,
            cancel=lambda: self._stopping.is_set() or self.store.cancel_requested(job.id),
            resume=True,
        )
        return result, trained_on, dataset.manifest

    def _fail(self, job: Job, code: str, message: str, param: str | None) -> None:
        error = {"code": code, "message": message, "param": param}
        self.store.finish(job.id, JobStatus.FAILED, error=error, message=f"Job failed: {message}")

    def _succeed(
        self,
        job: Job,
        result: TrainingResult,
        manifest: TrainingManifest,
        attribution: Mapping[str, Any] | None,
    ) -> None:
        recorded = result.to_json()
        recorded["manifest"] = manifest.to_json()
        if attribution is not None:
            recorded["attribution"] = dict(attribution)
        recorded["fine_tuned_model"] = fine_tuned_model_name(job)
        if self.on_success is not None:
            try:
                recorded["hook"] = dict(self.on_success(job, result, manifest) or {})
            except Exception as exc:
                log.exception("success hook of fine-tuning job %s failed", job.id)
                message = f"the adapter was trained but could not be published: {exc}"
                error = {"code": "publish_failed", "message": message, "param": None}
                self.store.finish(
                    job.id,
                    JobStatus.FAILED,
                    error=error,
                    result=recorded,
                    message=f"Job failed: {message}",
                )
                return
        self.store.finish(
            job.id,
            JobStatus.SUCCEEDED,
            result=recorded,
            message="The job has successfully completed",
        )


class _EventWriter:
    """Progress events into the store, step events batched (see the module docstring)."""

    def __init__(self, store: JobStore, job_id: str, flush_seconds: float) -> None:
        self.store = store
        self.job_id = job_id
        self.flush_seconds = flush_seconds
        self._pending: list[NewEvent] = []
        self._last_flush = time.monotonic()

    def message(self, text: str) -> None:
        self._pending.append(NewEvent(text))
        self.flush()

    def progress(self, event: ProgressEvent) -> None:
        self._pending.append(_to_event(event))
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if event.kind != EventKind.STEP or due:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.store.add_events(self.job_id, self._pending)
            self._pending = []
        self._last_flush = time.monotonic()


def _to_event(event: ProgressEvent) -> NewEvent:
    data = {
        "step": event.step,
        "total_steps": event.total_steps,
        "epoch": event.epoch,
        "train_loss": event.train_loss,
        "eval_loss": event.eval_loss,
        "tokens_seen": event.tokens_seen,
        "tokens_per_second": event.tokens_per_second,
        "eta_seconds": event.eta_seconds,
    }
    if event.kind == EventKind.STEP:
        return NewEvent(
            f"Step {event.step}/{event.total_steps}: training loss={event.train_loss:.4f}",
            data,
            type="metrics",
        )
    if event.kind == EventKind.EVAL:
        message = f"Epoch {event.epoch}/{event.epochs}: held-out loss={event.eval_loss:.4f}"
    elif event.kind == EventKind.CHECKPOINT:
        message = f"Checkpoint saved at step {event.step}"
    else:
        message = "Adapter saved" + (
            f": held-out loss={event.eval_loss:.4f}" if event.eval_loss is not None else ""
        )
    return NewEvent(message, data, type="metrics" if event.eval_loss is not None else "message")
