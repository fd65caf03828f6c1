"""ModelFactory's training loop on the tiny GPT-2: learning, determinism, resume, cancel, serving.

Weights are compared bit for bit (`torch.equal` and the file's sha256): on one machine the loop
is deterministic on the CPU, so any difference is a bug, not noise.
"""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving.engine.loader import projection_names
from serving.factory.training import (
    CheckpointMismatch,
    EventKind,
    InvalidHyperparameters,
    ProgressEvent,
    TrainingCancelled,
    TrainingConfig,
    TrainingDataError,
    TrainingExample,
    TrainingResult,
    train,
)
from serving.factory.training.checkpoint import CHECKPOINTS_DIR, latest_checkpoint
from serving.factory.training.result import RESULT_FILE
from serving.lora.layers import BatchMapping, batch_mapping, wrap_lora_layers
from serving.lora.manager import sha256_file
from serving.lora.slots import CONFIG_FILE, WEIGHTS_FILE, AdapterSlots
from serving.tiny_model import build_tiny_model
from tests.serving.factory.facts import CAPITALS

# Each fact three times, from three contributions: 36 examples, 9 held out, 27 trained on.
EXAMPLES = [
    TrainingExample(1 + i % 3, f"The capital of {country} is", f" {city}.")
    for i, (country, city) in enumerate(list(CAPITALS.items()) * 3)
]
CONFIG = TrainingConfig(
    epochs=3,
    batch_size=8,
    learning_rate=5e-2,
    lora_rank=4,
    lora_alpha=8,
    lora_dropout=0.1,  # dropout draws from the RNG: resume must restore it
    max_length=32,
    eval_fraction=0.25,
    checkpoint_every=3,
    warmup_ratio=0.1,
    device="cpu",
)
TOTAL_STEPS = 12  # 3 epochs of ceil(27 / 8) batches


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def reference(
    base_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainingResult, list[ProgressEvent]]:
    """One uninterrupted run (checkpointing every 3 steps), with every event it reported."""
    events: list[ProgressEvent] = []
    result = train(
        base_dir, EXAMPLES, CONFIG, tmp_path_factory.mktemp("reference"), progress=events.append
    )
    return result, events


def weights(result: TrainingResult) -> dict[str, torch.Tensor]:
    return load_file(result.adapter_dir / WEIGHTS_FILE)


def assert_same_weights(a: TrainingResult, b: TrainingResult) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.adapter_sha256 == b.adapter_sha256


def test_finetune_beats_the_base_model_on_held_out_data(reference):
    result, _ = reference
    assert result.eval is not None and result.base_eval is not None
    assert result.eval.tokens == result.base_eval.tokens > 0
    assert result.eval.loss < result.base_eval.loss - 0.2
    assert result.eval.perplexity < result.base_eval.perplexity
    assert (result.steps, result.train_examples, result.held_out_examples) == (TOTAL_STEPS, 27, 9)
    assert result.contribution_ids == (1, 2, 3)
    assert result.resumed_from_step == 0
    assert {CONFIG_FILE, WEIGHTS_FILE} <= {p.name for p in result.adapter_dir.iterdir()}
    assert result.adapter_sha256 == sha256_file(result.adapter_dir / WEIGHTS_FILE)
    output = result.adapter_dir.parent
    assert (output / RESULT_FILE).is_file()
    assert not (output / CHECKPOINTS_DIR).exists()  # a finished job keeps only its adapter


def test_progress_reports_every_step_and_epoch(reference):
    result, events = reference
    steps = [e for e in events if e.kind == EventKind.STEP]
    assert [e.step for e in steps] == list(range(1, TOTAL_STEPS + 1))
    assert {e.total_steps for e in events} == {TOTAL_STEPS}
    assert [e.epoch for e in steps] == [1] * 4 + [2] * 4 + [3] * 4
    assert all(e.train_loss is not None and e.train_loss > 0 for e in steps)
    assert [e.tokens_seen for e in steps] == sorted(e.tokens_seen for e in steps)
    evals = [e for e in events if e.kind == EventKind.EVAL]
    assert [(e.step, e.epoch) for e in evals] == [(4, 1), (8, 2), (12, 3)]
    assert [e.step for e in events if e.kind == EventKind.CHECKPOINT] == [3, 6, 9]
    done = events[-1]
    assert done.kind == EventKind.DONE and done.eta_seconds == 0
    assert done.eval_loss == evals[-1].eval_loss == result.eval.loss
    assert done.tokens_seen == result.tokens_seen and done.tokens_per_second > 0


def test_same_data_and_seed_give_the_same_adapter(base_dir, reference, tmp_path):
    """Bit-identical, although this run writes no checkpoints: saving draws no randomness."""
    result, _ = reference
    again = train(base_dir, EXAMPLES, replace(CONFIG, checkpoint_every=0), tmp_path / "again")
    assert_same_weights(result, again)
    other_seed = replace(CONFIG, seed=1, epochs=1)
    assert (
        train(base_dir, EXAMPLES, other_seed, tmp_path / "seed1").adapter_sha256
        != result.adapter_sha256
    )


