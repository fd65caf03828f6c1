"""LoRA fine-tuning throughput: ModelFactory's loop against PEFT + transformers' `Trainer`.

Both train the same LoRA (same base model, rank, alpha, dropout, target modules, learning rate,
linear warmup and decay, clipping, AdamW, batch size, epochs, seed) on the same tokens: the
examples go through ModelFactory's tokenisation (`encode_examples`) and dynamic padding
(`collate`) for both, and both evaluate on the same held-out set at every epoch end.

* ``ours``: ``serving.factory.training.train`` with no checkpoints; the clock is its training
  loop (steps and epoch evaluations; model loading and the base model's evaluation excluded).
* ``trainer``: ``get_peft_model`` + ``Trainer`` (``eval_strategy="epoch"``, no saving, no
  logging integrations); the clock runs from ``on_train_begin`` to ``on_train_end``.

Throughput is real (non-padding) tokens trained on per second of that clock; the two runs see the
same number of tokens (checked), in a different order (each framework shuffles its own way).
Each side first runs once untimed (one-time costs of the process: allocator, kernels, lazy
imports, land on whichever runs first otherwise), then ``--repeat`` times, keeping its fastest.
The final held-out losses are computed by the same function (mean loss per completion token)
for both, so they compare; the base model's is printed with them.

The data is synthetic facts ("The capital of Country17 is City17."), a prompt/completion split
from three contribution ids, on the tiny GPT-2 of ``serving/tiny_model.py`` unless
``--base-model`` names another.

    .venv/bin/python benchmarks/finetune.py --quick
    .venv/bin/python benchmarks/finetune.py --base-model PATH --device cuda --epochs 2
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.trainer_callback import PrinterCallback  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from serving.factory.training import TrainingConfig, TrainingExample, train  # noqa: E402
from serving.factory.training.encoding import (  # noqa: E402
    EncodedExample,
    collate,
    encode_examples,
    pad_token_id,
)
from serving.factory.training.evaluate import held_out_loss  # noqa: E402
from serving.factory.training.examples import split_held_out  # noqa: E402
from serving.factory.training.model import attach_lora, choose_precision, load_base  # noqa: E402
from serving.tiny_model import build_tiny_model  # noqa: E402


def make_examples(count: int) -> list[TrainingExample]:
    """`count` capital facts, contribution ids 1..3 in turn."""
    return [
        TrainingExample(1 + i % 3, f"The capital of Country{i % 97} is", f" City{i % 97}.")
        for i in range(count)
    ]


class Clock(TrainerCallback):
    """Seconds from the Trainer's first step's set-up to its end, evaluations included."""

    def __init__(self) -> None:
        self.start = self.seconds = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.seconds = time.perf_counter() - self.start


class Rows(torch.utils.data.Dataset):
    """Encoded examples that count the tokens handed out (the Trainer's loader runs in-process)."""

    def __init__(self, rows: list[EncodedExample]) -> None:
        self.rows = rows
        self.tokens = 0

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> EncodedExample:
        self.tokens += len(self.rows[index].input_ids)
        return self.rows[index]


def run_ours(
    base: str, train_set: list[TrainingExample], held: list[TrainingExample], config: TrainingConfig
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        result = train(base, train_set, config, Path(out), held_out=held)
    assert result.eval is not None and result.base_eval is not None
    return {
        "seconds": result.train_seconds,
        "tokens": result.tokens_seen,
        "eval_loss": result.eval.loss,
        "base_eval_loss": result.base_eval.loss,
    }


def run_trainer(
    base: str, train_set: list[TrainingExample], held: list[TrainingExample], config: TrainingConfig
) -> dict[str, float]:
    precision = choose_precision(config)
    model, tokenizer = load_base(base, precision)
    pad = pad_token_id(tokenizer)
    train_rows = encode_examples(tokenizer, train_set, config.max_length)
    held_rows = encode_examples(tokenizer, held, config.max_length)
    torch.manual_seed(config.seed)
    model = attach_lora(model, config)
    train_data = Rows(train_rows)

    def collator(rows: list[EncodedExample]) -> dict[str, torch.Tensor]:
        batch = collate(rows, pad)
        return {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
            "labels": batch.labels,
        }

    steps_per_epoch = math.ceil(len(train_rows) / config.batch_size)
    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=config.epochs,
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            max_grad_norm=config.max_grad_norm,
            lr_scheduler_type="linear",
            warmup_steps=math.ceil(config.warmup_ratio * steps_per_epoch * config.epochs),
            optim="adamw_torch_fused" if precision.device.type == "cuda" else "adamw_torch",
            seed=config.seed,
            bf16=precision.bf16,
            use_cpu=precision.device.type == "cpu",
            eval_strategy="epoch",
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            remove_unused_columns=False,
            dataloader_num_workers=0,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_data,
            eval_dataset=Rows(held_rows),
            data_collator=collator,
            callbacks=[clock],
        )
        trainer.remove_callback(PrinterCallback)  # its per-epoch dicts would bury the table
        trainer.train()
    eval_batches = [
        collate(held_rows[i : i + config.batch_size], pad)
        for i in range(0, len(held_rows), config.batch_size)
    ]
    final = held_out_loss(model, eval_batches, precision)
    return {"seconds": clock.seconds, "tokens": train_data.tokens, "eval_loss": final.loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", help="a path or name for from_pretrained (default: tiny)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="well under a minute on 2 CPU cores")
    parser.add_argument(
        "--examples", type=int, help="training + held-out examples (2048; quick 512)"
    )
    parser.add_argument("--epochs", type=int, help="(2; quick 1)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeat", type=int, help="timed runs per side, fastest kept (3; quick 2)")
    args = parser.parse_args()
    hf_logging.disable_progress_bar()
    examples = args.examples or (512 if args.quick else 2048)
    repeat = args.repeat or (2 if args.quick else 3)
    config = TrainingConfig(
        epochs=args.epochs or (1 if args.quick else 2),
        batch_size=args.batch_size,
        learning_rate=2e-3,
        lora_rank=8,
        lora_alpha=16,
        lora_dropout=0.05,
        max_length=args.max_length,
        warmup_ratio=0.1,
        device=args.device,
    )
    with tempfile.TemporaryDirectory() as tiny:
        base = args.base_model or str(build_tiny_model(Path(tiny)))
        train_set, held = split_held_out(make_examples(examples), 0.1, config.seed)
        warm_up = replace(config, epochs=1)
        run_trainer(base, train_set[:64], held, warm_up)
        run_ours(base, train_set[:64], held, warm_up)
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "trainer": []}
        for _ in range(repeat):  # alternate, so neither side always runs on a warmer machine
            runs["trainer"].append(run_trainer(base, train_set, held, config))
            runs["ours"].append(run_ours(base, train_set, held, config))
    best = {name: min(r, key=lambda run: run["seconds"]) for name, r in runs.items()}
    if best["ours"]["tokens"] != best["trainer"]["tokens"]:
        raise SystemExit(f"the two sides trained on different token counts: {best}")
    precision = choose_precision(config)
    print(
        f"base model: {args.base_model or 'tiny GPT-2'}  device: {precision.device}  "
        f"bf16: {precision.bf16}  torch threads: {torch.get_num_threads()}"
    )
    print(
        f"{len(train_set)} train / {len(held)} held-out examples, {config.epochs} epochs, "
        f"batch {config.batch_size}, {best['ours']['tokens']:.0f} tokens, best of {repeat}"
    )
    print(f"{'':10}{'tokens/s':>12}{'seconds':>10}{'eval loss':>12}")
    for name in ("ours", "trainer"):
        run = best[name]
        print(
            f"{name:10}{run['tokens'] / run['seconds']:12.0f}{run['seconds']:10.2f}"
            f"{run['eval_loss']:12.4f}"
        )
    print(f"{'base':10}{'':12}{'':10}{best['ours']['base_eval_loss']:12.4f}")
    speedup = best["trainer"]["seconds"] / best["ours"]["seconds"]
    print(f"ours / trainer throughput: {speedup:.2f}x")


if __name__ == "__main__":
    main()
