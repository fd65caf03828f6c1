"""`openledger factory`: the progress rendering (pure), and the HTTP client and the command
line against the real jobs app served by uvicorn (`jobs_app`), training the tiny GPT-2."""

from __future__ import annotations

import io
import re
import signal
import subprocess
from pathlib import Path

import pytest

from openledger.cli import main
from serving.factory.cli import INTERRUPTED
from serving.factory.client import ApiFailure, FactoryClient
from serving.factory.progress_bar import (
    CLEAR_LINE,
    Progress,
    ProgressDisplay,
    format_eta,
    render_bar,
    render_line,
)
from serving.tiny_model import build_tiny_model
from tests.helpers.devnet import OPENLEDGER_BIN
from tests.serving.factory.jobs_app import (
    DATA,
    MODEL,
    OTHER_USER,
    STEPS,
    USER,
    JobsApp,
    api_key,
    jobs_app,
)

STEP = {"step": 3, "total_steps": 12, "epoch": 1, "train_loss": 2.5, "eta_seconds": 75.4}


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


# --- rendering -----------------------------------------------------------------------------


def test_eta_is_clock_time_and_unknown_before_the_first_step() -> None:
    cases = {None: "?", 0: "0:00", 59.6: "1:00", 75.4: "1:15", 3723: "1:02:03"}
    assert {seconds: format_eta(seconds) for seconds in cases} == cases


def test_progress_keeps_what_an_event_does_not_say() -> None:
    progress = Progress().update(STEP).update({"step": 4, "eval_loss": 2.0, "train_loss": None})
    assert progress == Progress(4, 12, 1, 2.5, 2.0, 75.4)


def test_bar_and_line_show_step_percent_losses_and_eta() -> None:
    progress = Progress().update(STEP)
    assert render_bar(progress, width=12) == (
        "[###---------] step 3/12   25%  loss 2.5000  ETA 1:15"
    )
    done = progress.update({"step": 12, "eval_loss": 1.25, "eta_seconds": 0})
    assert (
        render_bar(done, width=4)
        == "[####] step 12/12  100%  loss 2.5000  eval loss 1.2500  ETA 0:00"
    )
    assert render_line(Progress()) == "step 0/?  ETA ?"


def test_a_terminal_redraws_in_place_and_a_log_gets_one_line_per_update() -> None:
    events = [
        {"type": "message", "message": "Fine-tuning job started", "data": None},
        {"type": "metrics", "message": "Step 3/12", "data": STEP},
        {"type": "message", "message": "Checkpoint saved at step 3", "data": STEP},
        {"type": "metrics", "message": "Step 4/12", "data": {**STEP, "step": 4}},
    ]
    terminal, log = io.StringIO(), io.StringIO()
    for stream, tty in ((terminal, True), (log, False)):
        display = ProgressDisplay(stream, tty=tty)
        for event in events:
            display.event(event)
        display.close()
    assert log.getvalue().splitlines() == [
        "Fine-tuning job started",
        render_line(Progress().update(STEP)),
        "Checkpoint saved at step 3",
        render_line(Progress().update({**STEP, "step": 4})),
    ]
    bar3, bar4 = (
        render_bar(Progress().update(STEP)),
        render_bar(Progress().update({**STEP, "step": 4})),
    )
    assert terminal.getvalue() == (
        "Fine-tuning job started\n"
        f"{CLEAR_LINE}{bar3}"
        f"{CLEAR_LINE}Checkpoint saved at step 3\n{bar3}"
        f"{CLEAR_LINE}{bar4}\n"
    )


# --- the client ----------------------------------------------------------------------------


def factory_client(app: JobsApp, key: str | None = None) -> FactoryClient:
    return FactoryClient(app.url + "/v1", key, timeout=10)  # a trailing /v1 is accepted


def test_client_creates_follows_and_pages_events(base_dir, tmp_path) -> None:
    with jobs_app(tmp_path, base_dir) as app, factory_client(app, api_key()) as client:
        job = client.create_job(
            MODEL, app.upload(), {"n_epochs": 2, "learning_rate": 0.05}, suffix="client"
        )
        assert job["owner"] == USER.address and job["hyperparameters"]["n_epochs"] == 2
        seen: list[dict] = []
        done = client.follow(job["id"], seen.append, poll_seconds=0.05)
        assert done["status"] == "succeeded", done["error"]
        assert done["fine_tuned_model"] == f"ft:{MODEL}:client:{job['id']}"
        numbers = [int(e["id"].removeprefix("ftevent-")) for e in seen]
        assert numbers == sorted(set(numbers))  # each event once, oldest first
        steps = [e["data"]["step"] for e in seen if e["message"].startswith("Step ")]
        assert steps == list(range(1, STEPS + 1))
        assert seen[-1]["message"] == "The job has successfully completed"
        assert client.events_since(job["id"], page_size=2) == seen  # walked back page by page
        assert client.events_since(job["id"], numbers[-3]) == seen[-2:]
        assert [j["id"] for j in client.jobs()["data"]] == [job["id"]]


