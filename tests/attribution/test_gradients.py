"""torch.func per-example gradients must equal one backward() per example, padding or not."""

from pathlib import Path

import pytest
import torch

from attribution.gradients import LoraGradients, TrainingExample, answer_sequence
from attribution.model import load_lora_model
from tests.attribution.conftest import random_examples


def backward_gradient(gradients: LoraGradients, example: TrainingExample) -> torch.Tensor:
    """The reference: Hugging Face's own loss, one example, plain loss.backward()."""
    lora = gradients.lora
    lora.model.zero_grad()
    loss = lora.model(
        input_ids=torch.tensor([example.input_ids]), labels=torch.tensor([example.labels])
    ).loss
    loss.backward()
    named = dict(lora.model.named_parameters())
    return torch.cat([named[name].grad.reshape(-1) for name in lora.names])


@pytest.fixture(scope="module")
def gradients(adapter_dir: Path, base_dir: Path) -> LoraGradients:
    return LoraGradients(load_lora_model(adapter_dir, base_dir))


def test_lora_parameters_are_sorted_and_grouped_by_module(gradients: LoraGradients) -> None:
    lora = gradients.lora
    assert list(lora.names) == sorted(lora.names)
    assert all(".lora_A." in n or ".lora_B." in n for n in lora.names)
    # 2 blocks x (c_attn, attn.c_proj, c_fc, mlp.c_proj), each one slice holding its A and B.
    assert len(lora.layers) == 8
    assert lora.layers[0].start == 0 and lora.layers[-1].stop == lora.dim
    assert all(a.stop == b.start for a, b in zip(lora.layers, lora.layers[1:], strict=False))


def test_per_example_gradients_equal_a_loop_of_backward(gradients: LoraGradients) -> None:
    examples = random_examples(6, contributions=2)
    assert len({len(e.input_ids) for e in examples}) > 1, "the batch must need padding"
    batch = gradients.batch([(e.input_ids, e.labels) for e in examples])
    assert batch.shape == (6, gradients.lora.dim)
    for row, example in zip(batch, examples, strict=True):
        expected = backward_gradient(gradients, example)
        torch.testing.assert_close(row, expected, rtol=1e-4, atol=1e-6)


def test_padding_does_not_change_a_gradient(gradients: LoraGradients) -> None:
    short, long = random_examples(2, 1, seed=3)
    long = TrainingExample(0, long.input_ids + list(range(20)), long.labels + list(range(20)))
    alone = gradients.batch([(short.input_ids, short.labels)])[0]
    padded = gradients.batch([(short.input_ids, short.labels), (long.input_ids, long.labels)])[0]
    torch.testing.assert_close(padded, alone, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(gradients.one(short.input_ids, short.labels), alone)


def test_an_answer_is_scored_on_its_answer_tokens_only() -> None:
    assert answer_sequence([5, 6], [7, 8]) == ([5, 6, 7, 8], [-100, -100, 7, 8])
    with pytest.raises(ValueError):
        answer_sequence([5], [])
    with pytest.raises(ValueError):
        TrainingExample(0, [1, 2], [-100, -100])
