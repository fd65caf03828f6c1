"""Fine-tuning jobs through the ``openai`` client: upload, train, events, cancel, failures, restart.

The routes run under uvicorn in a thread (`tests.serving.factory.jobs_app`), the worker trains
the tiny GPT-2 for real on a dozen alpaca rows; creating and cancelling take a real signed key.
Where a test needs the worker at a precise step (cancel while running, crash after a
checkpoint), a `JobStore` subclass acts when the worker writes that step's events: the
training itself is never faked.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import openai
import pytest
import requests
from peft import PeftModel
from transformers import AutoModelForCausalLM

from openledger.types import Wei
from serving.billing.apikey import make_api_key
from serving.factory.jobs.hyperparameters import InvalidHyperparameter, resolve
from serving.factory.jobs.store import SCHEMA, JobStatus, JobStore, NewEvent
from serving.lora.manager import sha256_file
from serving.lora.slots import WEIGHTS_FILE
from serving.tiny_model import build_tiny_model
from tests.serving.factory.jobs_app import (
    CHAIN_ID,
    DATA,
    DEFAULTS,
    MODEL,
    OPERATOR,
    OTHER_USER,
    PAYMENTS,
    STEPS,
    USER,
    api_key,
)
from tests.serving.factory.jobs_app import jobs_app as service


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


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
        assert created.model_extra["owner"] == USER.address
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


def test_creating_a_job_needs_a_key_of_this_operator(base_dir, tmp_path):
    with service(tmp_path, base_dir, start=False) as svc:
        request = {"model": MODEL, "training_file": svc.upload()}
        bare = requests.post(f"{svc.url}/v1/fine_tuning/jobs", json=request, timeout=10)
        assert bare.status_code == 401
        assert bare.json()["error"]["type"] == "authentication_error"
        expired = make_api_key(USER, OPERATOR.address, CHAIN_ID, PAYMENTS, Wei(1), 1000)
        other_chain = make_api_key(USER, OPERATOR.address, 1, PAYMENTS, Wei(1), 2**40)
        for key in (
            api_key(operator=OTHER_USER.address),  # a session another operator may charge
            expired,
            other_chain,
            "ol1_not-a-key",
        ):
            with pytest.raises(openai.AuthenticationError):
                svc.openai_client(key).fine_tuning.jobs.create(**request)
        assert svc.client.fine_tuning.jobs.list().data == []


def test_only_the_owner_may_cancel_and_reading_is_open(base_dir, tmp_path):
    with service(tmp_path, base_dir, start=False) as svc:
        job = svc.client.fine_tuning.jobs.create(model=MODEL, training_file=svc.upload())
        other = svc.openai_client(api_key(OTHER_USER))
        with pytest.raises(openai.PermissionDeniedError) as refused:
            other.fine_tuning.jobs.cancel(job.id)
        assert refused.value.code == "not_job_owner"
        bare = requests.post(f"{svc.url}/v1/fine_tuning/jobs/{job.id}/cancel", timeout=10)
        assert bare.status_code == 401
        assert other.fine_tuning.jobs.retrieve(job.id).status == "queued"
        listed = requests.get(f"{svc.url}/v1/fine_tuning/jobs", timeout=10).json()["data"]
        assert [(j["id"], j["owner"]) for j in listed] == [(job.id, USER.address)]
        assert svc.client.fine_tuning.jobs.cancel(job.id).status == "cancelled"


def test_a_database_from_before_owners_opens_and_keeps_its_jobs(tmp_path):
    old = sqlite3.connect(tmp_path / "jobs.sqlite")
    old.executescript(SCHEMA.replace("    owner TEXT,\n", ""))
    old.execute(
        "INSERT INTO jobs (id, model, training_file, hyperparameters, config, status, created_at)"
        " VALUES ('ftjob-old', 'm', 'file-x', '{}', '{}', 'succeeded', 1)"
    )
    old.commit()
    old.close()
    store = JobStore(tmp_path)
    try:
        assert store.get("ftjob-old").owner is None
        new = store.create("m", "file-y", {}, {}, None, USER.address)
        assert store.get(new.id).owner == USER.address
    finally:
        store.close()
    assert JobStore(tmp_path).get(new.id).owner == USER.address  # migrated once, reopens


def test_openai_hyperparameters_map_onto_the_defaults():
    resolved = resolve(
        {"n_epochs": "auto", "learning_rate_multiplier": 2, "lora_rank": 2}, DEFAULTS
    )
    assert resolved.config.epochs == DEFAULTS.epochs
    assert resolved.config.learning_rate == 2 * DEFAULTS.learning_rate
    assert resolved.config.lora_rank == 2 and resolved.config.device == DEFAULTS.device
    assert resolved.shown["learning_rate_multiplier"] == 2
    absolute = resolve({"learning_rate": 1e-3}, DEFAULTS)
    assert absolute.config.learning_rate == 1e-3
    with pytest.raises(InvalidHyperparameter):
        resolve({"learning_rate": 1e-3, "learning_rate_multiplier": 2}, DEFAULTS)


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
        messages = [e.message for e in svc.client.fine_tuning.jobs.list_events(job_id, limit=100)]
        assert f"Resuming from the checkpoint at step {result['resumed_from_step']}" in messages
        assert svc.store.get(job_id).status == JobStatus.SUCCEEDED
