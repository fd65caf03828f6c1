"""Start and stop the JSON-RPC targets that black-box tests run against.

A target is our ``openledger devnet`` process or Foundry's anvil (Prague, chain 901), started
on a free port in its own process group and stopped with SIGTERM then SIGKILL. Nothing here
imports the node's packages, so a test written against these helpers checks the node the way
a dApp developer's tooling sees it. Used by the session fixtures of ``tests/e2e`` and
``tests/contracts``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPILE_SCRIPT = REPO_ROOT / "contracts" / "compile.mjs"
FOUNDRY_NPM = REPO_ROOT / "node_modules" / "@foundry-rs"

CHAIN_ID = 901
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_BALANCE_WEI = 10_000 * 10**18
STARTUP_TIMEOUT_S = 90.0
"""Bound on start-up; generous because the node may build a genesis state on first start."""
STOP_TIMEOUT_S = 15.0

TARGETS = ("node", "anvil")
"""The implementations a target can be."""


def foundry_binary(tool: str) -> Path:
    """The native ``anvil``/``cast`` binary that the npm package ships for this platform.

    Not ``node_modules/.bin/<tool>``: that is a Node wrapper which always exits 0 (a failing
    ``cast`` would look successful) and adds a process between us and anvil's signals.
    """
    native = sorted(FOUNDRY_NPM.glob(f"{tool}-*/bin/{tool}"))
    candidates = [*native, FOUNDRY_NPM / tool / "dist" / tool]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        f"no native {tool} binary under {FOUNDRY_NPM} (looked for {tool}-<platform>/bin/{tool});"
        " run `npm ci`",
        pytrace=False,
    )


def free_port() -> int:
    """A TCP port that is free right now (the OS picks it; tiny race until the child binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 10.0) -> Any:
    """One raw JSON-RPC call; raises RuntimeError with the error object on an error response."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    response = requests.post(url, json=body, timeout=timeout)
    response.raise_for_status()
    payload = response.json()
    if "error" in payload:
        raise RuntimeError(f"{method} failed: {payload['error']}")
    return payload["result"]


@dataclass
class RpcTarget:
    """A running JSON-RPC server process: what a test needs to reach it and to describe it."""

    kind: str
    """``node`` or ``anvil``."""
    url: str
    """HTTP endpoint."""
    ws_url: str
    """WebSocket endpoint (same port)."""
    block_time: float
    """0 means a block as soon as a transaction arrives."""
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, limit: int = 6000) -> str:
        """The last part of the process's output, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError as exc:
            return f"<no log: {exc}>"


def target_command(kind: str, port: int, datadir: Path, block_time: float) -> list[str]:
    if kind == "anvil":
        cmd = [
            str(foundry_binary("anvil")),
            "--chain-id",
            str(CHAIN_ID),
            "--hardfork",
            "prague",
            "--port",
            str(port),
            "--silent",
        ]
        if block_time:
            cmd += ["--block-time", f"{block_time:g}"]
        return cmd
    script = Path(sys.executable).parent / "openledger"
    if not script.exists():
        pytest.fail(
            f"the node's command line is missing ({script}); `pip install -e .` must provide "
            "the `openledger` script. Set OPENLEDGER_TEST_TARGET=anvil to run the harness "
            "against anvil instead.",
            pytrace=False,
        )
    return [
        str(script),
        "devnet",
        "--datadir",
        str(datadir),
        "--rpc-port",
        str(port),
        "--block-time",
        f"{block_time:g}",
        "--no-ai",
        "--no-l1",
    ]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (what an operator sends) to the process group, SIGKILL what outlives the grace.

    The whole group, so that a child the target spawned (a worker, a wrapper's real binary)
    cannot outlive the session and keep holding its port.
    """
    pgid = process.pid  # started with start_new_session=True: pid == pgid
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=STOP_TIMEOUT_S)


def start_target(kind: str, workdir: Path, block_time: float = 0) -> RpcTarget:
    """Start ``kind`` on a free port and return once ``eth_chainId`` answers.

    The wait is bounded; if the process dies or never answers, the test fails with its output,
    because "connection refused" alone says nothing about why a node did not come up.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    datadir = workdir / "datadir"
    log_path = workdir / "process.log"
    cmd = target_command(kind, port, datadir, block_time)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    target = RpcTarget(
        kind=kind,
        url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}",
        block_time=block_time,
        process=process,
        log_path=log_path,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error: Exception | None = None
    while True:
        code = process.poll()
        if code is not None:
            pytest.fail(
                f"{kind} exited with code {code} during start-up.\n"
                f"command: {' '.join(cmd)}\noutput:\n{target.log_tail()}",
                pytrace=False,
            )
        try:
            rpc_call(target.url, "eth_chainId", timeout=2.0)
            return target
        except (requests.RequestException, RuntimeError, ValueError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            stop_process(process)
            pytest.fail(
                f"{kind} did not answer eth_chainId within {STARTUP_TIMEOUT_S:g}s "
                f"(last error: {last_error}).\ncommand: {' '.join(cmd)}\n"
                f"output:\n{target.log_tail()}",
                pytrace=False,
            )
        time.sleep(0.1)


def serve(kind: str, workdir: Path, block_time: float = 0) -> Iterator[RpcTarget]:
    """Generator for a session fixture: start the target, yield it, stop it afterwards."""
    target = start_target(kind, workdir, block_time)
    try:
        yield target
    finally:
        stop_process(target.process)


def compile_contracts(src_dir: Path, out_dir: Path, exclude: tuple[str, ...] = ()) -> Path:
    """Compile every .sol file under ``src_dir`` with the pinned npm solc into ``out_dir``.

    ``exclude`` names subdirectories of ``src_dir`` that are compiled as their own artifact set.

    Fails the test (with the compiler's output) rather than raising: a broken compile is a
    broken build.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH; contracts are compiled with npm solc", pytrace=False)
    result = subprocess.run(
        [
            node,
            str(COMPILE_SCRIPT),
            str(src_dir),
            str(out_dir),
            *(arg for name in exclude for arg in ("--exclude", name)),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(
            f"contract compilation failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return out_dir


def derive_dev_accounts(count: int = 10) -> list[LocalAccount]:
    """The standard dev accounts, derived here rather than imported from the node.

    Deriving them independently checks that the node funds the same accounts every other
    Ethereum tool knows.
    """
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        for index in range(count)
    ]
