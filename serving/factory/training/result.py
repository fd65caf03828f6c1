"""What a finished job hands over: the adapter, its hash, and the figures to judge it by.

The adapter's sha256 is that of ``adapter_model.safetensors``, the ``weightsHash`` serving checks
before loading an adapter registered on chain; the contribution ids are the ones whose examples
were trained on (held-out examples excluded), the basis of the training manifest.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.factory.training.config import TrainingConfig
from serving.factory.training.evaluate import HeldOutLoss

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class TrainingResult:
    adapter_dir: Path
    """`adapter_config.json` + `adapter_model.safetensors`, as serving's AdapterSlots reads."""
    adapter_sha256: str
    base_model: str
    config: TrainingConfig
    steps: int
    tokens_seen: int
    """Real (non-padding) tokens trained on, all epochs."""
    train_seconds: float
    """Time in the training loop (steps, epoch evaluations, checkpoints), summed over resumes."""
    wall_seconds: float
    """This call from start to return: loading, training and saving."""
    train_examples: int
    held_out_examples: int
    eval: HeldOutLoss | None
    """The adapter on the held-out set; None when nothing was held out."""
    base_eval: HeldOutLoss | None
    """The base model (adapter disabled) on the same held-out set."""
    contribution_ids: tuple[int, ...]
    """Ascending, each once."""
    resumed_from_step: int
    """0 for a run from scratch."""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.train_seconds if self.train_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        def loss(value: HeldOutLoss | None) -> dict[str, float] | None:
            if value is None:
                return None
            return {"loss": value.loss, "perplexity": value.perplexity, "tokens": value.tokens}

        return {
            "adapter_dir": str(self.adapter_dir),
            "adapter_sha256": self.adapter_sha256,
            "base_model": self.base_model,
            "config": self.config.to_json(),
            "steps": self.steps,
            "tokens_seen": self.tokens_seen,
            "train_seconds": self.train_seconds,
            "wall_seconds": self.wall_seconds,
            "tokens_per_second": self.tokens_per_second,
            "train_examples": self.train_examples,
            "held_out_examples": self.held_out_examples,
            "eval": loss(self.eval),
            "base_eval": loss(self.base_eval),
            "contribution_ids": list(self.contribution_ids),
            "resumed_from_step": self.resumed_from_step,
        }
