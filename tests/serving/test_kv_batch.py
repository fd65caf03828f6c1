"""The preallocated, right-aligned KV batch against plain concatenation, through joins, leaves,
decoding steps and buffer growth."""

import random

import pytest
import torch

from serving.engine.engine import cache_argument_name
from serving.engine.kv_batch import MIN_HEADROOM, KVBatch

LAYERS, HEADS, DIM = 2, 2, 4


class Reference:
    """The same batch kept the simple way: whole tensors, concatenated at every step."""

    def __init__(self, keys, values, mask):
        self.keys, self.values, self.mask = keys, values, mask

    def step(self, new_keys, new_values):
        self.keys = [torch.cat([k, n], dim=2) for k, n in zip(self.keys, new_keys, strict=True)]
        self.values = [
            torch.cat([v, n], dim=2) for v, n in zip(self.values, new_values, strict=True)
        ]
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], dim=1)

    def select(self, rows):
        index = torch.tensor(rows, dtype=torch.long)
        mask = self.mask.index_select(0, index)
        drop = mask.shape[1] - int(mask.sum(dim=1).max())
        self.keys = [k.index_select(0, index)[:, :, drop:] for k in self.keys]
        self.values = [v.index_select(0, index)[:, :, drop:] for v in self.values]
        self.mask = mask[:, drop:]

    def merge(self, other):
        width = max(self.mask.shape[1], other.mask.shape[1])

        def pad(t, dim):
            missing = width - t.shape[dim]
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([t.new_zeros(shape), t], dim=dim)

        self.keys = [
            torch.cat([pad(a, 2), pad(b, 2)]) for a, b in zip(self.keys, other.keys, strict=True)
        ]
        self.values = [
            torch.cat([pad(a, 2), pad(b, 2)])
            for a, b in zip(self.values, other.values, strict=True)
        ]
        self.mask = torch.cat([pad(self.mask, 1), pad(other.mask, 1)])


def random_rows(rng: random.Random, rows: int) -> tuple[list, list, torch.Tensor]:
    """Right-aligned keys, values and mask of `rows` prompts of 1-12 tokens (zero padding)."""
    lengths = [rng.randint(1, 12) for _ in range(rows)]
    width = max(lengths)
    mask = torch.zeros(rows, width, dtype=torch.long)
    for row, length in enumerate(lengths):
        mask[row, width - length :] = 1
    keys = [torch.randn(rows, HEADS, width, DIM) * mask[:, None, :, None] for _ in range(LAYERS)]
    values = [torch.randn(rows, HEADS, width, DIM) * mask[:, None, :, None] for _ in range(LAYERS)]
    return keys, values, mask


def random_batch(rng: random.Random, rows: int, capacity: int = 0) -> tuple[KVBatch, Reference]:
    keys, values, mask = random_rows(rng, rows)
    return KVBatch.from_tensors(keys, values, mask, capacity), Reference(keys, values, mask)


def decode_step(batch: KVBatch, reference: Reference) -> None:
    rows = batch.rows
    new_keys = [torch.randn(rows, HEADS, 1, DIM) for _ in range(LAYERS)]
    new_values = [torch.randn(rows, HEADS, 1, DIM) for _ in range(LAYERS)]
    mask = batch.mask_with_next_column()
    for layer, k, v in zip(batch.cache.layers, new_keys, new_values, strict=True):
        keys, _values = layer.update(k, v)
        assert keys.shape[2] == mask.shape[1]  # what attention sees matches the mask
    batch.advance()
    reference.step(new_keys, new_values)


def assert_same(batch: KVBatch, reference: Reference) -> None:
    """Equal where it matters: the mask, and keys and values wherever the mask is 1 (padding
    columns may hold what an earlier row left there; attention never reads them)."""
    mask = batch.attention_mask
    assert torch.equal(mask, reference.mask)
    real = mask.bool()[:, None, :, None]
    for ours, theirs in zip(
        [*batch.keys(), *batch.values()], [*reference.keys, *reference.values], strict=True
    ):
        assert ours.shape == theirs.shape
        assert torch.equal(ours * real, theirs * real)
    assert batch.lengths().tolist() == reference.mask.sum(dim=1).tolist()


@pytest.mark.parametrize("row_capacity", [0, 8])
def test_steps_joins_and_leaves_equal_concatenation(row_capacity: int):
    """Row capacity 0: every join outgrows the rows; 8: joins fit until they do not."""
    rng = random.Random(7)
    torch.manual_seed(7)
    batch, reference = random_batch(rng, 5, row_capacity)
    rebuilt = 0
    for round_ in range(60):  # long enough to outgrow the columns several times
        buffer = batch.mask_buffer
        decode_step(batch, reference)
        assert_same(batch, reference)
        if round_ % 9 == 4 and batch.rows > 1:
            keep = sorted(rng.sample(range(batch.rows), batch.rows - rng.randint(1, 2)))
            order = batch.keep_rows(keep)
            assert sorted(order) == keep
            reference.select(order)
            assert_same(batch, reference)
        if round_ % 7 == 6:
            keys, values, mask = random_rows(rng, rng.randint(1, 3))
            batch.append(keys, values, mask)
            reference.merge(Reference(keys, values, mask))
            assert_same(batch, reference)
        rebuilt += batch.mask_buffer is not buffer
    assert batch.columns > MIN_HEADROOM  # the columns outgrew their first capacity
    assert rebuilt >= 2


def test_a_leaving_row_moves_only_the_last_rows_into_its_place():
    rng = random.Random(3)
    batch, reference = random_batch(rng, 5)
    untouched = batch.key_buffers[0][0].clone()
    order = batch.keep_rows([0, 2, 3])  # row 4 is gone; row 3 moves to row 1's place
    assert order == [0, 3, 2]
    assert torch.equal(batch.key_buffers[0][0], untouched)
    reference.select(order)
    assert_same(batch, reference)


def test_leaving_rows_trims_dead_columns_without_copying_live_ones():
    rng = random.Random(1)
    batch, reference = random_batch(rng, 3)
    longest = int(batch.lengths().argmax())
    keep = [row for row in range(3) if row != longest]
    buffer = batch.mask_buffer
    order = batch.keep_rows(keep)
    reference.select(order)
    assert batch.mask_buffer is buffer
    assert batch.columns == int(batch.lengths().max())
    assert_same(batch, reference)


def test_the_model_reads_the_cache_as_a_transformers_cache():
    """GPT-2 through `KVBatch.cache` gives the logits of a full forward pass."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50)).eval()
    ids = torch.randint(0, 50, (2, 6))
    name = cache_argument_name(model)  # `cache` in transformers 5, `past_key_values` before
    with torch.no_grad():
        full = model(ids).logits[:, -1]
        first = model(ids[:, :5], use_cache=True)
        batch = KVBatch.from_cache(first[name], torch.ones(2, 5, dtype=torch.long))
        mask = batch.mask_with_next_column()
        step = model(
            ids[:, 5:],
            attention_mask=mask,
            position_ids=torch.full((2, 1), 5),
            use_cache=True,
            **{name: batch.cache},
        ).logits[:, -1]
    batch.advance()
    torch.testing.assert_close(step, full, atol=1e-5, rtol=1e-5)
    assert batch.columns == 6
