"""Stopping a child process the devnet started (anvil, the AI service): ask, then insist."""

from __future__ import annotations

import subprocess

STOP_TIMEOUT_S = 15.0


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; nothing if it is not running."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
