"""How a training job refuses to start or stops early, as exceptions a job runner tells apart."""


class TrainingError(Exception):
    """Root of the trainer's errors."""


class InvalidHyperparameters(TrainingError, ValueError):
    """Hyperparameters that cannot train: every problem is listed, each naming its field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid hyperparameters: " + "; ".join(problems))
        self.problems = problems


class TrainingDataError(TrainingError, ValueError):
    """The examples cannot be trained on as given (none, or some with nothing to learn)."""


class CheckpointMismatch(TrainingError):
    """The output directory's checkpoints belong to another job (data or hyperparameters)."""


class TrainingCancelled(TrainingError):
    """The cancel flag was seen before `step + 1`: nothing final was written."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training cancelled after step {step}")
        self.step = step
