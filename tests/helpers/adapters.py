"""Real PEFT LoRA adapters for the tiny base model, with random B so they change the output."""

from pathlib import Path
from typing import Any

from serving.random_adapter import random_lora_adapter


def save_random_adapters(
    base_dir: Path, root: Path, specs: dict[str, dict[str, Any]]
) -> dict[str, Path]:
    """One adapter per `specs` entry (name -> LoraConfig arguments), seeded by position."""
    return {
        name: random_lora_adapter(base_dir, root / name, seed, **kwargs)
        for seed, (name, kwargs) in enumerate(specs.items())
    }
