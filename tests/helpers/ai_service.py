"""`openledger serve --demo` as a process beside a devnet: the AI service as an operator runs it.

Shared by the end-to-end tests of the service, the factory command line and the web page, so
each talks to exactly what `openledger serve` starts (the demo's model, adapters and API key).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import requests

from openledger.contracts.deploy import DEPLOYMENT_FILE
from serving.demo import DEMO_FILE, dev_account
from tests.helpers.devnet import OPENLEDGER_BIN, Devnet, free_port
from tests.serving.onchain import clients

READY_TIMEOUT_S = 120.0


class DemoService:
    """The service on a free port, started once `/health` answers; `data_dir` may be reused
    by a later instance (a restart)."""

    def __init__(self, devnet: Devnet, data_dir: Path, *extra_args: str) -> None:
        port = free_port()
        self.root = f"http://127.0.0.1:{port}"
        """Where the page lives; the OpenAI-style API is under `api`."""
        self.api = f"{self.root}/v1"
        self.data_dir = data_dir
        self.log = data_dir.parent / "serve.log"
        command = [
            str(OPENLEDGER_BIN),
            "serve",
            "--demo",
            "--rpc",
            devnet.url,
            "--contracts",
            str(devnet.datadir / DEPLOYMENT_FILE),
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *extra_args,
        ]
        self.process = subprocess.Popen(
            command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        self._wait_ready()
        self.demo: dict[str, Any] = json.loads((data_dir / DEMO_FILE).read_text())
        """`serving.demo.Demo` as recorded: API key, paying user, adapters, base model."""

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the AI service exited: {self.log_tail()}")
            try:
                if requests.get(f"{self.root}/health", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.3)
        self.process.terminate()
        raise RuntimeError(f"the AI service did not start: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text()[-chars:]

    def client(self, api_key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.api, api_key=api_key or self.demo["api_key"])

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to checkpoint or settle."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclass(frozen=True)
class TrainingDatanet:
    datanet_id: int
    version: int
    contribution_ids: list[int]

    @property
    def training_file(self) -> str:
        return f"datanet:{self.datanet_id}@{self.version}"


def city_datanet(devnet: Devnet, service: DemoService, tag: str) -> TrainingDatanet:
    """A Datanet of dev account 0 with three approved contributions (dev accounts 3-5) of 8
    alpaca rows each, their bytes uploaded to the service: something small to fine-tune on."""
    owner = clients(devnet, dev_account(0))
    datanet_id = owner.datanets.create_datanet(f"openledger://test/{tag}", 0).value
    ids = []
    for index, city in enumerate(["Paris", "Rome", "Lima"], start=3):
        rows = [
            json.dumps({"instruction": f"Name city {i} of set {index}", "output": f"{city} {i}"})
            for i in range(8)
        ]
        content = ("\n".join(rows) + "\n").encode()
        stored = requests.post(f"{service.api}/contributions", data=content, timeout=10).json()
        contributor = clients(devnet, dev_account(index))
        ids.append(
            contributor.datanets.contribute(
                datanet_id, bytes.fromhex(stored["sha256"]), f"{tag}-{index}", len(content)
            ).value
        )
    version = owner.datanets.approve(ids).value.version
    return TrainingDatanet(datanet_id, version, ids)
