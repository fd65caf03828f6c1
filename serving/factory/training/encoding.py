"""Text in, tokens out: prompt + completion + EOS, with the loss on the completion only.

The prompt and the completion are tokenised separately, the prompt as serving tokenises a
completion request (`add_special_tokens=True`, so a BOS where the model wants one) and the
completion without special tokens. Tokenising them together would let BPE merge across the
boundary and train on a token split that inference, which sees the prompt alone, never produces.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from serving.factory.training.errors import TrainingDataError
from serving.factory.training.examples import TrainingExample

IGNORE_INDEX = -100
"""Label of tokens that carry no loss (prompt, padding): PyTorch's cross-entropy default."""
MAX_LISTED = 10


@dataclass(frozen=True)
class EncodedExample:
    contribution_id: int
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    """`input_ids` with the prompt masked to `IGNORE_INDEX`; the model shifts them itself."""

    @property
    def target_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    tokens: int
    """Real (non-padding) tokens: what throughput and `tokens_seen` count."""

    def to(self, device: torch.device) -> "Batch":
        return Batch(
            self.input_ids.to(device, non_blocking=True),
            self.attention_mask.to(device, non_blocking=True),
            self.labels.to(device, non_blocking=True),
            self.tokens,
        )


def encode_example(
    tokenizer: PreTrainedTokenizerBase, example: TrainingExample, max_length: int
) -> EncodedExample:
    """Tokenise one example and cut it on the right at `max_length` (EOS may be cut too)."""
    if tokenizer.eos_token_id is None:
        raise TrainingDataError("the tokenizer has no EOS token to end completions with")
    prompt = tokenizer.encode(example.prompt, add_special_tokens=True) if example.prompt else []
    completion = tokenizer.encode(example.completion, add_special_tokens=False)
    completion.append(tokenizer.eos_token_id)
    input_ids = (prompt + completion)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt) + completion)[:max_length]
    return EncodedExample(example.contribution_id, tuple(input_ids), tuple(labels))


def encode_examples(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[TrainingExample], max_length: int
) -> list[EncodedExample]:
    """Encode all; refuse if any prompt fills `max_length`, leaving nothing to learn.

    Dropping such examples would train on a silent subset of what was approved, so the job is
    refused with the offenders named, and the fix (a larger `max_length`) is the user's.
    """
    encoded = [encode_example(tokenizer, e, max_length) for e in examples]
    empty = [i for i, e in enumerate(encoded) if e.target_tokens == 0]
    if empty:
        named = ", ".join(
            f"#{i} (contribution {examples[i].contribution_id})" for i in empty[:MAX_LISTED]
        )
        more = f" and {len(empty) - MAX_LISTED} more" if len(empty) > MAX_LISTED else ""
        raise TrainingDataError(
            f"{len(empty)} examples have prompts of max_length={max_length} tokens or more, "
            f"leaving no completion to learn: {named}{more}"
        )
    return encoded


def collate(examples: Sequence[EncodedExample], pad_token_id: int) -> Batch:
    """Pad to the longest example of this batch (right padding, labels `IGNORE_INDEX`)."""
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    tokens = sum(len(e.input_ids) for e in examples)
    return Batch(input_ids, attention_mask, labels, tokens)


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The tokenizer's pad id, else EOS (padding is masked, so its id never matters)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise TrainingDataError("the tokenizer has neither a pad nor an EOS token")
    return pad
