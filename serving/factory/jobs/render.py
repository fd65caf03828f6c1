"""Dataset examples (messages) to the trainer's text pairs, the way serving prompts a model.

A fine-tuned adapter is used through ``/v1/chat/completions``, which renders a conversation for
a base model without a chat template as ``Role: content`` lines ending in ``Assistant:``
(`serving.api.prompts`). Training on that same rendering is what makes the adapter answer there;
a text contribution has no prompt and is learnt as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from serving.api.prompts import PLAIN_ROLES
from serving.factory.data.formats import Example
from serving.factory.training import TrainingExample


def to_training_example(example: Example) -> TrainingExample:
    if not example.prompt:
        return TrainingExample(example.contribution_id, "", example.completion)
    lines = "".join(f"{PLAIN_ROLES[m.role]}: {m.content}\n" for m in example.prompt)
    return TrainingExample(example.contribution_id, lines + "Assistant:", " " + example.completion)


def to_training_examples(examples: Iterable[Example]) -> list[TrainingExample]:
    return [to_training_example(e) for e in examples]
