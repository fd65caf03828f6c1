"""``openledger factory``: fine-tune on a running AI service from the command line.

    openledger factory train --model tiny-gpt2 --training-file datanet:1@2 [--epochs 3 ...]
    openledger factory jobs | status JOB | events JOB | cancel JOB

Everything goes over the service's HTTP jobs API (`serving.factory.client`), so this works
against a remote service exactly as against a local one and never loads torch. ``train``
follows the job's events with a progress bar on stderr and prints only the fine-tuned model on
stdout, so ``MODEL=$(openledger factory train ...)`` works in a script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from serving.factory.client import DEFAULT_SERVICE, FactoryClient
from serving.factory.progress_bar import ProgressDisplay

API_KEY_ENV = "OPENLEDGER_API_KEY"
HYPERPARAMETERS = {
    "epochs": "n_epochs",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "lora_rank": "lora_rank",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "target_modules": "target_modules",
}
"""Option (argparse dest) -> the API's hyperparameter name."""
INTERRUPTED = 130


def register_factory(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--service", default=DEFAULT_SERVICE, help=f"AI service URL (default {DEFAULT_SERVICE})"
    )
    common.add_argument(
        "--api-key", help=f"ol1_ API key (or ${API_KEY_ENV}); needed by train and cancel"
    )
    parser: argparse.ArgumentParser = commands.add_parser(
        "factory", help="ModelFactory: fine-tune LoRA adapters on a running AI service"
    )
    actions = parser.add_subparsers(dest="factory_command", metavar="ACTION", required=True)

    train = actions.add_parser("train", parents=[common], help="create a job and follow it")
    train.add_argument("--model", required=True, help="base model, as /v1/models names it")
    train.add_argument(
        "--training-file", required=True, help="datanet:<id>@<version|latest> or file-<sha256>"
    )
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--lora-rank", type=int)
    train.add_argument("--lora-alpha", type=float)
    train.add_argument("--lora-dropout", type=float)
    train.add_argument("--target-modules", type=_names, help="comma-separated module names")
    train.add_argument("--suffix", help="part of the fine-tuned model's name")
    train.add_argument(
        "--detach", action="store_true", help="print the job id and return without following"
    )
    train.set_defaults(handler=run_train)

    listing = actions.add_parser("jobs", parents=[common], help="list jobs, newest first")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=run_jobs)
    for name, handler, text in (
        ("status", run_status, "show one job"),
        ("events", run_events, "print a job's events, oldest first"),
        ("cancel", run_cancel, "cancel a job (its owner's API key)"),
    ):
        action = actions.add_parser(name, parents=[common], help=text)
        action.add_argument("job", help="job id (ftjob-...)")
        action.set_defaults(handler=handler)


def run_train(args: argparse.Namespace) -> int:
    hyperparameters = {
        api_name: getattr(args, option)
        for option, api_name in HYPERPARAMETERS.items()
        if getattr(args, option) is not None
    }
    with _client(args) as client:
        job = client.create_job(args.model, args.training_file, hyperparameters, args.suffix)
        if args.detach:
            print(job["id"])
            return 0
        print(f"Created fine-tuning job {job['id']}", file=sys.stderr)
        display = ProgressDisplay(sys.stderr, tty=sys.stderr.isatty())
        try:
            done = client.follow(job["id"], display.event)
        except KeyboardInterrupt:
            display.close()
            print(
                f"Stopped following; the job keeps running. Follow it again with "
                f"`openledger factory events {job['id']}`, cancel it with "
                f"`openledger factory cancel {job['id']}`.",
                file=sys.stderr,
            )
            return INTERRUPTED
        display.close()
    return _outcome(done)


def run_jobs(args: argparse.Namespace) -> int:
    with _client(args) as client:
        page = client.jobs(args.limit)
    for job in page["data"]:
        name = job.get("fine_tuned_model") or "-"
        print(f"{job['id']}  {job['status']:<9}  {job['model']}  {job['training_file']}  {name}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(json.dumps(client.job(args.job), indent=2))
    return 0


def run_events(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for event in client.events_since(args.job):
            print(f"{event['created_at']}  {event['level']:<5}  {event['message']}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.cancel(args.job)
    state = "cancel requested" if job["status"] == "running" else job["status"]
    print(f"{job['id']}: {state}")
    return 0


def _outcome(job: dict[str, Any]) -> int:
    """Print what the job became: the model on stdout, anything else on stderr."""
    if job["status"] == "succeeded":
        hook = (job.get("result") or {}).get("hook") or {}
        if hook.get("registered"):
            print(
                f"Registered on chain as {hook['model']}, owned by {hook.get('owner')}",
                file=sys.stderr,
            )
        print(job["fine_tuned_model"])
        return 0
    error = job.get("error") or {}
    print(
        f"error: job {job['id']} {job['status']}: {error.get('message', 'no error recorded')}",
        file=sys.stderr,
    )
    return 1


def _client(args: argparse.Namespace) -> FactoryClient:
    return FactoryClient(args.service, args.api_key or os.environ.get(API_KEY_ENV))


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one module")
    return names
