"""The running batch's key/value cache: one row per sequence, all rows ending at the same column.

Sequences join and leave at every decoding step (continuous batching), so rows have different
lengths. Rows are *right-aligned*: each row's real tokens end at the last column and the columns
before its first token are padding, masked out by `attention_mask`. Then a decoding step appends
one column for every row at once, exactly as transformers' own `generate` does with a
left-padded batch, and the model needs nothing unusual: a 2-D attention mask and per-row
`position_ids`.

Costs: joining copies the cache once (to pad the shorter side on the left and concatenate);
leaving selects the remaining rows; columns that are padding in every row are trimmed after each
leave, so the cache is never longer than the longest live sequence.
"""

from dataclasses import dataclass

import torch
from transformers import DynamicCache


@dataclass
class KVBatch:
    """Per-layer keys and values [rows, heads, columns, head_dim] plus the [rows, columns] mask."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    attention_mask: torch.Tensor

    @classmethod
    def from_cache(cls, cache: DynamicCache, attention_mask: torch.Tensor) -> "KVBatch":
        return cls(
            keys=[layer.keys for layer in cache.layers],
            values=[layer.values for layer in cache.layers],
            attention_mask=attention_mask,
        )

    @property
    def rows(self) -> int:
        return self.attention_mask.shape[0]

    @property
    def columns(self) -> int:
        return self.attention_mask.shape[1]

    def lengths(self) -> torch.Tensor:
        """Real tokens per row, which is also the position id of each row's next token."""
        return self.attention_mask.sum(dim=1)

    def to_cache(self, config: object) -> DynamicCache:
        """A transformers cache holding these tensors; the model appends to it in place."""
        layers = list(zip(self.keys, self.values, strict=True))
        return DynamicCache(ddp_cache_data=layers, config=config)

    def merge(self, other: "KVBatch") -> "KVBatch":
        """Rows of `self` then rows of `other`, the shorter side padded on the left."""
        width = max(self.columns, other.columns)
        mine, theirs = self._padded_to(width), other._padded_to(width)
        return KVBatch(
            keys=[torch.cat(pair) for pair in zip(mine.keys, theirs.keys, strict=True)],
            values=[torch.cat(pair) for pair in zip(mine.values, theirs.values, strict=True)],
            attention_mask=torch.cat([mine.attention_mask, theirs.attention_mask]),
        )

    def select(self, rows: list[int]) -> "KVBatch":
        """Keep only `rows` (in that order), then drop the columns no remaining row uses."""
        index = torch.tensor(rows, device=self.attention_mask.device, dtype=torch.long)
        kept = KVBatch(
            keys=[k.index_select(0, index) for k in self.keys],
            values=[v.index_select(0, index) for v in self.values],
            attention_mask=self.attention_mask.index_select(0, index),
        )
        return kept._trimmed()

    def _padded_to(self, width: int) -> "KVBatch":
        pad = width - self.columns
        if pad == 0:
            return self

        def left_pad(t: torch.Tensor) -> torch.Tensor:
            shape = (*t.shape[:2], pad, *t.shape[3:])
            return torch.cat([t.new_zeros(shape), t], dim=2)

        mask = self.attention_mask
        return KVBatch(
            keys=[left_pad(k) for k in self.keys],
            values=[left_pad(v) for v in self.values],
            attention_mask=torch.cat([mask.new_zeros(mask.shape[0], pad), mask], dim=1),
        )

    def _trimmed(self) -> "KVBatch":
        used = int(self.lengths().max()) if self.rows else 0
        drop = self.columns - used
        if drop == 0:
            return self
        return KVBatch(
            keys=[k[:, :, drop:] for k in self.keys],
            values=[v[:, :, drop:] for v in self.values],
            attention_mask=self.attention_mask[:, drop:],
        )
