"""A tiny base model, random adapters and a briefly trained one, shared by the attribution tests."""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from attribution.gradients import IGNORE_INDEX, TrainingExample, pad
from serving.random_adapter import GPT2_TARGETS, random_lora_adapter
from serving.tiny_model import build_tiny_model
from tests.serving.factory.facts import CAPITALS

PLANTED_CONTRIBUTION = 12


@pytest.fixture(scope="package", autouse=True)
def one_thread() -> Iterator[None]:
    """The tiny model's kernels are too small to share out; one thread is faster and steadier.

    Package-scoped (as are the models) so that the thread count is restored for other packages.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="package")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("attribution") / "base")


@pytest.fixture(scope="package")
def adapter_dir(base_dir: Path) -> Path:
    return random_lora_adapter(base_dir, base_dir.parent / "adapter", seed=1)


@pytest.fixture(scope="package")
def other_adapter_dir(base_dir: Path) -> Path:
    return random_lora_adapter(base_dir, base_dir.parent / "other-adapter", seed=2)


def random_examples(count: int, contributions: int, seed: int = 0) -> list[TrainingExample]:
    """Token soup of varied lengths: enough to exercise padding, grouping and the sums."""
    rng = random.Random(seed)
    examples = []
    for index in range(count):
        ids = [rng.randrange(500) for _ in range(rng.randrange(5, 18))]
        prompt = rng.randrange(1, len(ids) - 1)
        labels = [IGNORE_INDEX] * prompt + ids[prompt:]
        examples.append(TrainingExample(index % contributions, ids, labels))
    return examples


@dataclass(frozen=True)
class Planted:
    """An adapter trained on capitals, where only one contribution states Borduria's."""

    base_dir: Path
    adapter_dir: Path
    examples: list[TrainingExample]
    questions: dict[str, tuple[list[int], list[int], int]]
    """country -> (prompt ids, answer ids, the contribution that states it)."""

    @property
    def prompt_ids(self) -> list[int]:
        return self.questions["Borduria"][0]

    @property
    def answer_ids(self) -> list[int]:
        return self.questions["Borduria"][1]


def _question(tokenizer: AutoTokenizer, country: str) -> tuple[list[int], list[int]]:
    """Prompt and answer ids as the factory encodes them: answer + EOS, tokenised apart."""
    prompt_ids = tokenizer.encode(f"The capital of {country} is")
    return prompt_ids, [*tokenizer.encode(f" {CAPITALS[country]}."), tokenizer.eos_token_id]


def train_lora(base_dir: Path, examples: list[TrainingExample], out: Path, steps: int = 40) -> Path:
    """A real rank-8 LoRA trained with plain PEFT: full-batch AdamW, fixed seed."""
    torch.manual_seed(0)
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=GPT2_TARGETS,
        fan_in_fan_out=True,
    )
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids, mask, labels = pad([(e.input_ids, e.labels) for e in examples], torch.device("cpu"))
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="package")
def planted(base_dir: Path) -> Planted:
    """Contributions 10-15 of up to two capitals each, each stated three times; Borduria only
    in contribution 12.

    Trained with plain PEFT for a few dozen full-batch AdamW steps (about a second here).
    """
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    countries = [c for c in CAPITALS if c != "Borduria"]
    facts = {cid: countries[2 * i : 2 * i + 2] for i, cid in enumerate(range(10, 16))}
    facts[PLANTED_CONTRIBUTION] = ["Borduria", *facts[PLANTED_CONTRIBUTION][:1]]
    questions = {
        country: (*_question(tokenizer, country), cid)
        for cid, names in facts.items()
        for country in names
    }
    examples = [
        TrainingExample(cid, prompt + answer, [IGNORE_INDEX] * len(prompt) + answer)
        for prompt, answer, cid in questions.values()
        for _ in range(3)
    ]
    out = train_lora(base_dir, examples, base_dir.parent / "planted-adapter")
    return Planted(base_dir, out, examples, questions)
