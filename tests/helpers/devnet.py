"""Start, stop and kill an ``openledger devnet`` process for durability tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENLEDGER_BIN = REPO_ROOT / ".venv" / "bin" / "openledger"
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RpcFailure(Exception):
    """A JSON-RPC error response."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


class Devnet:
    """One devnet process on a datadir; the datadir outlives restarts."""

    def __init__(
        self,
        datadir: Path,
        block_time: float = 0,
        port: int | None = None,
        l1_args: tuple[str, ...] = ("--no-l1",),
    ) -> None:
        """``l1_args``: the devnet's L1 flags; by default a standalone L2 (fast to start)."""
        self.datadir = datadir
        self.l1_args = l1_args
        self.block_time = block_time
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()

    def start(self) -> Devnet:
        log = (self.datadir.parent / f"{self.datadir.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(OPENLEDGER_BIN),
                "devnet",
                "--datadir",
                str(self.datadir),
                "--rpc-port",
                str(self.port),
                "--block-time",
                str(self.block_time),
                "--no-ai",
                *self.l1_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"devnet exited with {self.process.returncode}: see {log.name}")
            try:
                self.call("eth_chainId")
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("devnet did not answer in time")

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        payload = self.session.post(self.url, json=body, timeout=30).json()
        if "error" in payload:
            raise RpcFailure(payload["error"])
        return payload["result"]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
