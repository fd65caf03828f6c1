"""Which examples make up each step: a seeded shuffle per epoch, addressable by position.

Each epoch's order is a pure function of (seed, epoch), drawn from its own generator rather than
torch's global one. A resumed run therefore needs only the position (epoch, batches done) to
see exactly the batches the uninterrupted run would have seen, and no sampler state to restore.
"""

import math
import random


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches per epoch: the last one may be smaller (nothing is dropped)."""
    return math.ceil(examples / batch_size)


def epoch_batches(examples: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Example indexes of every batch of `epoch` (0-based), shuffled by (seed, epoch)."""
    order = list(range(examples))
    random.Random(f"order:{seed}:{epoch}").shuffle(order)
    return [order[i : i + batch_size] for i in range(0, examples, batch_size)]