def test_client_errors_carry_the_status_and_the_message(base_dir, tmp_path) -> None:
    with jobs_app(tmp_path, base_dir, start=False) as app:
        file_id = app.upload()
        with factory_client(app) as anonymous, pytest.raises(ApiFailure) as missing:
            anonymous.create_job(MODEL, file_id)
        assert missing.value.status == 401 and "API key" in str(missing.value)
        with factory_client(app, api_key()) as owner:
            job = owner.create_job(MODEL, file_id)
            with pytest.raises(ApiFailure) as unknown:
                owner.job("ftjob-nope")
            assert unknown.value.status == 404
        with factory_client(app, api_key(OTHER_USER)) as other, pytest.raises(ApiFailure) as no:
            other.cancel(job["id"])
        assert no.value.status == 403 and no.value.code == "not_job_owner"
    with pytest.raises(ApiFailure, match="cannot reach"):
        FactoryClient(app.url, timeout=2).jobs()  # the server is gone


# --- the command line ----------------------------------------------------------------------


def test_train_prints_the_model_and_shows_progress(base_dir, tmp_path, capsys) -> None:
    with jobs_app(tmp_path, base_dir) as app:
        file_id = app.upload()
        common = ["--service", app.url, "--api-key", api_key()]
        argv = ["factory", "train", *common, "--model", MODEL, "--training-file", file_id]
        options = ["--epochs", "2", "--batch-size", "4", "--lora-rank", "2", "--suffix", "cli"]
        assert main([*argv, *options, "--target-modules", "c_attn,c_proj"]) == 0
        out, err = capsys.readouterr()
        job_id = out.strip().rsplit(":", 1)[1]
        assert out == f"ft:{MODEL}:cli:{job_id}\n"
        assert f"Created fine-tuning job {job_id}" in err
        assert f"step {STEPS}/{STEPS}  100%  loss " in err and "eval loss" in err
        job = app.client.fine_tuning.jobs.retrieve(job_id)
        assert job.hyperparameters.lora_rank == 2
        assert job.hyperparameters.target_modules == ["c_attn", "c_proj"]

        assert main(["factory", "jobs", *common]) == 0
        assert job_id in capsys.readouterr().out
        assert main(["factory", "status", *common, job_id]) == 0
        assert '"status": "succeeded"' in capsys.readouterr().out
        assert main(["factory", "events", *common, job_id]) == 0
        assert (
            capsys.readouterr().out.splitlines()[-1].endswith("The job has successfully completed")
        )


def test_detach_cancel_and_failures_exit_non_zero(base_dir, tmp_path, capsys, monkeypatch) -> None:
    with jobs_app(tmp_path, base_dir, start=False) as app:
        file_id = app.upload()
        bad_file = app.upload(DATA + b'{"instruction": "no output"}\n')
        monkeypatch.setenv("OPENLEDGER_API_KEY", api_key())
        common = ["--service", app.url]
        train = ["factory", "train", *common, "--model", MODEL]
        assert main([*train, "--training-file", file_id, "--detach"]) == 0
        job_id = capsys.readouterr().out.strip()
        assert main(["factory", "cancel", *common, job_id]) == 0
        assert capsys.readouterr().out == f"{job_id}: cancelled\n"

        assert main([*train, "--training-file", file_id, "--epochs", "0"]) == 1
        assert "n_epochs" in capsys.readouterr().err
        app.worker.start()
        assert main([*train, "--training-file", bad_file]) == 1
        err = capsys.readouterr().err
        assert "failed" in err and "line 13" in err

        monkeypatch.delenv("OPENLEDGER_API_KEY")
        assert main(["factory", "cancel", *common, job_id]) == 1
        assert "error: fine-tuning jobs need an API key" in capsys.readouterr().err


def test_ctrl_c_stops_following_and_says_how_to_cancel(base_dir, tmp_path) -> None:
    with jobs_app(tmp_path, base_dir) as app:
        command = [str(OPENLEDGER_BIN), "factory", "train", "--service", app.url]
        command += ["--api-key", api_key(), "--model", MODEL, "--training-file", app.upload()]
        command += ["--epochs", "5000"]  # minutes of training: only Ctrl-C ends the command
        follower = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        try:
            assert follower.stderr is not None
            for line in follower.stderr:
                if line.startswith("step "):
                    break
            follower.send_signal(signal.SIGINT)
            rest = follower.stderr.read()
            assert follower.wait(30) == INTERRUPTED
        finally:
            follower.kill()
        job_id = re.search(r"openledger factory cancel (ftjob-[0-9a-f]+)", rest)
        assert job_id is not None, rest
        assert app.client.fine_tuning.jobs.retrieve(job_id[1]).status == "running"
        cancel = ["factory", "cancel", "--service", app.url, "--api-key", api_key(), job_id[1]]
        assert main(cancel) == 0
        assert app.wait(job_id[1]).status == "cancelled"
