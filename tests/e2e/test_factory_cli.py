"""ModelFactory as an operator's user meets it: `openledger factory train` against
`openledger serve --demo` on a devnet, and the whole service killed mid-job and started again.

Both tests train on a Datanet version of three approved contributions with the demo API key
(dev account 1), so the adapter they publish belongs to that user on chain. They share one data
directory and never run two services at once: both would sign as the same operator.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.factory.client import FactoryClient
from serving.factory.service import CHECKPOINT_EVERY
from tests.helpers.ai_service import DemoService, city_datanet
from tests.helpers.devnet import OPENLEDGER_BIN, Devnet
from tests.helpers.waiting import wait_for
from tests.serving.onchain import clients

pytestmark = pytest.mark.slow

BASE_MODEL = "tiny-gpt2"
LONG_EPOCHS = 30
"""With batch size 1 on 22 examples: 660 steps of about 10 ms, so the job is far from its end
when the events first show a step past the first checkpoint (within a second) and the service
is killed."""


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(tmp_path_factory.mktemp("devnet") / "data").start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ai") / "data"


def test_factory_train_prints_the_model_and_shows_progress(devnet: Devnet, data_dir: Path) -> None:
    service = DemoService(devnet, data_dir)
    try:
        training_file = city_datanet(devnet, service, "cli").training_file
        started = time.monotonic()
        run = subprocess.run(
            [
                str(OPENLEDGER_BIN),
                "factory",
                "train",
                "--service",
                service.root,
                "--api-key",
                service.demo["api_key"],
                "--model",
                BASE_MODEL,
                "--training-file",
                training_file,
                "--epochs",
                "2",
                "--batch-size",
                "4",
                "--learning-rate",
                "0.05",
                "--lora-rank",
                "4",
                "--suffix",
                "cli",
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert run.returncode == 0, run.stderr
        model = run.stdout.strip()
        assert re.fullmatch(rf"ft:{BASE_MODEL}:cli:ftjob-[0-9a-f]+", model), run.stdout
        steps = re.findall(r"step (\d+)/(\d+) +\d+%  loss \d+\.\d{4}", run.stderr)
        assert steps, run.stderr
        assert steps[-1][0] == steps[-1][1]  # the last update is the last step
        assert "eval loss" in run.stderr and "Registered on chain as adapter-" in run.stderr
        print(f"factory train finished in {time.monotonic() - started:.1f} s")

        answer = service.client().completions.create(
            model=model, prompt="Name city 1", max_tokens=4
        )
        assert answer.usage.completion_tokens > 0  # the printed id is servable (on-chain alias)
    finally:
        service.stop()


def step_events(events: list[dict]) -> list[int]:
    return [e["data"]["step"] for e in events if e["message"].startswith("Step ")]


def test_the_service_killed_mid_job_resumes_it_from_its_checkpoint(
    devnet: Devnet, data_dir: Path
) -> None:
    service = DemoService(devnet, data_dir)
    killed = False
    try:
        key = service.demo["api_key"]
        training_file = city_datanet(devnet, service, "restart").training_file
        client = FactoryClient(service.root, key)
        job = client.create_job(
            BASE_MODEL,
            training_file,
            {"n_epochs": LONG_EPOCHS, "batch_size": 1, "learning_rate": 0.01, "lora_rank": 4},
            suffix="restart",
        )

        def past_first_checkpoint() -> bool:
            events = client.events_since(job["id"])
            saved = any(e["message"].startswith("Checkpoint saved") for e in events)
            return saved and max(step_events(events), default=0) > CHECKPOINT_EVERY

        wait_for(past_first_checkpoint, timeout=120)
        service.kill()
        killed = True
    finally:
        if not killed:
            service.stop()

    service = DemoService(devnet, data_dir)  # the same data directory, as after a crash
    try:
        client = FactoryClient(service.root, key)
        done = client.follow(job["id"], lambda event: None, poll_seconds=0.5)
        assert done["status"] == "succeeded", done["error"]
        events = client.events_since(job["id"])
        messages = [e["message"] for e in events]
        resumes = [m for m in messages if m.startswith("Resuming from the checkpoint at step ")]
        assert len(resumes) == 1, messages
        resumed = int(resumes[0].rsplit(" ", 1)[1])
        result = done["result"]
        assert resumed >= CHECKPOINT_EVERY and resumed % CHECKPOINT_EVERY == 0
        assert result["resumed_from_step"] == resumed

        cut = messages.index(resumes[0])
        first_run, second_run = step_events(events[:cut]), step_events(events[cut:])
        assert first_run == list(range(1, len(first_run) + 1))
        assert first_run[-1] > CHECKPOINT_EVERY  # the kill came after the first checkpoint
        assert second_run == list(range(resumed + 1, result["steps"] + 1))  # none from scratch
        print(f"killed after step {first_run[-1]}, resumed at {resumed} of {result['steps']}")

        published = result["hook"]
        assert published["registered"] and published["owner"] == service.demo["user"]
        adapter = clients(devnet).models.adapter(published["adapter_id"])
        assert adapter.owner == service.demo["user"]
        assert adapter.weights_hash.hex() == published["sha256"] == result["adapter_sha256"]
        answer = service.client().completions.create(
            model=published["model"], prompt="Name city 1", max_tokens=4
        )
        assert answer.usage.completion_tokens > 0
    finally:
        service.stop()
