"""Polling for what a background thread or another process does eventually."""

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "the condition",
    interval: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> Any:
    """The first truthy value of `condition()`, polled every `interval` seconds; the
    exceptions in `ignoring` count as "not yet". Fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)
