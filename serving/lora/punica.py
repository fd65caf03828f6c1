"""Batched LoRA for a batch whose rows use different adapters (Punica's BGMV idea, in torch).

Every adapter lives in one *slot* of stacked buffers; a per-row slot index picks the weights.
The products are gathered and batched, so one forward pass serves any mix of adapters with no
Python loop over adapters. A row's tokens all use the row's adapter (a row is one sequence), so
the weights are gathered once per row, not per token: in a prefill that is the prompt length
fewer copies. This is the reference path that runs on CPU and CUDA alike; a fused kernel would
avoid materialising the gathered weights but must compute the same thing.

Layout, chosen so the hot path is one gather per buffer and one fused multiply-add:

- `lora_a` [S + 1, in, R]: A transposed; `lora_b` [S + 1, R, out]: B transposed and already
  multiplied by the adapter's scaling. Ranks r < R are zero-padded, which adds exact zeros, so
  different ranks share one batch.
- The last slot, index S, is always zero: rows without an adapter point at it, which keeps the
  shapes static and avoids a device-to-host sync per layer to filter them out.
"""

import torch

NO_ADAPTER = -1
"""Slot index of a row that runs through the base weights only."""


def gather_rows(
    lora_a: torch.Tensor, lora_b: torch.Tensor, row_slots: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's A [rows, in, R] and B [rows, R, out]; `row_slots` [rows] (int64, a slot in
    [0, S], S being the zero slot). It depends only on which slot each row uses, so a caller
    keeps it while the rows stay the same."""
    return lora_a.index_select(0, row_slots), lora_b.index_select(0, row_slots)


def add_gathered_lora(
    y: torch.Tensor, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Add each row's own LoRA delta to the base output `y` [rows, tokens, out], in place, and
    return `y`. With `a, b = gather_rows(lora_a, lora_b, row_slots)` and `x` [rows, tokens, in]:

        for r in range(rows):
            y[r] += x[r] @ lora_a[row_slots[r]] @ lora_b[row_slots[r]]
    """
    return y.baddbmm_(torch.bmm(x, a), b)


def add_lora_one_slot(
    y: torch.Tensor, x: torch.Tensor, lora_a: torch.Tensor, lora_b: torch.Tensor, slot: int
) -> torch.Tensor:
    """The same when every row uses adapter `slot`: two plain matrix products, no gather."""
    flat_y = y.view(-1, y.shape[-1])
    flat_y.addmm_(x.reshape(-1, x.shape[-1]) @ lora_a[slot], lora_b[slot])
    return y
