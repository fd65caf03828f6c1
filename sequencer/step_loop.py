"""A thread that calls `step()` every `poll_s` seconds until stopped: the batcher's and proposer's.

L1 trouble (`L1Error`) is expected and logged as a warning; any other exception is a bug, logged
with its traceback, and the loop goes on, so one bad step never silently ends batching or
proposing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from openledger.l1.exceptions import L1Error

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 10.0


class StepLoop:
    def __init__(
        self, name: str, step: Callable[[], object], stop: threading.Event, poll_s: float
    ) -> None:
        self.name = name
        self.step = step
        self.stop_event = stop
        self.poll_s = poll_s
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.step()
            except L1Error as exc:
                if not self.stop_event.is_set():
                    log.warning("%s: %s", self.name, exc)
            except Exception:
                log.exception("%s step failed", self.name)
            self.stop_event.wait(self.poll_s)
