"""The running batch's key/value cache: one row per sequence, all rows ending at the same column.

Sequences join and leave at every decoding step (continuous batching), so rows have different
lengths. Rows are *right-aligned*: each row's real tokens end at the last live column and the
columns before its first token are padding, masked out by the attention mask. Then a decoding
step appends one column for every row at once, exactly as transformers' own `generate` does
with a left-padded batch, and the model needs nothing unusual: a 2-D attention mask and per-row
`position_ids`.

Keys, values and the mask live in preallocated buffers with room for more columns; the live
ones are `[start, end)`. A decoding step writes its column in place (`ColumnLayer.update`)
instead of concatenating the whole cache into a new tensor, which is what transformers'
`DynamicCache` does and what made the cache the largest cost of a step on small models. When
the buffers are full they are compacted (dead columns dropped) or doubled.

Other costs: joining copies both sides once (right-aligned into new buffers); leaving selects
the remaining rows; columns that are padding in every row are dropped after each leave (by
moving `start`), so the live cache is never longer than the longest live sequence.
"""

from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, DynamicLayer

MIN_HEADROOM = 32
"""Free columns a new buffer gets at least (more for longer caches: they double)."""


class ColumnLayer(DynamicLayer):
    """One layer's keys and values, [rows, heads, capacity, head_dim], live in `[start, end)`."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, start: int, end: int) -> None:
        super().__init__()
        self.key_buffer = keys
        self.value_buffer = values
        self.start = start
        self.end = end
        self.device = keys.device
        self.is_initialized = True
        self._view()

    def _view(self) -> None:
        self.keys = self.key_buffer[:, :, self.start : self.end]
        self.values = self.value_buffer[:, :, self.start : self.end]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new columns after the live ones and return all live keys and values."""
        new = key_states.shape[-2]
        if self.end + new > self.key_buffer.shape[2]:
            self.key_buffer, self.value_buffer, self.start, self.end = _rebuffered(
                self.keys, self.values, self.end - self.start + new
            )
        self.key_buffer[:, :, self.end : self.end + new].copy_(key_states)
        self.value_buffer[:, :, self.end : self.end + new].copy_(value_states)
        self.end += new
        self._view()
        return self.keys, self.values


def _rebuffered(
    keys: torch.Tensor, values: torch.Tensor, needed: int
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """New buffers holding the live `keys`/`values` from column 0, with room for `needed`
    columns and headroom; returns (keys, values, start, end)."""
    width = keys.shape[2]
    capacity = needed + max(MIN_HEADROOM, needed)
    shape = (*keys.shape[:2], capacity, *keys.shape[3:])
    key_buffer, value_buffer = keys.new_zeros(shape), values.new_zeros(shape)
    key_buffer[:, :, :width].copy_(keys)
    value_buffer[:, :, :width].copy_(values)
    return key_buffer, value_buffer, 0, width


@dataclass
class KVBatch:
    """Per-layer keys and values ([rows, heads, columns, head_dim]) plus the [rows, columns]
    attention mask, all right-aligned; `cache` is what the model reads and appends to."""

    layers: list[ColumnLayer]
    mask_buffer: torch.Tensor
    start: int
    end: int

    def __post_init__(self) -> None:
        self.cache = Cache(layers=list(self.layers))

    @classmethod
    def from_tensors(
        cls, keys: list[torch.Tensor], values: list[torch.Tensor], attention_mask: torch.Tensor
    ) -> "KVBatch":
        """A batch holding copies of these right-aligned tensors, with room to grow."""
        width = attention_mask.shape[1]
        layers = [ColumnLayer(*_rebuffered(k, v, width)) for k, v in zip(keys, values, strict=True)]
        capacity = layers[0].key_buffer.shape[2] if layers else width
        mask_buffer = attention_mask.new_zeros(attention_mask.shape[0], capacity)
        mask_buffer[:, :width].copy_(attention_mask)
        return cls(layers, mask_buffer, 0, width)

    @classmethod
    def from_cache(cls, cache: Cache, attention_mask: torch.Tensor) -> "KVBatch":
        """The cache a prefill pass returned (transformers' own), in buffers of ours."""
        return cls.from_tensors(
            [layer.keys for layer in cache.layers],
            [layer.values for layer in cache.layers],
            attention_mask,
        )

    @property
    def rows(self) -> int:
        return self.mask_buffer.shape[0]

    @property
    def columns(self) -> int:
        return self.end - self.start

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.mask_buffer[:, self.start : self.end]

    def keys(self) -> list[torch.Tensor]:
        return [layer.keys for layer in self.layers]

    def values(self) -> list[torch.Tensor]:
        return [layer.values for layer in self.layers]

    def lengths(self) -> torch.Tensor:
        """Real tokens per row, which is also the position id of each row's next token."""
        return self.attention_mask.sum(dim=1)

    def mask_with_next_column(self) -> torch.Tensor:
        """The mask for a decoding step: the live columns plus the one it is about to write."""
        if self.end >= self.mask_buffer.shape[1]:
            self._regrow_mask()
        self.mask_buffer[:, self.end] = 1
        return self.mask_buffer[:, self.start : self.end + 1]

    def advance(self) -> None:
        """After a decoding step: its column (written by every layer) is live."""
        self.end += 1

    def _regrow_mask(self) -> None:
        live = self.attention_mask
        buffer = live.new_zeros(self.rows, self.columns + max(MIN_HEADROOM, self.columns))
        buffer[:, : self.columns].copy_(live)
        self.mask_buffer, self.start, self.end = buffer, 0, self.columns

    def merge(self, other: "KVBatch") -> "KVBatch":
        """Rows of `self` then rows of `other`, the shorter side padded on the left."""
        width = max(self.columns, other.columns)

        def joined(mine: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
            return torch.cat([_left_padded(mine, width), _left_padded(theirs, width)])

        return KVBatch.from_tensors(
            [joined(a, b) for a, b in zip(self.keys(), other.keys(), strict=True)],
            [joined(a, b) for a, b in zip(self.values(), other.values(), strict=True)],
            torch.cat(
                [
                    _left_padded_mask(self.attention_mask, width),
                    _left_padded_mask(other.attention_mask, width),
                ]
            ),
        )

    def select(self, rows: list[int]) -> "KVBatch":
        """Keep only `rows` (in that order), then drop the columns no remaining row uses."""
        index = torch.tensor(rows, device=self.mask_buffer.device, dtype=torch.long)
        mask = self.mask_buffer.index_select(0, index)
        used = int(mask[:, self.start : self.end].sum(dim=1).max()) if rows else 0
        layers = [
            ColumnLayer(
                layer.key_buffer.index_select(0, index),
                layer.value_buffer.index_select(0, index),
                layer.end - used,
                layer.end,
            )
            for layer in self.layers
        ]
        return KVBatch(layers, mask, self.end - used, self.end)


def _left_padded(t: torch.Tensor, width: int) -> torch.Tensor:
    pad = width - t.shape[2]
    if pad == 0:
        return t
    return torch.cat([t.new_zeros((*t.shape[:2], pad, *t.shape[3:])), t], dim=2)


def _left_padded_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    pad = width - mask.shape[1]
    if pad == 0:
        return mask
    return torch.cat([mask.new_zeros(mask.shape[0], pad), mask], dim=1)
