"""Batched LoRA for a batch whose rows use different adapters (Punica's BGMV idea, in torch).

Every adapter lives in one *slot* of stacked buffers; a per-token slot index picks the weights.
The products are gathered and batched, so one forward pass serves any mix of adapters with no
Python loop over adapters. This is the reference path that runs on CPU and CUDA alike; a fused
kernel would avoid materialising the gathered weights but must compute the same thing.
"""

import torch

NO_ADAPTER = -1
"""Slot index of a token that runs through the base weights only."""


def add_lora(
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    scaling: torch.Tensor,
    token_slots: torch.Tensor,
) -> torch.Tensor:
    """Add each token's own LoRA delta to the base output `y`, in place, and return `y`.

    Shapes: `x` [T, in], `y` [T, out], `lora_a` [S, R, in], `lora_b` [S, out, R], `scaling` [S],
    `token_slots` [T] (int64, `NO_ADAPTER` or a slot in [0, S)). Adapters of rank r < R are
    zero-padded to R, which adds exact zeros, so different ranks share one batch.

    Semantics:
        for t in range(T):
            s = token_slots[t]
            if s == NO_ADAPTER:
                continue
            y[t] += scaling[s] * (lora_b[s] @ (lora_a[s] @ x[t]))

    Tokens without an adapter are computed against slot 0 and multiplied by a zero scale rather
    than filtered out: that keeps the shapes static and avoids a device-to-host sync per layer.
    """
    has_adapter = token_slots != NO_ADAPTER
    slots = torch.where(has_adapter, token_slots, torch.zeros_like(token_slots))
    scale = torch.where(has_adapter, scaling[slots], scaling.new_zeros(()))
    shrunk = torch.bmm(lora_a[slots], x.unsqueeze(-1))  # [T, R, 1]
    expanded = torch.bmm(lora_b[slots], shrunk).squeeze(-1)  # [T, out]
    return y.add_(expanded * scale.to(y.dtype).unsqueeze(-1))