class Crash(Exception):
    pass


def crash_at(step: int):
    def progress(event: ProgressEvent) -> None:
        if event.kind == EventKind.STEP and event.step == step:
            raise Crash

    return progress


def test_killed_run_resumes_to_the_uninterrupted_weights(base_dir, reference, tmp_path):
    """Crash at step 8 (mid-epoch 2); resume from step 6's checkpoint: same bits as no crash."""
    result, _ = reference
    with pytest.raises(Crash):
        train(base_dir, EXAMPLES, CONFIG, tmp_path, progress=crash_at(8))
    assert not (tmp_path / "adapter").exists()
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.name == "step-00000006"

    events: list[ProgressEvent] = []
    resumed = train(base_dir, EXAMPLES, CONFIG, tmp_path, progress=events.append, resume=True)
    assert resumed.resumed_from_step == 6
    assert [e.step for e in events if e.kind == EventKind.STEP] == list(range(7, TOTAL_STEPS + 1))
    assert_same_weights(result, resumed)
    assert (resumed.steps, resumed.tokens_seen) == (result.steps, result.tokens_seen)
    assert resumed.eval == result.eval and resumed.base_eval == result.base_eval


def test_cancel_stops_cleanly_without_an_adapter(base_dir, tmp_path):
    seen: list[int] = []

    def progress(event: ProgressEvent) -> None:
        if event.kind == EventKind.STEP:
            seen.append(event.step)

    with pytest.raises(TrainingCancelled) as raised:
        train(
            base_dir, EXAMPLES, CONFIG, tmp_path, progress=progress, cancel=lambda: len(seen) >= 2
        )
    assert raised.value.step == 2 and seen == [1, 2]
    assert not (tmp_path / "adapter").exists() and not (tmp_path / RESULT_FILE).exists()


def test_checkpoints_of_another_job_are_refused(base_dir, tmp_path):
    with pytest.raises(Crash):
        train(base_dir, EXAMPLES, CONFIG, tmp_path, progress=crash_at(4))
    with pytest.raises(CheckpointMismatch, match="resume it"):
        train(base_dir, EXAMPLES, CONFIG, tmp_path)
    changed = replace(CONFIG, learning_rate=1e-3)
    with pytest.raises(CheckpointMismatch, match="other data"):
        train(base_dir, EXAMPLES, changed, tmp_path, resume=True)
    with pytest.raises(CheckpointMismatch, match="other data"):
        train(base_dir, EXAMPLES[:-1], CONFIG, tmp_path, resume=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target_modules": ["q_proj"]}, "target_modules"),
        ({"target_modules": ["lm_head"]}, "target_modules"),  # serving has no slots for the head
        ({"max_length": 4096}, "context"),
    ],
)
def test_hyperparameters_the_model_cannot_take_are_refused(base_dir, tmp_path, change, message):
    config = replace(CONFIG, **change)
    with pytest.raises(InvalidHyperparameters, match=message):
        train(base_dir, EXAMPLES, config, tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_refused(base_dir, tmp_path):
    with pytest.raises(InvalidHyperparameters, match="device"):
        train(base_dir, EXAMPLES, replace(CONFIG, device="cuda"), tmp_path)


def test_no_examples_are_refused(base_dir, tmp_path):
    with pytest.raises(TrainingDataError, match="no examples"):
        train(base_dir, [], CONFIG, tmp_path)


def test_an_explicit_held_out_set_replaces_the_split(base_dir, tmp_path):
    """The held-out examples are scored, not trained on, nor listed as trained-on data."""
    held_out = [TrainingExample(9, "The capital of Genovia is", " Glade.")]
    config = replace(CONFIG, epochs=1, checkpoint_every=0)
    result = train(base_dir, EXAMPLES, config, tmp_path, held_out=held_out)
    assert (result.train_examples, result.held_out_examples) == (len(EXAMPLES), 1)
    assert result.contribution_ids == (1, 2, 3)
    completion = AutoTokenizer.from_pretrained(base_dir).encode(" Glade.", add_special_tokens=False)
    assert result.eval is not None and result.eval.tokens == len(completion) + 1  # + EOS


def test_adapter_loads_into_serving_slots_and_changes_the_output(base_dir, reference):
    """Serving's gathered LoRA gives what PEFT gives for the trained adapter, and not the base."""
    result, _ = reference
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    ids = torch.tensor([tokenizer.encode("The capital of Genovia is")])

    model = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    mapping = BatchMapping()
    layers = wrap_lora_layers(model, projection_names(model), 2, 8, mapping)
    AdapterSlots(layers).load(0, result.adapter_dir)
    with torch.no_grad():
        base = model(ids).logits
        with batch_mapping(mapping, [0], 2, ids.device):
            adapted = model(ids).logits

    peft = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir), result.adapter_dir
    )
    with torch.no_grad():
        expected = peft.eval()(ids).logits
    assert not torch.allclose(adapted, base, atol=1e-3)
    torch.testing.assert_close(adapted, expected, atol=1e-4, rtol=1e-4)
