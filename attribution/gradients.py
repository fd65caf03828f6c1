"""Per-example gradients of the causal-LM loss with respect to the LoRA parameters only.

torch.func's `vmap(grad(loss))` gives every example of a padded mini-batch its own gradient in
one pass, instead of one backward pass per example. Sequences are padded on the right and
masked: in a causal model a token never attends to later positions, and padded positions carry
no label, so padding cannot change any example's gradient.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from attribution.model import LoraModel

IGNORE_INDEX = -100
"""Label of a position that is not scored (prompt and padding), as in Hugging Face."""

GradientGroups = Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]]
"""Streams (contribution row of each example, gradients n x dim) over the whole training set,
always in the same order; a consumer that needs two passes calls it twice."""


@dataclass(frozen=True)
class TrainingExample:
    """One tokenised training example and the contribution it came from.

    `labels` has `input_ids`' length with -100 on positions not trained on (the prompt); the loss
    is the mean cross-entropy over the others, each predicting token t from tokens before t.
    """

    contribution_id: int
    input_ids: list[int]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.labels):
            raise ValueError("input_ids and labels must have the same length")
        if all(label == IGNORE_INDEX for label in self.labels[1:]):
            raise ValueError("an example needs at least one label after its first token")


def answer_sequence(
    prompt_ids: Sequence[int], answer_ids: Sequence[int]
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of an answer: the loss is that of the answer tokens given the prompt."""
    if not answer_ids:
        raise ValueError("the answer has no tokens")
    if not prompt_ids:
        raise ValueError("the prompt has no tokens (the first answer token needs a context)")
    return list(prompt_ids) + list(answer_ids), [IGNORE_INDEX] * len(prompt_ids) + list(answer_ids)


def pad(
    sequences: Sequence[tuple[Sequence[int], Sequence[int]]], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad (input_ids, labels) pairs into input_ids, attention_mask and labels tensors."""
    width = max(len(ids) for ids, _ in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    labels = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
    for row, (input_ids, label_ids) in enumerate(sequences):
        ids[row, : len(input_ids)] = torch.tensor(input_ids)
        mask[row, : len(input_ids)] = 1
        labels[row, : len(label_ids)] = torch.tensor(label_ids)
    return ids.to(device), mask.to(device), labels.to(device)


class LoraGradients:
    """Flattened loss gradients (in `LoraModel.names` order) for one example or many."""

    def __init__(self, lora: LoraModel) -> None:
        self.lora = lora
        self._grad = grad(self._loss)
        self._per_example = vmap(self._grad, in_dims=(None, 0, 0, 0))

    def _loss(
        self,
        params: dict[str, torch.Tensor],
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
    ) -> torch.Tensor:
        """Mean next-token cross-entropy over the labelled positions of one sequence."""
        logits = functional_call(
            self.lora.model,
            params,
            args=(input_ids[None],),
            kwargs={"attention_mask": attention_mask[None], "use_cache": False},
        ).logits[0, :-1]
        targets = labels[1:]
        scored = targets != IGNORE_INDEX
        losses = F.cross_entropy(logits, targets.clamp(min=0), reduction="none")
        return (losses * scored).sum() / scored.sum()

    def _flatten(self, grads: dict[str, torch.Tensor], batch: tuple[int, ...]) -> torch.Tensor:
        return torch.cat([grads[name].reshape(*batch, -1) for name in self.lora.names], dim=-1)

    def batch(self, sequences: Sequence[tuple[Sequence[int], Sequence[int]]]) -> torch.Tensor:
        """One gradient row per (input_ids, labels) pair: a (len(sequences), dim) float32 tensor."""
        ids, mask, labels = pad(sequences, self.lora.device)
        grads = self._per_example(self.lora.parameters(), ids, mask, labels)
        return self._flatten(grads, (len(sequences),))

    def one(self, input_ids: Sequence[int], labels: Sequence[int]) -> torch.Tensor:
        """The gradient of one sequence (no vmap, no padding): a (dim,) float32 tensor."""
        ids, mask, label_ids = pad([(input_ids, labels)], self.lora.device)
        grads = self._grad(self.lora.parameters(), ids[0], mask[0], label_ids[0])
        return self._flatten(grads, ())


def gradient_groups(
    gradients: LoraGradients,
    examples: Sequence[TrainingExample],
    rows: torch.Tensor,
    batch_size: int,
    group_rows: int,
    on_batch: Callable[[int], None] | None = None,
) -> GradientGroups:
    """A re-playable stream of (rows, gradients) over `examples` in their given order.

    Gradients are computed `batch_size` examples at a time (the vmap width) and handed out
    `group_rows` at a time, so a consumer that pays a fixed cost per call (the projection draws
    P anew) pays it once per group. `rows[i]` is example i's contribution row. `on_batch` is
    told how many examples each mini-batch covered.
    """

    def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(examples), group_rows):
            group = examples[start : start + group_rows]
            parts = []
            for offset in range(0, len(group), batch_size):
                batch = group[offset : offset + batch_size]
                parts.append(gradients.batch([(e.input_ids, e.labels) for e in batch]))
                if on_batch is not None:
                    on_batch(len(batch))
            yield rows[start : start + len(group)].to(gradients.lora.device), torch.cat(parts)

    return stream
