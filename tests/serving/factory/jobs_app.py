"""The jobs API as the service mounts it, without a chain: store, worker and routes under
uvicorn in a thread, API keys checked by the real `SessionKeys` of one operator.

Shared by the jobs tests (through the ``openai`` client) and the `openledger factory` client
and command-line tests (through their own HTTP client), so both meet the same app.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from openai import OpenAI
from starlette.applications import Starlette

from openledger.types import Wei
from serving.billing.apikey import make_api_key
from serving.billing.cashier import SessionKeys
from serving.factory.data.store import ContributionStore
from serving.factory.jobs.routes import file_routes, fine_tuning_routes
from serving.factory.jobs.sources import UploadedFileSource
from serving.factory.jobs.store import JobStore, NewEvent
from serving.factory.jobs.worker import JobWorker, SuccessHook
from serving.factory.training import TrainingConfig
from tests.serving.factory.facts import CAPITALS

DATA = "".join(
    json.dumps({"instruction": f"Name the capital of {country}.", "output": city}) + "\n"
    for country, city in CAPITALS.items()
).encode()
DEFAULTS = TrainingConfig(
    epochs=2,
    batch_size=4,
    learning_rate=5e-2,
    lora_rank=4,
    lora_alpha=8,
    max_length=64,
    eval_fraction=0.25,
    checkpoint_every=1,
    device="cpu",
)
STEPS = 6  # 2 epochs of ceil(9 / 4) batches
MODEL = "tiny-gpt2"
CHAIN_ID = 901
PAYMENTS = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
"""Any address: keys only need to be signed for the same one the service checks against."""
OPERATOR = Account.from_key(keccak(text="jobs test operator"))
USER = Account.from_key(keccak(text="jobs test user"))
OTHER_USER = Account.from_key(keccak(text="jobs test other user"))


def api_key(user: LocalAccount = USER, operator: str = OPERATOR.address) -> str:
    """A session of `user` for `operator`, valid for an hour (nothing is ever charged)."""
    return make_api_key(user, operator, CHAIN_ID, PAYMENTS, Wei(10**18), int(time.time()) + 3600)


class HookedStore(JobStore):
    """A job store that calls `on_events` after the worker's events are on disk."""

    on_events: Callable[[str, list[NewEvent]], None] = staticmethod(lambda job_id, events: None)

    def add_events(self, job_id: str, events: Iterable[NewEvent]) -> None:
        events = list(events)
        super().add_events(job_id, events)
        self.on_events(job_id, events)


@dataclass
class JobsApp:
    store: HookedStore
    worker: JobWorker
    url: str
    """The service root, e.g. ``http://127.0.0.1:PORT``."""
    client: OpenAI
    """Authenticated as `USER`."""
    adapters: Path

    def wait(self, job_id: str, timeout: float = 60) -> openai.types.fine_tuning.FineTuningJob:
        deadline = time.monotonic() + timeout
        while True:
            job = self.client.fine_tuning.jobs.retrieve(job_id)
            if job.status in ("succeeded", "failed", "cancelled"):
                return job
            assert time.monotonic() < deadline, f"job still {job.status}"
            time.sleep(0.05)

    def upload(self, data: bytes = DATA) -> str:
        return self.client.files.create(file=("train.jsonl", data), purpose="fine-tune").id

    def openai_client(self, key: str) -> OpenAI:
        return OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=10)


@contextmanager
def jobs_app(
    root: Path, base_dir: Path, *, on_success: SuccessHook | None = None, start: bool = True
) -> Iterator[JobsApp]:
    """Store, worker and routes under `root`, served by uvicorn on a free port."""
    contributions = ContributionStore(root / "contributions")
    store = HookedStore(root / "jobs")
    sources = [UploadedFileSource(contributions)]
    models = {MODEL: base_dir}
    worker = JobWorker(
        store, sources, models, root / "adapters", on_success=on_success, flush_seconds=0
    )
    keys = SessionKeys(CHAIN_ID, PAYMENTS, OPERATOR.address)
    app = Starlette(
        routes=[
            *file_routes(contributions),
            *fine_tuning_routes(store, sources, models, DEFAULTS, worker.wake, keys.identify),
        ]
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    client = OpenAI(base_url=f"{url}/v1", api_key=api_key(), max_retries=0, timeout=10)
    if start:
        worker.start()
    try:
        yield JobsApp(store, worker, url, client, root / "adapters")
    finally:
        client.close()
        worker.stop(30)
        server.should_exit = True
        thread.join(10)
        store.close()
