"""What the trainer learns from: text pairs traceable to the contribution they came from.

The dataset side (`serving.factory.data`) renders chat and instruction rows to text before they
reach here, so the trainer only ever sees a prompt and a completion. Keeping the contribution id
on every example is what lets a finished adapter list exactly whose data it trained on.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingExample:
    contribution_id: int
    prompt: str
    """Context the model is conditioned on but not trained to produce; empty for plain text."""
    completion: str
    """What the model learns to write after the prompt (the loss is taken on these tokens only)."""


def split_held_out(
    examples: Sequence[TrainingExample], fraction: float, seed: int
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """(train, held-out): `fraction` of the examples, at least one, picked by `seed`.

    The pick uses its own seeded generator rather than torch's global one, so the same examples
    and seed give the same split on any machine and whatever ran before. Both parts keep the
    input order. A fraction of 0 holds nothing out.
    """
    if fraction <= 0:
        return list(examples), []
    count = max(1, round(len(examples) * fraction))
    if count >= len(examples):
        raise ValueError(
            f"eval_fraction {fraction} of {len(examples)} examples leaves none to train on"
        )
    picked = set(random.Random(f"held-out:{seed}").sample(range(len(examples)), count))
    train = [e for i, e in enumerate(examples) if i not in picked]
    held_out = [e for i, e in enumerate(examples) if i in picked]
    return train, held_out
