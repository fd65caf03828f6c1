"""A dev L1 for ``openledger devnet``: anvil from npm ``@foundry-rs/anvil``, owned by the devnet.

Chain id 900, the standard dev accounts, Prague. It starts in automine so the L1 contracts
deploy in well under a second, then switches to interval mining (``evm_setIntervalMining``,
2-second blocks by default). Its state is dumped to the datadir every second and loaded at the
next start, so a devnet restarted on the same datadir finds its L1 (blocks and hashes
included) where it left it, give or take the last second. The child is tied to the devnet's
life with ``PR_SET_PDEATHSIG`` (Linux), so even a ``kill -9`` of the devnet stops it.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from openledger.l1.client import L1Client
from openledger.l1.exceptions import L1Error, L1Unavailable
from sequencer.child_process import stop_process

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_L1_CHAIN_ID = 900
READY_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1


def anvil_binary() -> Path:
    """The native binary the npm package installs (not the Node wrapper in ``.bin``, which adds
    a process between us and anvil's signals), else ``anvil`` on the PATH."""
    native = sorted((REPO_ROOT / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if native:
        return native[0]
    found = shutil.which("anvil")
    if found is None:
        raise L1Error(
            "anvil not found: run `npm ci` (it installs @foundry-rs/anvil) or pass --l1-rpc"
        )
    return Path(found)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DevL1:
    """One anvil process on ``port`` whose state and log live in ``workdir``."""

    def __init__(self, workdir: Path, port: int, block_time: float) -> None:
        self.workdir = workdir
        self.port = port
        self.block_time = block_time
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> L1Client:
        """Start anvil (automine) and return a client once it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            str(anvil_binary()),
            "--chain-id",
            str(DEV_L1_CHAIN_ID),
            "--hardfork",
            "prague",
            "--port",
            str(self.port),
            "--state",
            str(self.workdir / "anvil-state.json"),
            "--state-interval",
            "1",
        ]
        with (self.workdir / "anvil.log").open("ab") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        client = L1Client(self.url)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise L1Error(
                    f"anvil exited with {self.process.returncode}; see {self.workdir / 'anvil.log'}"
                )
            try:
                client.chain_id()
                log.info("dev L1 (anvil) on %s", self.url)
                return client
            except L1Unavailable:
                if time.monotonic() > deadline:
                    self.stop()
                    raise L1Error(
                        f"anvil did not answer on {self.url} in {READY_TIMEOUT_S:g}s"
                    ) from None
                time.sleep(0.1)

    def start_interval_mining(self, client: L1Client) -> None:
        """From automine (fast deployment) to one block every ``block_time`` seconds."""
        client.request("evm_setAutomine", [False])
        client.request("evm_setIntervalMining", [self.block_time])

    def stop(self) -> None:
        stop_process(self.process)
