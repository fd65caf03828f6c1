"""Fine-tuning jobs through the ``openai`` client: upload, train, events, cancel, failures, restart.

The routes run under uvicorn in a thread, the worker trains the tiny GPT-2 for real on a dozen
alpaca rows. Where a test needs the worker at a precise step (cancel while running, crash after
a checkpoint), a `JobStore` subclass acts when the worker writes that step's events: the
training itself is never faked.
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
import pytest
import uvicorn
from openai import OpenAI
from peft import PeftModel
from starlette.applications import Starlette
from transformers import AutoModelForCausalLM

from serving.factory.data.store import ContributionStore
from serving.factory.jobs.hyperparameters import resolve
from serving.factory.jobs.routes import file_routes, fine_tuning_routes
from serving.factory.jobs.sources import UploadedFileSource
from serving.factory.jobs.store import JobStatus, JobStore, NewEvent
from serving.factory.jobs.worker import JobWorker, SuccessHook
from serving.factory.training import TrainingConfig
from serving.lora.manager import sha256_file
from serving.lora.slots import WEIGHTS_FILE
from serving.tiny_model import build_tiny_model
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


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


class HookedStore(JobStore):
    """A job store that calls `on_events` after the worker's events are on disk."""

    on_events: Callable[[str, list[NewEvent]], None] = staticmethod(lambda job_id, events: None)

    def add_events(self, job_id: str, events: Iterable[NewEvent]) -> None:
        events = list(events)
        super().add_events(job_id, events)
        self.on_events(job_id, events)


@dataclass
class Service:
    store: HookedStore
    worker: JobWorker
    client: OpenAI
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


