"""Real PEFT LoRA adapters with random weights, for the devnet demo, tests and benchmarks.

PEFT initialises B to zero, so a fresh adapter changes nothing; these draw B at random so that
each adapter visibly changes the base model's output. Kept free of chain imports so that the
engine and training tests run anywhere torch, transformers and peft do (a GPU machine included).
"""

from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

GPT2_TARGETS = ["c_attn", "c_proj", "c_fc"]
"""Every LoRA-able projection of a GPT-2 block (attention in/out and both MLP layers)."""


def random_lora_adapter(
    base_dir: Path, out: Path, seed: int, scale: float = 0.1, **lora: Any
) -> Path:
    """Save a PEFT LoRA of `base_dir` whose B is random (PEFT's is zero, a no-op) to `out`."""
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
