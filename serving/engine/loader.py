"""Build a serving engine from a base model name or path, the way a user names a model.

The base model loads with transformers' `from_pretrained`, so a local directory and a hub name
both work. Every linear projection inside the model (not the output head) gets LoRA slots, which
is what PEFT's `target_modules="all-linear"` targets; adapters that target fewer modules leave the
others' slots at zero.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase
from transformers.pytorch_utils import Conv1D

from serving.engine.engine import Engine
from serving.lora.layers import BatchMapping, wrap_lora_layers
from serving.lora.manager import AdapterManager
from serving.lora.slots import AdapterSlots

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class EngineConfig:
    base_model: str
    """A local directory or a model name `from_pretrained` can resolve."""
    adapter_store: Path
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    dtype: str = "auto"
    """auto (bfloat16 on CUDA, float32 on the CPU), float32, float16 or bfloat16."""
    max_active_adapters: int = 8
    """Device slots: adapters usable in one batch."""
    max_host_adapters: int = 64
    max_rank: int = 64
    max_batch_size: int = 64
    threads: int | None = None
    """torch's intra-op threads; None: `default_threads` (process-wide, as torch's setting is)."""


@dataclass
class LoadedEngine:
    engine: Engine
    tokenizer: PreTrainedTokenizerBase
    adapters: AdapterManager


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but torch sees no CUDA device")
    return torch.device(device)


def default_threads(device: torch.device) -> int | None:
    """On the CPU, one core fewer than there are: the engine thread shares the machine with the
    HTTP event loop, and an intra-op pool that counts on every core makes each small operation
    wait for a thread the loop is holding (on 2 cores, 1 thread served tiny GPT-2 1.4x faster
    than torch's default of 2). None on CUDA: torch's default stands."""
    if device.type != "cpu":
        return None
    return max(1, (os.cpu_count() or 1) - 1)


def apply_threads(threads: int | None, device: torch.device) -> None:
    """Set torch's intra-op threads to `threads`, or to `default_threads` when None."""
    chosen = threads if threads is not None else default_threads(device)
    if chosen is not None:
        torch.set_num_threads(chosen)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ValueError(f"dtype must be auto or one of {sorted(DTYPES)}, not {dtype!r}") from None


def projection_names(model: nn.Module) -> list[str]:
    """Last name parts of every linear projection except the output head."""
    head = model.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear | Conv1D) and module is not head
    }
    return sorted(names)


def max_context_of(model: nn.Module, tokenizer: PreTrainedTokenizerBase) -> int:
    """The model's position limit (config), capped by the tokenizer's when that is set."""
    config = model.config
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    candidates = [n for n in (limit, tokenizer_limit) if isinstance(n, int) and 0 < n < 10**9]
    if not candidates:
        raise ValueError("cannot tell the model's context length from its config")
    return min(candidates)


def load_engine(config: EngineConfig) -> LoadedEngine:
    """Load the base model and tokenizer, give the model LoRA slots, and start the engine."""
    device = pick_device(config.device)
    dtype = pick_dtype(config.dtype, device)
    apply_threads(config.threads, device)
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=dtype)
    model.to(device).eval()
    mapping = BatchMapping()
    layers = wrap_lora_layers(
        model, projection_names(model), config.max_active_adapters, config.max_rank, mapping
    )
    manager = AdapterManager(AdapterSlots(layers), config.adapter_store, config.max_host_adapters)
    engine = Engine(
        model,
        eos_token_id=tokenizer.eos_token_id,
        max_context=max_context_of(model, tokenizer),
        manager=manager,
        mapping=mapping,
        max_batch_size=config.max_batch_size,
    )
    return LoadedEngine(engine, tokenizer, manager)
