"""Load PEFT-format LoRA adapters into the slots of the wrapped layers, and clear them.

An adapter is a directory as `peft` saves it: `adapter_config.json` and
`adapter_model.safetensors`, whose keys read `base_model.model.<module>.lora_A.weight` ([r, in])
and `...lora_B.weight` ([out, r]). Loading checks everything against the wrapped layers first and
only then copies, so a refused adapter leaves the slot as it was.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from serving.exceptions import ServingError
from serving.lora.layers import LoRALayer, prepare_lora

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
KEY_PREFIX = "base_model.model."


class AdapterError(ServingError):
    """The adapter cannot be served here: malformed, or not a plain LoRA that fits the slots."""


@dataclass(frozen=True)
class LoadedModule:
    """One module's weights of an adapter in slot layout (see `prepare_lora`), ready to copy:
    the transposes and the scaling are done once when the adapter is read, not at every move
    into a device slot."""

    a_t: torch.Tensor
    """[in, r]"""
    b_scaled: torch.Tensor
    """[r, out], multiplied by the adapter's scaling"""


def _scale(config: dict, module: str, rank: int) -> float:
    """PEFT's scaling: alpha / r, or alpha / sqrt(r) with rsLoRA; per-module alpha may override."""
    alpha = config.get("lora_alpha", 8)
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if module == pattern or module.endswith("." + pattern):
            alpha = value
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def read_adapter(path: Path, layers: dict[str, LoRALayer]) -> dict[str, LoadedModule]:
    """Read the adapter at `path` and check that it fits `layers`; raise `AdapterError` if not."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        tensors = load_file(path / WEIGHTS_FILE)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"cannot read adapter at {path}: {exc}") from exc
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"not a LoRA adapter: peft_type {config.get('peft_type')!r}")
    if config.get("use_dora") or config.get("bias", "none") != "none":
        raise AdapterError("DoRA and LoRA biases are not supported")
    if config.get("modules_to_save"):
        raise AdapterError(
            "adapters that replace whole modules (modules_to_save) are not supported"
        )
    modules: dict[str, LoadedModule] = {}
    for key, lora_a in tensors.items():
        if not key.endswith(".lora_A.weight"):
            if not key.endswith(".lora_B.weight"):
                raise AdapterError(f"unexpected tensor {key!r} in adapter")
            continue
        module = key.removeprefix(KEY_PREFIX).removesuffix(".lora_A.weight")
        layer = layers.get(module)
        if layer is None:
            raise AdapterError(f"adapter targets {module!r}, which is not a wrapped layer")
        lora_b = tensors.get(key.replace(".lora_A.", ".lora_B."))
        rank = lora_a.shape[0]
        max_rank = layer.max_rank
        if lora_b is None:
            raise AdapterError(f"adapter has no lora_B for {module!r}")
        if rank > max_rank:
            raise AdapterError(f"rank {rank} of {module!r} exceeds the maximum rank {max_rank}")
        if lora_a.shape != (rank, layer.in_features) or lora_b.shape != (
            layer.out_features,
            rank,
        ):
            raise AdapterError(
                f"shapes of {module!r} do not match the base model: "
                f"A {tuple(lora_a.shape)}, B {tuple(lora_b.shape)}"
            )
        a_t, b_scaled = prepare_lora(lora_a, lora_b, _scale(config, module, rank))
        modules[module] = LoadedModule(a_t.to(layer.lora_a.dtype), b_scaled.to(layer.lora_b.dtype))
    if not modules:
        raise AdapterError(f"adapter at {path} has no LoRA weights")
    return modules


class AdapterSlots:
    """The slot buffers of all wrapped layers, seen as `max_slots` numbered adapter places."""

    def __init__(self, layers: dict[str, LoRALayer]) -> None:
        if not layers:
            raise ValueError("no LoRA layers to hold adapters")
        self.layers = layers
        self.max_slots = next(iter(layers.values())).max_slots

    def _check_slot(self, slot: int) -> None:
        if not 0 <= slot < self.max_slots:
            raise IndexError(f"slot {slot} out of range [0, {self.max_slots})")

    def load(self, slot: int, path: Path) -> None:
        """Put the adapter at `path` into `slot`; layers it does not target are zeroed."""
        self._check_slot(slot)
        self.load_modules(slot, read_adapter(path, self.layers))

    def load_modules(self, slot: int, modules: dict[str, LoadedModule]) -> None:
        """Put an adapter already read by `read_adapter` into `slot`: a copy, no disk read."""
        self._check_slot(slot)
        with torch.no_grad():
            for name, layer in self.layers.items():
                loaded = modules.get(name)
                if loaded is None:
                    layer.clear_slot(slot)
                else:
                    layer.set_prepared(slot, loaded.a_t, loaded.b_scaled)

    def clear(self, slot: int) -> None:
        """Empty `slot`: tokens mapped to it then get exactly the base model's output."""
        self._check_slot(slot)
        with torch.no_grad():
            for layer in self.layers.values():
                layer.clear_slot(slot)