@contextmanager
def service(
    root: Path, base_dir: Path, *, on_success: SuccessHook | None = None, start: bool = True
) -> Iterator[Service]:
    """Store, worker and routes under `root`, served by uvicorn on a free port."""
    contributions = ContributionStore(root / "contributions")
    store = HookedStore(root / "jobs")
    sources = [UploadedFileSource(contributions)]
    models = {MODEL: base_dir}
    worker = JobWorker(
        store, sources, models, root / "adapters", on_success=on_success, flush_seconds=0
    )
    app = Starlette(
        routes=[
            *file_routes(contributions),
            *fine_tuning_routes(store, sources, models, DEFAULTS, worker.wake),
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
    client = OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=10
    )
    if start:
        worker.start()
    try:
        yield Service(store, worker, client, root / "adapters")
    finally:
        client.close()
        worker.stop(30)
        server.should_exit = True
        thread.join(10)
        store.close()


def test_uploaded_file_trains_to_an_adapter_that_loads(base_dir, tmp_path):
    published = []

    def publish(job, result, manifest):
        published.append((job.id, result.adapter_sha256))
        return {"registered": True}

    with service(tmp_path, base_dir, on_success=publish) as svc:
        file_id = svc.upload()
        assert file_id.startswith("file-") and len(file_id) == 5 + 64
        created = svc.client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=file_id,
            hyperparameters={"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 1},
            suffix="capitals",
        )
        assert created.id.startswith("ftjob-") and created.status in ("queued", "running")
        job = svc.wait(created.id)
        assert job.status == "succeeded", job.error
        assert job.fine_tuned_model == f"ft:{MODEL}:capitals:{job.id}"
        assert job.hyperparameters.n_epochs == 2
        result = job.model_extra["result"]
        assert result["steps"] == STEPS and result["contribution_ids"] == [0]
        assert result["eval"]["loss"] < result["base_eval"]["loss"]
        assert result["hook"] == {"registered": True}
        assert published == [(job.id, result["adapter_sha256"])]

        events = svc.client.fine_tuning.jobs.list_events(job.id, limit=100).data
        steps = [e.data["step"] for e in events if e.type == "metrics" and "Step" in e.message]
        assert sorted(steps) == list(range(1, STEPS + 1))
        assert events[0].message == "The job has successfully completed"  # newest first
        first = svc.client.fine_tuning.jobs.list_events(job.id, limit=2)
        assert len(first.data) == 2 and first.has_more

        listed = svc.client.fine_tuning.jobs.list(limit=5)
        assert [j.id for j in listed.data] == [job.id] and not listed.has_more

    adapter_dir = Path(result["adapter_dir"])
    assert sha256_file(adapter_dir / WEIGHTS_FILE) == result["adapter_sha256"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir)
    assert model.peft_config["default"].r == DEFAULTS.lora_rank


def test_bad_requests_are_400_naming_the_param(base_dir, tmp_path):
    with service(tmp_path, base_dir, start=False) as svc:
        file_id = svc.upload()
        cases = [
            ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
            (
                {"hyperparameters": {"learning_rate_multiplier": -1}},
                "hyperparameters.learning_rate_multiplier",
            ),
            ({"hyperparameters": {"lora_dropout": 1.5}}, "hyperparameters.lora_dropout"),
            ({"hyperparameters": {"warmup": 3}}, "hyperparameters.warmup"),
            ({"model": "gpt-9"}, "model"),
            ({"training_file": "file-" + "0" * 64}, "training_file"),
            ({"training_file": "datanet:1@1"}, "training_file"),  # no datanet source here
            ({"suffix": "a:b"}, "suffix"),
        ]
        for change, param in cases:
            request = {"model": MODEL, "training_file": file_id, **change}
            with pytest.raises(openai.BadRequestError) as raised:
                svc.client.fine_tuning.jobs.create(**request)
            assert raised.value.param == param, change
        assert svc.client.fine_tuning.jobs.list().data == []


def test_openai_hyperparameters_map_onto_the_defaults():
    resolved = resolve(
        {"n_epochs": "auto", "learning_rate_multiplier": 2, "lora_rank": 2}, DEFAULTS
    )
    assert resolved.config.epochs == DEFAULTS.epochs
    assert resolved.config.learning_rate == 2 * DEFAULTS.learning_rate
    assert resolved.config.lora_rank == 2 and resolved.config.device == DEFAULTS.device
    assert resolved.shown["learning_rate_multiplier"] == 2


def test_unknown_job_is_404(base_dir, tmp_path):
    with service(tmp_path, base_dir, start=False) as svc:
        for call in (
            svc.client.fine_tuning.jobs.retrieve,
            svc.client.fine_tuning.jobs.cancel,
            svc.client.fine_tuning.jobs.list_events,
        ):
            with pytest.raises(openai.NotFoundError):
                call("ftjob-nope")


def test_cancel_a_queued_job_at_once(base_dir, tmp_path):
    with service(tmp_path, base_dir, start=False) as svc:
        job = svc.client.fine_tuning.jobs.create(model=MODEL, training_file=svc.upload())
        cancelled = svc.client.fine_tuning.jobs.cancel(job.id)
        assert cancelled.status == "cancelled" and cancelled.finished_at is not None
        svc.worker.start()
        time.sleep(0.2)
        assert svc.client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
        assert not (svc.adapters / job.id).exists()  # never started


def test_cancel_a_running_job(base_dir, tmp_path):
    at_step = threading.Event()
    release = threading.Event()

    def pause_at_first_step(job_id: str, events: list[NewEvent]) -> None:
        if not at_step.is_set() and any(e.type == "metrics" for e in events):
            at_step.set()
            release.wait(30)

    with service(tmp_path, base_dir) as svc:
        svc.store.on_events = pause_at_first_step
        job = svc.client.fine_tuning.jobs.create(model=MODEL, training_file=svc.upload())
        assert at_step.wait(30)
        assert svc.client.fine_tuning.jobs.cancel(job.id).status == "running"  # flagged
        release.set()
        done = svc.wait(job.id)
        assert done.status == "cancelled" and done.fine_tuned_model is None
        assert not (svc.adapters / job.id / "adapter").exists()


def test_bad_data_fails_the_job_with_its_lines(base_dir, tmp_path):
    bad = (
        DATA + b'{"instruction": "Name the capital of Mars."}\n{"instruction": "", "output": "x"}\n'
    )
    with service(tmp_path, base_dir) as svc:
        job = svc.wait(
            svc.client.fine_tuning.jobs.create(model=MODEL, training_file=svc.upload(bad)).id
        )
        assert job.status == "failed"
        assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
        assert "line 13" in job.error.message and "line 14" in job.error.message


def test_a_failing_success_hook_fails_the_job_and_keeps_the_adapter(base_dir, tmp_path):
    def publish(job, result, manifest):
        raise RuntimeError("chain unreachable")

    with service(tmp_path, base_dir, on_success=publish) as svc:
        job = svc.wait(
            svc.client.fine_tuning.jobs.create(model=MODEL, training_file=svc.upload()).id
        )
        assert job.status == "failed" and "chain unreachable" in job.error.message
        result = job.model_extra["result"]
        assert sha256_file(Path(result["adapter_dir"]) / WEIGHTS_FILE) == result["adapter_sha256"]


def test_a_job_running_at_a_crash_resumes_from_its_checkpoint(base_dir, tmp_path):
    with service(tmp_path, base_dir) as svc:
        svc.store.on_events = lambda job_id, events: (
            svc.worker.request_stop()
            if any(e.message == "Checkpoint saved at step 2" for e in events)
            else None
        )
        job_id = svc.client.fine_tuning.jobs.create(model=MODEL, training_file=svc.upload()).id
        svc.worker.join(30)
        assert svc.client.fine_tuning.jobs.retrieve(job_id).status == "running"

    with service(tmp_path, base_dir) as svc:  # a new process on the same data directory
        job = svc.wait(job_id)
        assert job.status == "succeeded", job.error
        result = job.model_extra["result"]
        assert result["resumed_from_step"] >= 2 and result["steps"] == STEPS
        assert svc.store.get(job_id).status == JobStatus.SUCCEEDED
