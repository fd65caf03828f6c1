"""Real PEFT LoRA adapters for the tiny base model, with random B so they change the output.

PEFT initialises B to zero (an adapter that does nothing would test nothing), so each adapter
gets B drawn from its own seed. All are saved exactly as `PeftModel.save_pretrained` saves them.
"""

from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

GPT2_TARGETS = ["c_attn", "c_proj", "c_fc"]


def save_random_adapter(
    base_dir: Path, out: Path, seed: int, scale: float = 0.1, **lora: Any
) -> Path:
    """Save one adapter of `base_dir` to `out`; `lora` are LoraConfig arguments (r, alpha...)."""
    lora.setdefault("target_modules", GPT2_TARGETS)
    config = LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, fan_in_fan_out=True, **lora)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    model.save_pretrained(out)
    return out


def save_random_adapters(
    base_dir: Path, root: Path, specs: dict[str, dict[str, Any]]
) -> dict[str, Path]:
    """One adapter per `specs` entry (name -> LoraConfig arguments), seeded by position."""
    return {
        name: save_random_adapter(base_dir, root / name, seed, **kwargs)
        for seed, (name, kwargs) in enumerate(specs.items())
    }
