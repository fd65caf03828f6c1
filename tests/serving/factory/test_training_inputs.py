"""What the trainer accepts: hyperparameters, the held-out split, the data order, tokenisation."""

import pytest
import torch

from serving.factory.training import InvalidHyperparameters, TrainingConfig, TrainingExample
from serving.factory.training.encoding import (
    IGNORE_INDEX,
    collate,
    encode_example,
    encode_examples,
)
from serving.factory.training.errors import TrainingDataError
from serving.factory.training.examples import split_held_out
from serving.factory.training.order import epoch_batches, steps_per_epoch
from serving.tiny_model import train_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("epochs", 1.5),
        ("epochs", True),
        ("batch_size", -1),
        ("learning_rate", 0),
        ("learning_rate", float("nan")),
        ("learning_rate", "1e-4"),
        ("lora_rank", 0),
        ("lora_alpha", -8),
        ("lora_dropout", 1.0),
        ("target_modules", []),
        ("target_modules", "c_attn"),
        ("target_modules", ["c_attn", ""]),
        ("max_length", 1),
        ("seed", -1),
        ("eval_fraction", 1.0),
        ("checkpoint_every", -5),
        ("warmup_ratio", 1.0),
        ("weight_decay", -0.1),
        ("max_grad_norm", 0),
        ("device", "tpu"),
        ("precision", "fp16"),
    ],
)
def test_bad_hyperparameters_are_refused_naming_the_field(field, value):
    with pytest.raises(InvalidHyperparameters, match=field) as raised:
        TrainingConfig(**{field: value})
    assert len(raised.value.problems) == 1


def test_every_problem_is_listed_at_once():
    with pytest.raises(InvalidHyperparameters) as raised:
        TrainingConfig(epochs=0, learning_rate=-1, lora_dropout=2)
    assert len(raised.value.problems) == 3


def test_config_from_json_refuses_unknown_keys_and_round_trips():
    config = TrainingConfig(target_modules=["c_attn"], epochs=2)
    assert config.target_modules == ("c_attn",)
    assert TrainingConfig.from_json(config.to_json()) == config
    with pytest.raises(InvalidHyperparameters, match="'lora_r'"):
        TrainingConfig.from_json({"lora_r": 8})


def test_fingerprint_ignores_how_the_job_runs_but_not_what_it_trains():
    config = TrainingConfig()
    assert TrainingConfig(device="cpu", checkpoint_every=10).fingerprint() == config.fingerprint()
    assert TrainingConfig(seed=1).fingerprint() != config.fingerprint()


def test_loss_is_on_the_completion_and_eos_only(tokenizer):
    encoded = encode_example(tokenizer, TrainingExample(7, "The capital of", " Genovia"), 64)
    prompt = tokenizer.encode("The capital of")
    completion = tokenizer.encode(" Genovia", add_special_tokens=False)
    assert encoded.input_ids == (*prompt, *completion, tokenizer.eos_token_id)
    assert encoded.labels == (
        *[IGNORE_INDEX] * len(prompt),
        *completion,
        tokenizer.eos_token_id,
    )
    assert encoded.contribution_id == 7


def test_plain_text_is_all_target(tokenizer):
    encoded = encode_example(tokenizer, TrainingExample(1, "", "The ledger"), 64)
    assert encoded.labels == encoded.input_ids
    assert encoded.input_ids[-1] == tokenizer.eos_token_id


def test_long_examples_are_cut_on_the_right(tokenizer):
    example = TrainingExample(1, "The capital of", " the ledger of the land" * 10)
    encoded = encode_example(tokenizer, example, 12)
    assert len(encoded.input_ids) == len(encoded.labels) == 12
    assert encoded.input_ids == encode_example(tokenizer, example, 1000).input_ids[:12]


def test_a_prompt_that_fills_max_length_is_refused_not_dropped(tokenizer):
    examples = [
        TrainingExample(1, "short", " answer"),
        TrainingExample(2, "a very long prompt " * 20, " answer"),
    ]
    with pytest.raises(TrainingDataError, match=r"#1 \(contribution 2\)"):
        encode_examples(tokenizer, examples, 16)


def test_batches_are_padded_to_their_longest_example(tokenizer):
    short = encode_example(tokenizer, TrainingExample(1, "", "a"), 64)
    long = encode_example(tokenizer, TrainingExample(1, "The capital of", " Genovia is Glade"), 64)
    batch = collate([short, long], pad_token_id=0)
    width = len(long.input_ids)
    assert batch.input_ids.shape == batch.labels.shape == batch.attention_mask.shape == (2, width)
    assert batch.attention_mask[0].tolist() == [1] * len(short.input_ids) + [0] * (
        width - len(short.input_ids)
    )
    assert torch.all(batch.labels[0, len(short.input_ids) :] == IGNORE_INDEX)
    assert batch.tokens == len(short.input_ids) + width


def test_held_out_split_is_seeded_and_disjoint():
    examples = [TrainingExample(i % 3, "", f"text {i}") for i in range(20)]
    train, held = split_held_out(examples, 0.25, seed=3)
    assert len(held) == 5 and len(train) == 15
    assert sorted([*train, *held], key=examples.index) == examples
    assert split_held_out(examples, 0.25, seed=3) == (train, held)
    assert split_held_out(examples, 0.25, seed=4) != (train, held)
    assert split_held_out(examples, 0.0, seed=3) == (examples, [])
    assert len(split_held_out(examples[:3], 0.01, seed=3)[1]) == 1  # at least one
    with pytest.raises(ValueError, match="none to train on"):
        split_held_out(examples[:1], 0.5, seed=3)


def test_epoch_order_is_a_seeded_permutation():
    batches = epoch_batches(10, 4, seed=0, epoch=0)
    assert [len(b) for b in batches] == [4, 4, 2] and steps_per_epoch(10, 4) == 3
    assert sorted(i for b in batches for i in b) == list(range(10))
    assert epoch_batches(10, 4, seed=0, epoch=0) == batches
    assert epoch_batches(10, 4, seed=0, epoch=1) != batches
