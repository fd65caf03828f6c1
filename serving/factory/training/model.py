"""The base model with trainable LoRA layers on the chosen device, at the chosen precision.

Device choice, the projections that count as "all linear" and the context length come from
`serving.engine.loader`, the code serving loads models with: an adapter trained here then targets
exactly the layers serving has slots for, and is never refused there for a module it cannot hold.
"""

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase
from transformers.pytorch_utils import Conv1D

from serving.engine.loader import max_context_of, pick_device, projection_names
from serving.factory.training.config import TrainingConfig
from serving.factory.training.errors import InvalidHyperparameters


@dataclass(frozen=True)
class Precision:
    """bf16 autocast over fp32 adapter weights, or plain fp32.

    With bf16 the frozen base weights are stored in bf16 (half the memory) while the LoRA weights
    and the optimizer stay fp32 (PEFT upcasts adapter weights), as mixed-precision training does.
    """

    device: torch.device
    bf16: bool

    @property
    def base_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.bf16 else torch.float32

    def autocast(self) -> AbstractContextManager[object]:
        if not self.bf16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)


def choose_precision(config: TrainingConfig) -> Precision:
    """The device of `config.device`, and bf16 where asked or, with auto, where CUDA supports it."""
    try:
        device = pick_device(config.device)
    except ValueError as exc:
        raise InvalidHyperparameters([f"device {config.device!r}: {exc}"]) from None
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if config.precision == "bf16" and not cuda_bf16:
        raise InvalidHyperparameters(
            [f"precision bf16 needs a CUDA device with bf16, not {device}"]
        )
    return Precision(
        device, config.precision == "bf16" or (config.precision == "auto" and cuda_bf16)
    )


def load_base(base_model: str, precision: Precision) -> tuple[nn.Module, PreTrainedTokenizerBase]:
    """The base model (frozen weights, on the device) and its tokenizer, by `from_pretrained`."""
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=precision.base_dtype)
    return model.to(precision.device), tokenizer


def check_fits(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, config: TrainingConfig
) -> None:
    """Refuse what needs the model to be known wrong: unknown targets, too long a max_length."""
    problems = []
    context = max_context_of(model, tokenizer)
    if config.max_length > context:
        problems.append(f"max_length {config.max_length} exceeds the model's context of {context}")
    available = projection_names(model)
    unknown = sorted(set(config.target_modules or ()) - set(available))
    if unknown:
        problems.append(f"target_modules {unknown} are not projections of this model: {available}")
    if problems:
        raise InvalidHyperparameters(problems)


def attach_lora(model: nn.Module, config: TrainingConfig) -> PeftModel:
    """Wrap `model` with fresh LoRA layers (A random from torch's RNG, B zero); only they train.

    The caller seeds torch first: that seed is what makes A, and so the whole run, reproducible.
    """
    targets = list(config.target_modules or projection_names(model))
    conv1d = any(
        isinstance(module, Conv1D)
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] in targets
    )
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        fan_in_fan_out=conv1d,  # GPT-2's Conv1D stores its weight [in, out]
        bias="none",
    )
    return get_peft_model(model, lora)
