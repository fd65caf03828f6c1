"""``openledger devnet`` with its own anvil L1, as a process, for the rollup's end-to-end tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.targets import REPO_ROOT, free_port, rpc_call, stop_process

OPENLEDGER = REPO_ROOT / ".venv" / "bin" / "openledger"
TIMEOUT_S = 120.0


def wait_for(what: str, condition: Callable[[], Any], timeout: float = TIMEOUT_S) -> Any:
    """The first truthy value of ``condition()``; connection and RPC errors count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (OSError, RuntimeError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def start(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """``openledger ARGS`` in its own session, output to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(OPENLEDGER), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            start_new_session=True,
        )


@dataclass(frozen=True)
class RollupDevnet:
    url: str
    """The sequencer's JSON-RPC."""
    l1_url: str
    datadir: Path
    log: Path


@contextmanager
def rollup_devnet(tmp_path: Path, *flags: str) -> Iterator[RollupDevnet]:
    """A running devnet (1 s blocks on both layers, no AI service) plus extra ``flags``."""
    port, l1_port = free_port(), free_port()
    datadir, log = tmp_path / "devnet", tmp_path / "devnet.log"
    args = ["devnet", "--datadir", str(datadir), "--rpc-port", str(port), "--block-time", "1"]
    args += ["--l1-port", str(l1_port), "--l1-block-time", "1", "--no-ai", *flags]
    process = start(args, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the devnet", lambda: rpc_call(url, "eth_chainId", timeout=2))
        yield RollupDevnet(url, f"http://127.0.0.1:{l1_port}", datadir, log)
    finally:
        stop_process(process)


@dataclass(frozen=True)
class FullNodeProcess:
    url: str
    process: subprocess.Popen[bytes]


def start_full_node(
    devnet_datadir: Path, l1_url: str, datadir: Path, *flags: str
) -> FullNodeProcess:
    """``openledger node`` on the devnet's rollup.json and L1 (polling L1 every 0.2 s), its log
    beside ``datadir``; the caller stops it (``stop_process``)."""
    port = free_port()
    args = ["node", "--rollup-config", str(devnet_datadir / "rollup.json"), "--l1-rpc", l1_url]
    args += ["--datadir", str(datadir), "--rpc-port", str(port), "--poll-interval", "0.2", *flags]
    process = start(args, datadir.with_suffix(".log"))
    return FullNodeProcess(f"http://127.0.0.1:{port}", process)
