"""The running batch's key/value cache: one row per sequence, all rows ending at the same column.

Sequences join and leave at every decoding step (continuous batching), so rows have different
lengths. Rows are *right-aligned*: each row's real tokens end at the last live column and the
columns before its first token are padding, masked out by the attention mask. Then a decoding
step appends one column for every row at once, exactly as transformers' own `generate` does
with a left-padded batch, and the model needs nothing unusual: a 2-D attention mask and per-row
`position_ids`.

Keys, values and the mask live in preallocated buffers, `[row capacity, heads, column capacity,
head_dim]` (the mask `[row capacity, column capacity]`), all in the same coordinates; the live
part is rows `[0, rows)` and columns `[start, end)`. So nothing is concatenated on the hot path:

- a decoding step writes its column in place (`ColumnLayer.update`), where transformers'
  `DynamicCache` would concatenate the whole cache into new tensors;
- a leaving row is replaced by a row from the end of the batch (only moved rows are copied),
  and columns no remaining row uses are dropped by moving `start`;
- joining rows are written into free rows, right-aligned at `end` (only they are copied).

The buffers are rebuilt (compacted and enlarged, one copy) only when they run out of rows or
columns: a step at the last column, or a joining prompt longer than the columns left of `end`.
"""

from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, DynamicLayer

MIN_HEADROOM = 32
"""Free columns a rebuilt buffer gets at least (more for longer caches: they double)."""


class ColumnLayer(DynamicLayer):
    """One layer's keys and values; `KVBatch` owns the coordinates and the buffers' size."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, batch: "KVBatch") -> None:
        super().__init__()
        self.key_buffer = keys
        self.value_buffer = values
        self.batch = batch
        self.device = keys.device
        self.is_initialized = True
        self.view()

    def view(self) -> None:
        rows, start, end = self.batch.rows, self.batch.start, self.batch.end
        self.keys = self.key_buffer[:rows, :, start:end]
        self.values = self.value_buffer[:rows, :, start:end]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the step's column at `end` (room was made by `KVBatch.mask_with_next_column`)
        and return all live keys and values, that column included."""
        batch = self.batch
        if key_states.shape[-2] != 1:
            raise ValueError("the running batch's cache takes one new column per step")
        column = batch.end
        self.key_buffer[: batch.rows, :, column : column + 1].copy_(key_states)
        self.value_buffer[: batch.rows, :, column : column + 1].copy_(value_states)
        self.keys = self.key_buffer[: batch.rows, :, batch.start : column + 1]
        self.values = self.value_buffer[: batch.rows, :, batch.start : column + 1]
        return self.keys, self.values


