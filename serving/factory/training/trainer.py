"""The training loop: plain torch over a PEFT model, resumable, with exact progress.

Not transformers' `Trainer`: a job must resume to the very weights an uninterrupted run reaches,
report every step, and stop at a flag, which is simpler to guarantee in a loop we own. The loop is
AdamW with linear warmup and decay, gradient clipping, one optimizer step per batch.

Determinism: torch is seeded with `config.seed` just before the LoRA layers are created (so
their random A matrices are the same), the data order is a function of (seed, epoch), and a
checkpoint restores the RNG (dropout) along with the optimizer and scheduler. On the same machine
and torch build, the same data, base model and seed give bit-identical adapter weights on the
CPU, interrupted or not. On CUDA, kernels such as atomics-based reductions may differ in the last
bits between runs unless `torch.use_deterministic_algorithms(True)` is set by the process.
"""

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from peft import PeftModel
from torch.optim import AdamW, Optimizer
from torch.optim.lr_scheduler import LRScheduler
from transformers import get_linear_schedule_with_warmup

from serving.factory.training.checkpoint import (
    CHECKPOINTS_DIR,
    CheckpointState,
    latest_checkpoint,
    read_state,
    restore_checkpoint,
    save_checkpoint,
)
from serving.factory.training.config import TrainingConfig
from serving.factory.training.encoding import (
    Batch,
    EncodedExample,
    collate,
    encode_examples,
    pad_token_id,
)
from serving.factory.training.errors import (
    CheckpointMismatch,
    TrainingCancelled,
    TrainingDataError,
    TrainingError,
)
from serving.factory.training.evaluate import HeldOutLoss, held_out_loss
from serving.factory.training.examples import TrainingExample, split_held_out
from serving.factory.training.model import (
    Precision,
    attach_lora,
    check_fits,
    choose_precision,
    load_base,
)
from serving.factory.training.order import epoch_batches, steps_per_epoch
from serving.factory.training.progress import (
    CancelCheck,
    EventKind,
    Pace,
    ProgressCallback,
    ProgressEvent,
)
from serving.factory.training.result import RESULT_FILE, TrainingResult
from serving.lora.manager import sha256_file
from serving.lora.slots import WEIGHTS_FILE

ADAPTER_DIR = "adapter"

log = logging.getLogger(__name__)


def job_fingerprint(
    base_model: str,
    config: TrainingConfig,
    train: Sequence[TrainingExample],
    held_out: Sequence[TrainingExample],
) -> str:
    """sha256 naming what decides the weights, so a resume never mixes two different jobs."""
    digest = hashlib.sha256()
    header = {"base_model": base_model, "config": config.fingerprint()}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for part, examples in (("train", train), ("held_out", held_out)):
        digest.update(part.encode())
        for e in examples:
            digest.update(json.dumps([e.contribution_id, e.prompt, e.completion]).encode())
    return digest.hexdigest()


