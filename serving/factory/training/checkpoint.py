"""Checkpoints a job can resume from to exactly the weights of an uninterrupted run.

Layout: ``<output>/checkpoints/step-00000042/`` holding

- ``adapter_config.json`` + ``adapter_model.safetensors``: the LoRA weights as PEFT saves them
  (a checkpoint is itself a servable adapter);
- ``trainer.pt``: the optimizer and LR scheduler state dicts and the RNG states (torch CPU and,
  when present, every CUDA device's), loaded back with ``weights_only=True``;
- ``state.json``: the step, the data position (epoch, batches done in it), tokens seen, seconds
  trained, and the job's fingerprint (hyperparameters + data).

A checkpoint is written into a hidden temporary directory, flushed, then renamed into place, so
a crash leaves either the previous checkpoint or the new one, never half of one. Only the newest
is kept. The data order needs no saved state: it is a function of the seed and the epoch.
"""

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from serving.lora.slots import WEIGHTS_FILE

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "state.json"
TRAINER_FILE = "trainer.pt"
PREFIX = "step-"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class CheckpointState:
    step: int
    epoch: int
    """0-based epoch to continue in."""
    batches_done: int
    """Batches of `epoch` already trained on."""
    tokens_seen: int
    train_seconds: float
    fingerprint: str


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint of a job, or None."""
    root = output_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob(PREFIX + "*") if (p / STATE_FILE).is_file())
    return done[-1] if done else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    output_dir: Path,
    model: PeftModel,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    state: CheckpointState,
) -> Path:
    """Write a checkpoint atomically, then drop older ones; return its directory."""
    root = output_dir / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(TEMP_PREFIX + "*"):  # a crash's leftovers: never complete
        shutil.rmtree(stale)
    final = root / f"{PREFIX}{state.step:08d}"
    temp = root / f"{TEMP_PREFIX}{final.name}"
    model.save_pretrained(temp)
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng},
        temp / TRAINER_FILE,
    )
    (temp / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
    for file in temp.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(temp)
    if final.exists():
        shutil.rmtree(final)
    temp.rename(final)
    _fsync_dir(root)
    for older in root.glob(PREFIX + "*"):
        if older.name < final.name:
            shutil.rmtree(older)
    return final


def read_state(path: Path) -> CheckpointState:
    return CheckpointState(**json.loads((path / STATE_FILE).read_text()))


def restore_checkpoint(
    path: Path, model: PeftModel, optimizer: Optimizer, scheduler: LRScheduler
) -> CheckpointState:
    """Load weights, optimizer, scheduler and RNG states from `path` in place; return the state."""
    weights = load_file(path / WEIGHTS_FILE, device=str(next(model.parameters()).device))
    result = set_peft_model_state_dict(model, weights)
    if result.unexpected_keys:
        raise ValueError(f"checkpoint {path} has unexpected weights {result.unexpected_keys[:5]}")
    saved = torch.load(path / TRAINER_FILE, weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["cpu"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
    return read_state(path)
