"""Held-out loss and perplexity: mean cross-entropy per completion token over the whole set.

The mean is over tokens, not over batches, so the figure does not depend on the batch size or
on how padding falls, and the base model and the adapter are compared on exactly the same sum.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from serving.factory.training.encoding import IGNORE_INDEX, Batch
from serving.factory.training.model import Precision


@dataclass(frozen=True)
class HeldOutLoss:
    loss: float
    """Mean negative log-likelihood (nats) per completion token."""
    perplexity: float
    tokens: int
    """Completion tokens scored."""


def perplexity_of(loss: float) -> float:
    """exp(loss), infinite rather than an overflow error for a hopeless model."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


@torch.no_grad()
def held_out_loss(
    model: nn.Module,
    batches: Sequence[Batch],
    precision: Precision,
) -> HeldOutLoss:
    """Score `batches` with `model` in eval mode (no dropout); the caller restores train mode."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=precision.device)
    tokens = 0
    for batch in batches:
        batch = batch.to(precision.device)
        with precision.autocast():
            logits = model(
                input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False
            ).logits
        targets = batch.labels[:, 1:]
        nll = F.cross_entropy(
            logits[:, :-1].float().flatten(0, 1),
            targets.flatten(),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        total += nll.double()
        tokens += int((targets != IGNORE_INDEX).sum())
    loss = float(total) / tokens
    return HeldOutLoss(loss, perplexity_of(loss), tokens)
