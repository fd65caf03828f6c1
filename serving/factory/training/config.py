"""Hyperparameters of a LoRA fine-tune, checked before any model is loaded.

A job submitted from a web form should fail in milliseconds with every mistake named, not after
minutes of loading a model, so `TrainingConfig` refuses bad values when it is built. Checks that
need the model (target modules exist, `max_length` fits its context) happen in `model.py`.
"""

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from serving.factory.training.errors import InvalidHyperparameters

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
RUNTIME_FIELDS = frozenset({"checkpoint_every", "device", "precision"})
"""How a job runs rather than what it trains: they may change between a run and its resume."""


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 3
    batch_size: int = 8
    learning_rate: float = 2e-4
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    """Last name parts of the projections to adapt; None: every linear projection except the
    output head (PEFT's "all-linear"), which are also the ones serving has adapter slots for."""
    max_length: int = 512
    """Tokens per example (prompt + completion + EOS); longer ones are cut on the right."""
    seed: int = 0
    eval_fraction: float = 0.1
    """Share of the examples held out for evaluation when no explicit held-out list is given."""
    checkpoint_every: int = 0
    """Optimizer steps between checkpoints; 0 never checkpoints."""
    warmup_ratio: float = 0.0
    """Share of the steps over which the learning rate rises linearly from 0, then decays to 0."""
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    precision: str = "auto"
    """auto (bf16 autocast on CUDA when supported, else fp32), fp32 or bf16."""

    def __post_init__(self) -> None:
        if self.target_modules is not None and not isinstance(self.target_modules, str):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        problems = _problems(self)
        if problems:
            raise InvalidHyperparameters(problems)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingConfig":
        """Build from a JSON object (a job request): unknown keys are refused, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidHyperparameters([f"unknown hyperparameter {name!r}" for name in unknown])
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.target_modules is not None:
            data["target_modules"] = list(self.target_modules)
        return data

    def fingerprint(self) -> str:
        """sha256 of the fields that decide the trained weights (not `RUNTIME_FIELDS`)."""
        decisive = {k: v for k, v in self.to_json().items() if k not in RUNTIME_FIELDS}
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _problems(config: TrainingConfig) -> list[str]:
    """Every invalid field of `config`, one readable sentence each."""
    problems: list[str] = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    for name in ("epochs", "batch_size", "lora_rank"):
        value = getattr(config, name)
        need(_is_int(value) and value >= 1, f"{name} must be an integer >= 1, not {value!r}")
    lr = config.learning_rate
    need(_is_number(lr) and 0 < lr <= 1, f"learning_rate must be in (0, 1], not {lr!r}")
    alpha = config.lora_alpha
    need(_is_number(alpha) and alpha > 0, f"lora_alpha must be > 0, not {alpha!r}")
    dropout = config.lora_dropout
    need(
        _is_number(dropout) and 0 <= dropout < 1, f"lora_dropout must be in [0, 1), not {dropout!r}"
    )
    targets = config.target_modules
    need(
        targets is None
        or (
            not isinstance(targets, str)
            and len(targets) > 0
            and all(isinstance(t, str) and t for t in targets)
        ),
        f"target_modules must be None or a non-empty list of module names, not {targets!r}",
    )
    length = config.max_length
    need(_is_int(length) and length >= 2, f"max_length must be an integer >= 2, not {length!r}")
    need(
        _is_int(config.seed) and config.seed >= 0,
        f"seed must be an integer >= 0, not {config.seed!r}",
    )
    fraction = config.eval_fraction
    need(
        _is_number(fraction) and 0 <= fraction < 1,
        f"eval_fraction must be in [0, 1), not {fraction!r}",
    )
    every = config.checkpoint_every
    need(_is_int(every) and every >= 0, f"checkpoint_every must be an integer >= 0, not {every!r}")
    warmup = config.warmup_ratio
    need(_is_number(warmup) and 0 <= warmup < 1, f"warmup_ratio must be in [0, 1), not {warmup!r}")
    decay = config.weight_decay
    need(_is_number(decay) and decay >= 0, f"weight_decay must be >= 0, not {decay!r}")
    norm = config.max_grad_norm
    need(_is_number(norm) and norm > 0, f"max_grad_norm must be > 0, not {norm!r}")
    need(config.device in DEVICES, f"device must be one of {DEVICES}, not {config.device!r}")
    need(
        config.precision in PRECISIONS,
        f"precision must be one of {PRECISIONS}, not {config.precision!r}",
    )
    return problems
