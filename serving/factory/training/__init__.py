"""ModelFactory's training core: LoRA fine-tuning of a base model on Datanet examples.

    result = train("path/or/name", examples, TrainingConfig(epochs=3), Path("job-1"))
    result.adapter_dir, result.adapter_sha256, result.eval, result.base_eval

Text in (`TrainingExample`: contribution id, prompt, completion), a PEFT adapter out that
serving's `AdapterSlots` loads as is; progress as events, cancel by a flag, resume from
checkpoints to the same weights.
"""

from serving.factory.training.config import TrainingConfig
from serving.factory.training.errors import (
    CheckpointMismatch,
    InvalidHyperparameters,
    TrainingCancelled,
    TrainingDataError,
    TrainingError,
)
from serving.factory.training.evaluate import HeldOutLoss
from serving.factory.training.examples import TrainingExample
from serving.factory.training.progress import EventKind, ProgressEvent
from serving.factory.training.result import TrainingResult
from serving.factory.training.trainer import train

__all__ = [
    "CheckpointMismatch",
    "EventKind",
    "HeldOutLoss",
    "InvalidHyperparameters",
    "ProgressEvent",
    "TrainingCancelled",
    "TrainingConfig",
    "TrainingDataError",
    "TrainingError",
    "TrainingExample",
    "TrainingResult",
    "train",
]
