"""Wrappers around the base model's projections that add per-row LoRA deltas.

A `LoRALayer` replaces a `Conv1D` (GPT-2's c_attn, c_proj, c_fc) or an `nn.Linear` in place and
holds that layer's stacked slot buffers (layout in `serving.lora.punica`). All wrapped layers
share one `BatchMapping`, which the engine sets once per forward pass; the layers themselves
never know which request is which.

Between two joins or leaves, every decoding step runs the same rows with the same slots, so a
layer keeps the per-row weights it gathered (`GatheredRows`) and reuses them until the rows or
its slot contents change: a decoding step then costs two batched products per layer instead of
two gathers and two products. The copies cost `rows x (in + out) x rank` elements per layer, so
they are kept only while all layers together stay under `GATHER_CACHE_BYTES`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from serving.lora.punica import NO_ADAPTER, add_gathered_lora, add_lora_one_slot, gather_rows

GATHER_CACHE_BYTES = 256 * 2**20
"""Most memory all layers may hold in per-row gathered weights (about 150 MiB for a GPT-2-small
shape at 64 rows, rank 8, bf16); a larger model gathers afresh every pass instead."""


class BatchMapping:
    """Which slot each row of the current forward pass uses, shared by all LoRA layers.

    Set by `batch_mapping` from the engine's per-row slots (`NO_ADAPTER` for the base model).
    It resolves, once per pass rather than once per layer, the cases the layers take shortcuts
    for: no row has an adapter (skip LoRA), or all rows share one (no gather).
    """

    def __init__(self) -> None:
        self.rows: int = 0
        self.row_slots: torch.Tensor | None = None
        """[rows] slot indexes on the device, `NO_ADAPTER` already mapped to the zero slot."""
        self.single_slot: int | None = None
        """The one slot every row uses, when that is so."""
        self.active = False
        """False outside a batch and when no row has an adapter: layers run the base only."""
        self.generation = 0
        """Changes whenever a pass's rows map to other slots than the previous pass's did."""
        self.reuse_gathered = False
        """Whether layers may keep this pass's gathered weights for the next ones."""
        self.gathered_bytes_per_row = 0
        """What one row's gathered weights cost over all wrapped layers (`wrap_lora_layers`)."""
        self._previous: tuple[list[int], torch.device] | None = None
        self._previous_tensor: torch.Tensor | None = None

    def set(self, row_slots: list[int], zero_slot: int, device: torch.device) -> None:
        distinct = set(row_slots)
        self.rows = len(row_slots)
        self.active = distinct != {NO_ADAPTER}
        self.single_slot = next(iter(distinct)) if len(distinct) == 1 and self.active else None
        mapped = [zero_slot if s == NO_ADAPTER else s for s in row_slots]
        if self._previous != (mapped, device) or self._previous_tensor is None:
            self.generation += 1
            self._previous = (mapped, device)
            self._previous_tensor = torch.tensor(mapped, dtype=torch.long, device=device)
        self.row_slots = self._previous_tensor
        self.reuse_gathered = self.rows * self.gathered_bytes_per_row <= GATHER_CACHE_BYTES

    def clear(self) -> None:
        self.rows, self.row_slots, self.single_slot, self.active = 0, None, None, False


def prepare_lora(
    lora_a: torch.Tensor, lora_b: torch.Tensor, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PEFT's A [r, in] and B [out, r] in slot layout: A transposed, B transposed and scaled."""
    return lora_a.t().contiguous(), (lora_b.t() * scale).contiguous()


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

    The slot buffers start at zero, so an empty slot adds nothing; slot `max_slots` stays zero
    for rows without an adapter.
    """

    def __init__(
        self, base: nn.Module, mapping: BatchMapping, max_slots: int, max_rank: int
    ) -> None:
        super().__init__()
        self.base = base
        self.mapping = mapping
        self.max_slots = max_slots
        self.max_rank = max_rank
        self.in_features, self.out_features = projection_shape(base)
        weight = base.weight
        self.register_buffer(
            "lora_a",
            weight.new_zeros(max_slots + 1, self.in_features, max_rank),
            persistent=False,
        )
        self.register_buffer(
            "lora_b",
            weight.new_zeros(max_slots + 1, max_rank, self.out_features),
            persistent=False,
        )
        self._slots_version = 0
        """Bumped whenever a slot's weights change, which makes gathered copies stale."""
        self._gathered: GatheredRows | None = None

    @property
    def gathered_bytes_per_row(self) -> int:
        """Memory of one row's gathered A and B."""
        elements = (self.in_features + self.out_features) * self.max_rank
        return elements * self.lora_a.element_size()

    def set_slot(self, slot: int, lora_a: torch.Tensor, lora_b: torch.Tensor, scale: float) -> None:
        """Store an adapter's A [r, in] and B [out, r] with its scale in `slot`, padded to max."""
        self.set_prepared(slot, *prepare_lora(lora_a, lora_b, scale))

    def set_prepared(self, slot: int, a_t: torch.Tensor, b_scaled: torch.Tensor) -> None:
        """Store weights already in slot layout (`prepare_lora`): two copies, the hot path of
        moving an adapter from host memory into a device slot."""
        rank = a_t.shape[1]
        self._slots_version += 1
        self.lora_a[slot, :, :rank].copy_(a_t)
        self.lora_b[slot, :rank].copy_(b_scaled)
        if rank < self.max_rank:
            self.lora_a[slot, :, rank:].zero_()
            self.lora_b[slot, rank:].zero_()

    def clear_slot(self, slot: int) -> None:
        """Zero `slot`, so rows mapped to it get exactly the base output."""
        self._slots_version += 1
        self.lora_a[slot].zero_()
        self.lora_b[slot].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        mapping = self.mapping
        if not mapping.active:
            return y
        if x.shape[0] != mapping.rows:
            raise ValueError(f"batch mapping has {mapping.rows} rows, the layer got {x.shape[0]}")
        rows_x = x.reshape(mapping.rows, -1, self.in_features)
        rows_y = y.view(mapping.rows, -1, self.out_features)
        if mapping.single_slot is not None:
            add_lora_one_slot(rows_y, rows_x, self.lora_a, self.lora_b, mapping.single_slot)
        else:
            a, b = self._gathered_weights()
            add_gathered_lora(rows_y, rows_x, a, b)
        return y

    def _gathered_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This pass's per-row A and B, kept from an earlier pass while rows and slots stay."""
        mapping = self.mapping
        assert mapping.row_slots is not None
        key = (mapping.generation, self._slots_version)
        cached = self._gathered
        if cached is not None and cached.key == key:
            return cached.a, cached.b
        a, b = gather_rows(self.lora_a, self.lora_b, mapping.row_slots)
        self._gathered = GatheredRows(key, a, b) if mapping.reuse_gathered else None
        return a, b


class GatheredRows(NamedTuple):
    """One layer's per-row weights for the rows of mapping generation `key[0]`."""

    key: tuple[int, int]
    """(mapping generation, the layer's slots version) they were gathered at."""
    a: torch.Tensor
    b: torch.Tensor


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
    mapping.gathered_bytes_per_row += sum(layer.gathered_bytes_per_row for layer in layers.values())
    return layers


@contextmanager
def batch_mapping(
    mapping: BatchMapping, row_slots: list[int], zero_slot: int, device: torch.device
) -> Iterator[None]:
    """Run the enclosed forward pass with one slot per row, and go back to base-only after it."""
    mapping.set(row_slots, zero_slot, device)
    try:
        yield
    finally:
        mapping.clear()
