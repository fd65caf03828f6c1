"""Wrappers around the base model's projections that add per-token LoRA deltas.

A `LoRALayer` replaces a `Conv1D` (GPT-2's c_attn, c_proj, c_fc) or an `nn.Linear` in place and
holds that layer's stacked slot buffers. All wrapped layers share one `BatchMapping`, which the
engine sets once per forward pass; the layers themselves never know which request is which.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from serving.lora.punica import add_lora


class BatchMapping:
    """The slot index of every token in the current forward pass, shared by all LoRA layers.

    `token_slots` is None outside a batch: then the layers run the base weights alone.
    """

    def __init__(self) -> None:
        self.token_slots: torch.Tensor | None = None


def projection_shape(base: nn.Module) -> tuple[int, int]:
    """(in_features, out_features) of a Conv1D (weight stored [in, out]) or an nn.Linear."""
    if isinstance(base, Conv1D):
        in_features, out_features = base.weight.shape
        return in_features, out_features
    if isinstance(base, nn.Linear):
        return base.in_features, base.out_features
    raise TypeError(f"LoRA wraps Conv1D or nn.Linear, not {type(base).__name__}")


class LoRALayer(nn.Module):
    """A base projection plus `max_slots` adapter slots of rank up to `max_rank`.

    The slot buffers start at zero, so an empty slot adds nothing.
    """

    def __init__(
        self, base: nn.Module, mapping: BatchMapping, max_slots: int, max_rank: int
    ) -> None:
        super().__init__()
        self.base = base
        self.mapping = mapping
        self.in_features, self.out_features = projection_shape(base)
        weight = base.weight
        self.register_buffer(
            "lora_a",
            weight.new_zeros(max_slots, max_rank, self.in_features),
            persistent=False,
        )
        self.register_buffer(
            "lora_b",
            weight.new_zeros(max_slots, self.out_features, max_rank),
            persistent=False,
        )
        self.register_buffer("scaling", weight.new_zeros(max_slots), persistent=False)

    def set_slot(self, slot: int, lora_a: torch.Tensor, lora_b: torch.Tensor, scale: float) -> None:
        """Copy an adapter's A [r, in] and B [out, r] into `slot`, zero-padding rank r to max."""
        rank = lora_a.shape[0]
        self.clear_slot(slot)
        self.lora_a[slot, :rank].copy_(lora_a)
        self.lora_b[slot, :, :rank].copy_(lora_b)
        self.scaling[slot] = scale

    def clear_slot(self, slot: int) -> None:
        """Zero `slot`, so tokens mapped to it get exactly the base output."""
        self.lora_a[slot].zero_()
        self.lora_b[slot].zero_()
        self.scaling[slot] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        token_slots = self.mapping.token_slots
        if token_slots is None:
            return y
        flat_x = x.reshape(-1, self.in_features)
        if flat_x.shape[0] != token_slots.shape[0]:
            raise ValueError(
                f"batch mapping has {token_slots.shape[0]} tokens, the layer got {flat_x.shape[0]}"
            )
        flat_y = y.reshape(-1, self.out_features)
        add_lora(flat_y, flat_x, self.lora_a, self.lora_b, self.scaling, token_slots)
        return flat_y.view(y.shape)


def wrap_lora_layers(
    model: nn.Module,
    target_modules: list[str],
    max_slots: int,
    max_rank: int,
    mapping: BatchMapping,
) -> dict[str, LoRALayer]:
    """Replace every module whose last name part is in `target_modules` by a `LoRALayer`.

    Returns the wrappers keyed by the replaced module's full name (as PEFT names it in the
    adapter's weights file), which is how adapters are loaded into them.
    """
    targets = set(target_modules)
    names = [name for name, _ in model.named_modules() if name.rsplit(".", 1)[-1] in targets]
    layers: dict[str, LoRALayer] = {}
    for name in names:
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        layer = LoRALayer(parent.get_submodule(child_name), mapping, max_slots, max_rank)
        setattr(parent, child_name, layer)
        layers[name] = layer
    return layers


def rows_to_tokens(row_slots: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Expand one slot per row to one slot per token of a [rows, seq_len] batch."""
    return row_slots.repeat_interleave(seq_len)


@contextmanager
def batch_mapping(mapping: BatchMapping, token_slots: torch.Tensor) -> Iterator[None]:
    """Run the enclosed forward pass with `token_slots`, and go back to base-only after it."""
    mapping.token_slots = token_slots
    try:
        yield
    finally:
        mapping.token_slots = None
