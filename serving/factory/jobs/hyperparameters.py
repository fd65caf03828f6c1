"""OpenAI's fine-tuning hyperparameters (and our LoRA ones) onto a `TrainingConfig`.

OpenAI names the knobs ``n_epochs``, ``batch_size`` and ``learning_rate_multiplier``, each an
explicit value or ``"auto"``; a client written for OpenAI should work unchanged, so those names
are accepted as they are, the multiplier scaling the service's base learning rate. A client that
knows the rate it wants (``openledger factory train --learning-rate``) sets ``learning_rate``
instead of the multiplier, not both. Our LoRA
knobs (``lora_rank``, ``lora_alpha``, ``lora_dropout``, ``target_modules``) sit next to them.
Everything else (max length, checkpoint interval, device) is the operator's, from the defaults.
A bad value is refused when the job is created, naming the parameter, never after queueing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from serving.factory.training import InvalidHyperparameters, TrainingConfig

FIELDS = {
    "n_epochs": "epochs",
    "batch_size": "batch_size",
    "learning_rate_multiplier": "learning_rate",
    "learning_rate": "learning_rate",
    "lora_rank": "lora_rank",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "target_modules": "target_modules",
}
"""Request name -> `TrainingConfig` field."""
AUTO = "auto"


class InvalidHyperparameter(ValueError):
    """A hyperparameter the job cannot train with; `param` names it as the request did."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Resolved:
    config: TrainingConfig
    shown: dict[str, Any]
    """The values used, under the request's names (``auto`` resolved), for the job object."""


def resolve(hyperparameters: Any, defaults: TrainingConfig) -> Resolved:
    """The job's `TrainingConfig`: `defaults` with the request's hyperparameters applied."""
    if hyperparameters is None:
        hyperparameters = {}
    if not isinstance(hyperparameters, dict):
        raise InvalidHyperparameter("hyperparameters", "hyperparameters must be an object")
    given = {k for k, v in hyperparameters.items() if v is not None and v != AUTO}
    if {"learning_rate", "learning_rate_multiplier"} <= given:
        raise InvalidHyperparameter(
            "hyperparameters.learning_rate",
            "set learning_rate or learning_rate_multiplier, not both",
        )
    changes: dict[str, Any] = {}
    for name, value in hyperparameters.items():
        field = FIELDS.get(name)
        param = f"hyperparameters.{name}"
        if field is None:
            raise InvalidHyperparameter(param, f"unknown hyperparameter {name!r}")
        if value is None or value == AUTO:
            continue
        if name in ("learning_rate", "learning_rate_multiplier"):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidHyperparameter(param, f"{name} must be a number > 0, not {value!r}")
            if name == "learning_rate_multiplier":
                value = defaults.learning_rate * value
        changes[field] = value
    try:
        config = replace(defaults, **changes)
    except InvalidHyperparameters as exc:
        raise InvalidHyperparameter(_param_of(exc.problems[0]), str(exc)) from exc
    except TypeError as exc:  # e.g. target_modules that is not iterable
        raise InvalidHyperparameter("hyperparameters", f"invalid hyperparameters: {exc}") from exc
    shown = {
        "n_epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate_multiplier": config.learning_rate / defaults.learning_rate,
        "lora_rank": config.lora_rank,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": None if config.target_modules is None else list(config.target_modules),
    }
    return Resolved(config, shown)


def _param_of(problem: str) -> str:
    """The request's name of the field a `TrainingConfig` problem sentence starts with."""
    for name, field in FIELDS.items():
        if problem.startswith(field + " "):
            return f"hyperparameters.{name}"
    return "hyperparameters"