def _split(
    examples: Sequence[TrainingExample],
    held_out: Sequence[TrainingExample] | None,
    config: TrainingConfig,
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    if not examples:
        raise TrainingDataError("no examples to train on")
    if held_out is not None:
        return list(examples), list(held_out)
    try:
        return split_held_out(examples, config.eval_fraction, config.seed)
    except ValueError as exc:
        raise TrainingDataError(str(exc)) from None


@dataclass
class _Loop:
    """One run's moving parts, so the step, evaluation and checkpoint code share them."""

    model: PeftModel
    optimizer: Optimizer
    scheduler: LRScheduler
    precision: Precision
    config: TrainingConfig
    output_dir: Path
    train_set: list[EncodedExample]
    eval_batches: list[Batch]
    pad_id: int
    total_steps: int
    progress: ProgressCallback | None
    cancel: CancelCheck | None
    pace: Pace | None = None

    def step(self, batch: Batch) -> float:
        """One optimizer step on `batch`; its mean loss per target token."""
        batch = batch.to(self.precision.device)
        with self.precision.autocast():
            loss = self.model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                labels=batch.labels,
                use_cache=False,
            ).loss
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def evaluate(self) -> HeldOutLoss | None:
        if not self.eval_batches:
            return None
        result = held_out_loss(self.model, self.eval_batches, self.precision)
        self.model.train()
        return result

    def emit(self, kind: EventKind, state: CheckpointState, **losses: float) -> None:
        if self.progress is None or self.pace is None:
            return
        pace = self.pace
        epoch = min(state.epoch + (state.batches_done > 0), self.config.epochs)
        self.progress(
            ProgressEvent(
                kind=kind,
                step=state.step,
                total_steps=self.total_steps,
                epoch=max(epoch, 1),
                epochs=self.config.epochs,
                tokens_seen=state.tokens_seen,
                tokens_per_second=pace.tokens_per_second(),
                eta_seconds=pace.eta_seconds(state.step),
                **losses,
            )
        )

    def run(self, state: CheckpointState) -> tuple[CheckpointState, HeldOutLoss | None]:
        """Train from `state` to the last step; the state reached and the final held-out loss."""
        pace = self.pace = Pace(state.step, self.total_steps)
        seconds_before = state.train_seconds
        final_eval: HeldOutLoss | None = None
        self.model.train()
        for epoch in range(state.epoch, self.config.epochs):
            batches = epoch_batches(
                len(self.train_set), self.config.batch_size, self.config.seed, epoch
            )
            first = state.batches_done if epoch == state.epoch else 0
            for index in range(first, len(batches)):
                if self.cancel is not None and self.cancel():
                    log.info("training in %s cancelled after step %d", self.output_dir, state.step)
                    raise TrainingCancelled(state.step)
                batch = collate([self.train_set[i] for i in batches[index]], self.pad_id)
                loss = self.step(batch)
                pace.add_tokens(batch.tokens)
                state = replace(
                    state,
                    step=state.step + 1,
                    epoch=epoch,
                    batches_done=index + 1,
                    tokens_seen=state.tokens_seen + batch.tokens,
                    train_seconds=seconds_before + pace.elapsed(),
                )
                self.emit(EventKind.STEP, state, train_loss=loss)
                if index + 1 == len(batches):
                    final_eval = self.evaluate()
                    if final_eval is not None:
                        self.emit(EventKind.EVAL, state, eval_loss=final_eval.loss)
                    state = replace(state, epoch=epoch + 1, batches_done=0)
                self.maybe_checkpoint(state, pace, seconds_before)
        return replace(state, train_seconds=seconds_before + pace.elapsed()), final_eval

    def maybe_checkpoint(self, state: CheckpointState, pace: Pace, seconds_before: float) -> None:
        every = self.config.checkpoint_every
        if every and state.step % every == 0 and state.step < self.total_steps:
            state = replace(state, train_seconds=seconds_before + pace.elapsed())
            path = save_checkpoint(
                self.output_dir, self.model, self.optimizer, self.scheduler, state
            )
            log.info("checkpoint at step %d/%d: %s", state.step, self.total_steps, path)
            self.emit(EventKind.CHECKPOINT, state)


def _save_adapter(model: PeftModel, output_dir: Path) -> Path:
    """`save_pretrained` into a temporary directory renamed into place: all or nothing."""
    final = output_dir / ADAPTER_DIR
    temp = output_dir / f".tmp-{ADAPTER_DIR}"
    if temp.exists():
        shutil.rmtree(temp)
    model.save_pretrained(temp)
    for file in temp.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    temp.rename(final)
    return final


