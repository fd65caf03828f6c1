"""The progress a job reports, one event per step, evaluation, checkpoint and at the end.

Events carry exact counts (step, total steps, tokens) rather than percentages, so a page or a log
line can show them as they are and two runs can be compared event by event.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    STEP = "step"
    """An optimizer step finished; `train_loss` is that batch's mean loss per target token."""
    EVAL = "eval"
    """The held-out loss at the end of an epoch; `eval_loss` is set."""
    CHECKPOINT = "checkpoint"
    """A checkpoint at `step` is on disk; a resume would continue after it."""
    DONE = "done"
    """The adapter is saved; `eval_loss` is the final held-out loss."""


@dataclass(frozen=True)
class ProgressEvent:
    kind: EventKind
    step: int
    """Optimizer steps done, counted over the whole job (a resume continues the count)."""
    total_steps: int
    epoch: int
    """1-based epoch the step belongs to."""
    epochs: int
    tokens_seen: int
    """Real (non-padding) tokens trained on so far."""
    tokens_per_second: float
    """Training throughput of this run since it started (or resumed)."""
    eta_seconds: float | None
    """Estimated seconds to the last step at this run's pace; None before the first step."""
    train_loss: float | None = None
    eval_loss: float | None = None


ProgressCallback = Callable[[ProgressEvent], None]
CancelCheck = Callable[[], bool]
"""Asked before every step; True stops the job (e.g. `threading.Event().is_set`)."""


class Pace:
    """Throughput and ETA of the current run, counting only its own steps and time."""

    def __init__(self, first_step: int, total_steps: int) -> None:
        self._start = time.perf_counter()
        self._first_step = first_step
        self._total = total_steps
        self._tokens = 0

    def add_tokens(self, tokens: int) -> None:
        self._tokens += tokens

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def tokens_per_second(self) -> float:
        elapsed = self.elapsed()
        return self._tokens / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self, step: int) -> float | None:
        done = step - self._first_step
        if done <= 0:
            return None
        return (self._total - step) * self.elapsed() / done