@dataclass
class KVBatch:
    """Per-layer keys and values plus the attention mask, right-aligned; `cache` is what the
    model reads and appends to."""

    key_buffers: list[torch.Tensor]
    value_buffers: list[torch.Tensor]
    mask_buffer: torch.Tensor
    rows: int
    start: int
    end: int

    def __post_init__(self) -> None:
        self.layers = [
            ColumnLayer(k, v, self)
            for k, v in zip(self.key_buffers, self.value_buffers, strict=True)
        ]
        self.cache = Cache(layers=list(self.layers))

    @classmethod
    def from_tensors(
        cls,
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        attention_mask: torch.Tensor,
        row_capacity: int = 0,
    ) -> "KVBatch":
        """A batch holding copies of these right-aligned tensors, with room to grow."""
        rows, width = attention_mask.shape
        capacity = width + max(MIN_HEADROOM, width)
        row_capacity = max(row_capacity, rows)

        def buffer(t: torch.Tensor) -> torch.Tensor:
            out = t.new_zeros((row_capacity, t.shape[1], capacity, *t.shape[3:]))
            out[:rows, :, :width].copy_(t)
            return out

        mask_buffer = attention_mask.new_zeros(row_capacity, capacity)
        mask_buffer[:rows, :width].copy_(attention_mask)
        return cls(
            [buffer(k) for k in keys], [buffer(v) for v in values], mask_buffer, rows, 0, width
        )

    @classmethod
    def from_cache(
        cls, cache: Cache, attention_mask: torch.Tensor, row_capacity: int = 0
    ) -> "KVBatch":
        """The cache a prefill pass returned (transformers' own), in buffers of ours."""
        return cls.from_tensors(
            [layer.keys for layer in cache.layers],
            [layer.values for layer in cache.layers],
            attention_mask,
            row_capacity,
        )

    @property
    def columns(self) -> int:
        return self.end - self.start

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.mask_buffer[: self.rows, self.start : self.end]

    def keys(self) -> list[torch.Tensor]:
        return [layer.keys for layer in self.layers]

    def values(self) -> list[torch.Tensor]:
        return [layer.values for layer in self.layers]

    def lengths(self) -> torch.Tensor:
        """Real tokens per row, which is also the position id of each row's next token."""
        return self.attention_mask.sum(dim=1)

    # A decoding step.

    def mask_with_next_column(self) -> torch.Tensor:
        """The mask for a decoding step: the live columns plus the one it is about to write."""
        if self.end >= self.mask_buffer.shape[1]:
            self._rebuild(self.rows, self.columns)
        self.mask_buffer[: self.rows, self.end] = 1
        return self.mask_buffer[: self.rows, self.start : self.end + 1]

    def advance(self) -> None:
        """After a decoding step: its column is live (each layer's view already includes it,
        `ColumnLayer.update` set it)."""
        self.end += 1

    # Rows leaving and joining.

    def keep_rows(self, keep: list[int]) -> list[int]:
        """Keep only the rows `keep` (ascending); return the old index of each row as it now
        is. Rows after the kept count move into the holes, so only they are copied."""
        count = len(keep)
        kept = set(keep)
        holes = [row for row in range(count) if row not in kept]
        movers = [row for row in keep if row >= count]
        order = list(range(count))
        if holes:
            device = self.mask_buffer.device
            source = torch.tensor(movers, dtype=torch.long, device=device)
            target = torch.tensor(holes, dtype=torch.long, device=device)
            for buffer in (*self.key_buffers, *self.value_buffers, self.mask_buffer):
                buffer.index_copy_(0, target, buffer.index_select(0, source))
            for hole, mover in zip(holes, movers, strict=True):
                order[hole] = mover
        self.rows = count
        used = int(self.lengths().max()) if count else 0
        self.start = self.end - used
        self._view()
        return order

    def append(
        self, keys: list[torch.Tensor], values: list[torch.Tensor], attention_mask: torch.Tensor
    ) -> None:
        """Add right-aligned rows (a prefill's cache and mask) after these, ending at the same
        column."""
        joining, width = attention_mask.shape
        if self.rows + joining > self.mask_buffer.shape[0] or width > self.end:
            self._rebuild(self.rows + joining, width)
        rows = slice(self.rows, self.rows + joining)
        first = self.end - width
        for buffers, tensors in ((self.key_buffers, keys), (self.value_buffers, values)):
            for buffer, tensor in zip(buffers, tensors, strict=True):
                buffer[rows].zero_()
                buffer[rows, :, first : self.end].copy_(tensor)
        self.mask_buffer[rows].zero_()
        self.mask_buffer[rows, first : self.end].copy_(attention_mask)
        self.rows += joining
        self.start = min(self.start, first)
        self._view()

    def append_cache(self, cache: Cache, attention_mask: torch.Tensor) -> None:
        """`append` the cache a prefill pass returned."""
        self.append(
            [layer.keys for layer in cache.layers],
            [layer.values for layer in cache.layers],
            attention_mask,
        )

    # Keeping the coordinates.

    def _view(self) -> None:
        for layer in self.layers:
            layer.view()

    def _rebuild(self, rows: int, left: int) -> None:
        """New buffers for at least `rows` rows, the live columns ending at `end` = at least
        `left` (room for a joining prompt that long), with free columns after it; one copy of
        the live part."""
        live = self.columns
        end = max(live, left)
        capacity = end + max(MIN_HEADROOM, end)
        row_capacity = max(rows, self.mask_buffer.shape[0])

        def rebuilt(buffer: torch.Tensor) -> torch.Tensor:
            shape = (row_capacity, buffer.shape[1], capacity, *buffer.shape[3:])
            out = buffer.new_zeros(shape)
            out[: self.rows, :, end - live : end].copy_(
                buffer[: self.rows, :, self.start : self.end]
            )
            return out

        self.key_buffers = [rebuilt(b) for b in self.key_buffers]
        self.value_buffers = [rebuilt(b) for b in self.value_buffers]
        mask = self.mask_buffer.new_zeros(row_capacity, capacity)
        mask[: self.rows, end - live : end].copy_(self.attention_mask)
        self.mask_buffer = mask
        self.start, self.end = end - live, end
        for layer, keys, values in zip(
            self.layers, self.key_buffers, self.value_buffers, strict=True
        ):
            layer.key_buffer, layer.value_buffer = keys, values
        self._view()