def train(
    base_model: str | Path,
    examples: Sequence[TrainingExample],
    config: TrainingConfig,
    output_dir: Path,
    *,
    held_out: Sequence[TrainingExample] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    resume: bool = False,
) -> TrainingResult:
    """Fine-tune a LoRA adapter of `base_model` on `examples`; save it to `output_dir/adapter`.

    `held_out` replaces the `config.eval_fraction` split. With `resume`, the newest checkpoint in
    `output_dir` (if any) is continued; without it, a directory holding checkpoints is refused
    rather than overwritten. A cancelled job raises `TrainingCancelled` and leaves only its
    checkpoints; a finished one removes them and writes `result.json` next to the adapter.
    """
    started = time.perf_counter()
    output_dir = Path(output_dir)
    if (output_dir / ADAPTER_DIR).exists():
        raise TrainingError(f"{output_dir / ADAPTER_DIR} already holds a finished adapter")
    train_set, held_set = _split(examples, held_out, config)
    fingerprint = job_fingerprint(str(base_model), config, train_set, held_set)
    checkpoint = latest_checkpoint(output_dir)
    if checkpoint is not None and not resume:
        raise CheckpointMismatch(
            f"{output_dir} holds checkpoints of an earlier run: resume it or use an empty directory"
        )
    if checkpoint is not None and read_state(checkpoint).fingerprint != fingerprint:
        raise CheckpointMismatch(
            f"checkpoint {checkpoint} was made with other data, base model or hyperparameters"
        )

    precision = choose_precision(config)
    model, tokenizer = load_base(str(base_model), precision)
    check_fits(model, tokenizer, config)
    pad_id = pad_token_id(tokenizer)
    train_encoded = encode_examples(tokenizer, train_set, config.max_length)
    held_encoded = encode_examples(tokenizer, held_set, config.max_length)
    eval_batches = [
        collate(held_encoded[i : i + config.batch_size], pad_id)
        for i in range(0, len(held_encoded), config.batch_size)
    ]
    torch.manual_seed(config.seed)
    peft_model = attach_lora(model, config)
    optimizer = AdamW(
        [p for p in peft_model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=precision.device.type == "cuda" or None,
    )
    total_steps = steps_per_epoch(len(train_encoded), config.batch_size) * config.epochs
    warmup = math.ceil(config.warmup_ratio * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    loop = _Loop(
        peft_model,
        optimizer,
        scheduler,
        precision,
        config,
        output_dir,
        train_encoded,
        eval_batches,
        pad_id,
        total_steps,
        progress,
        cancel,
    )
    with peft_model.disable_adapter():
        base_eval = loop.evaluate()
    if checkpoint is not None:
        state = restore_checkpoint(checkpoint, peft_model, optimizer, scheduler)
    else:
        state = CheckpointState(0, 0, 0, 0, 0.0, fingerprint)
    resumed_from = state.step
    log.info(
        "training %s on %d examples (%d held out) in %s: step %d of %d, device %s, bf16 %s",
        base_model,
        len(train_set),
        len(held_set),
        output_dir,
        resumed_from,
        total_steps,
        precision.device,
        precision.bf16,
    )
    state, final_eval = loop.run(state)

    adapter_dir = _save_adapter(peft_model, output_dir)
    shutil.rmtree(output_dir / CHECKPOINTS_DIR, ignore_errors=True)
    result = TrainingResult(
        adapter_dir=adapter_dir,
        adapter_sha256=sha256_file(adapter_dir / WEIGHTS_FILE),
        base_model=str(base_model),
        config=config,
        steps=state.step,
        tokens_seen=state.tokens_seen,
        train_seconds=state.train_seconds,
        wall_seconds=time.perf_counter() - started,
        train_examples=len(train_set),
        held_out_examples=len(held_set),
        eval=final_eval,
        base_eval=base_eval,
        contribution_ids=tuple(sorted({e.contribution_id for e in train_set})),
        resumed_from_step=resumed_from,
    )
    (output_dir / RESULT_FILE).write_text(json.dumps(result.to_json(), indent=2))
    log.info(
        "adapter %s trained in %d steps, %d tokens, %.1f s: held-out loss %s (base %s)",
        result.adapter_sha256,
        result.steps,
        result.tokens_seen,
        result.train_seconds,
        final_eval and round(final_eval.loss, 4),
        base_eval and round(base_eval.loss, 4),
    )
    loop.emit(EventKind.DONE, state, **({"eval_loss": final_eval.loss} if final_eval else {}))
    return result
