"""Load a LoRA adapter over its base model for attribution, and name its trainable parameters.

Influence is measured on the LoRA parameters only: they are all that training changed, and they
are few enough (thousands to millions) for per-example gradients. The model is loaded in float32
with dropout off so the same adapter gives the same gradients every time.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import PeftModel
from torch import nn
from transformers import AutoModelForCausalLM

WEIGHTS_FILE = "adapter_model.safetensors"
LORA_MARKERS = ("lora_A", "lora_B")


@dataclass(frozen=True)
class LayerSlice:
    """One LoRA module (its A and B): a contiguous range of the flat gradient vector.

    DataInf inverts a Hessian approximation per layer; a layer here is one adapted module.
    """

    module: str
    start: int
    stop: int


@dataclass(frozen=True)
class LoraModel:
    """The adapted model and the stable order in which its LoRA parameters are flattened.

    `names` are sorted, so the flat layout depends only on the adapter, never on module
    registration order or the machine.
    """

    model: nn.Module
    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]
    layers: tuple[LayerSlice, ...]
    device: torch.device

    @property
    def dim(self) -> int:
        """Length of a flattened LoRA gradient."""
        return self.layers[-1].stop if self.layers else 0

    def parameters(self) -> dict[str, torch.Tensor]:
        """The LoRA parameters by name (detached: gradients are taken functionally)."""
        named = dict(self.model.named_parameters())
        return {name: named[name].detach() for name in self.names}


def adapter_sha256(adapter_dir: Path) -> str:
    """sha256 of the adapter's weights file: features are only valid for these exact weights."""
    digest = hashlib.sha256()
    with (Path(adapter_dir) / WEIGHTS_FILE).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _module_of(name: str) -> str:
    """`...c_attn.lora_A.default.weight` -> `...c_attn`: the adapted module a parameter is in."""
    for marker in LORA_MARKERS:
        head, found, _ = name.partition(f".{marker}.")
        if found:
            return head
    raise ValueError(f"not a LoRA parameter: {name}")


def _layers(names: tuple[str, ...], shapes: tuple[torch.Size, ...]) -> tuple[LayerSlice, ...]:
    """Group the (sorted) names by module; sorting keeps each module's A and B adjacent."""
    layers: list[LayerSlice] = []
    offset = 0
    for name, shape in zip(names, shapes, strict=True):
        module, size = _module_of(name), shape.numel()
        if layers and layers[-1].module == module:
            layers[-1] = LayerSlice(module, layers[-1].start, offset + size)
        else:
            layers.append(LayerSlice(module, offset, offset + size))
        offset += size
    return tuple(layers)


def load_lora_model(
    adapter_dir: Path, base_model: str | Path, device: str | torch.device = "cpu"
) -> LoraModel:
    """Load `base_model` + the PEFT adapter in float32, eval mode, gradients on LoRA only.

    Eager attention: torch.func's vmap needs plain tensor code, and the fused kernels give
    slightly different numbers on different hardware.
    """
    device = torch.device(device)
    base = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.float32, attn_implementation="eager"
    )
    model = PeftModel.from_pretrained(base, adapter_dir).to(device).eval()
    names = tuple(
        sorted(n for n, _ in model.named_parameters() if any(m in n for m in LORA_MARKERS))
    )
    if not names:
        raise ValueError(f"{adapter_dir} has no LoRA parameters")
    named = dict(model.named_parameters())
    for name, param in named.items():
        param.requires_grad_(name in names)
    shapes = tuple(named[name].shape for name in names)
    return LoraModel(model, names, shapes, _layers(names, shapes), device)
