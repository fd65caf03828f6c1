"""The devnet's AI service, run as its own process: `openledger serve --demo` against the devnet.

A separate process, not an import: the service reaches the chain only over JSON-RPC (DESIGN.md),
loads torch, which the sequencer never needs, and can crash or be restarted without touching the
chain. The devnet starts it once its JSON-RPC answers and stops it when the devnet stops.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from sequencer.child_process import stop_process

log = logging.getLogger(__name__)


class AiService:
    """The child process; its banner and logs go to the devnet's own output."""

    def __init__(self, rpc_url: str, deployment: Path, data_dir: Path, port: int) -> None:
        self.command = [
            sys.executable,
            "-m",
            "openledger.cli",
            "serve",
            "--demo",
            "--rpc",
            rpc_url,
            "--contracts",
            str(deployment),
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ]
        self.url = f"http://127.0.0.1:{port}/v1"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log.info("starting the AI service on %s", self.url)
        self.process = subprocess.Popen(self.command)

    def stop(self) -> None:
        stop_process(self.process)
