"""Proof of Attribution latency: milliseconds to score one answer against 100 contributions.

What is measured, and why: attribution runs once per paid answer, so its cost per answer is
what matters; the features are built once per trained adapter. The setup is the tiny GPT-2
(``serving.tiny_model``: 2 layers, 64 wide) with a rank-8 random LoRA on every projection
(16,384 LoRA parameters), and ``--examples`` training examples (default 10,000) in
``--contributions`` contributions (default 100): spans of 16-48 tokens cut at fixed seeds from
``serving/data/tiny_corpus.txt``, the first quarter as prompt. Each method's features are built
once (the build time is shown, not the target); then ``--answers`` answers (8-16 prompt tokens,
8-24 answer tokens) are scored by every method in ``--rounds`` interleaved rounds, so a burst of
load from other processes on a shared machine hits all methods alike. Per answer: one
forward + backward of the answer's loss on the LoRA parameters, one matrix-vector product.
``random`` (no gradient, no model) is the floor.

Run from the repository root::

    .venv/bin/python benchmarks/attribution_latency.py             # ~2 min on 2 CPU cores
    .venv/bin/python benchmarks/attribution_latency.py --examples 1000
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as `python benchmarks/attribution_latency.py`, this file's folder comes first on sys.path
# and benchmarks/serving.py would hide the `serving` package: put the repository root there.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT / "benchmarks"]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from attribution.features import build_features  # noqa: E402
from attribution.gradients import IGNORE_INDEX, TrainingExample  # noqa: E402
from attribution.scorer import InfluenceScorer  # noqa: E402
from serving.random_adapter import random_lora_adapter  # noqa: E402
from serving.tiny_model import CORPUS, build_tiny_model  # noqa: E402

METHODS = ["random", "grad-dot", "trak", "trak-unit", "datainf"]


def corpus_spans(
    tokens: list[int], count: int, shortest: int, longest: int, seed: int
) -> list[list[int]]:
    rng = random.Random(seed)
    spans = []
    for _ in range(count):
        length = rng.randint(shortest, longest)
        start = rng.randrange(len(tokens) - length)
        spans.append(tokens[start : start + length])
    return spans


def training_examples(tokens: list[int], count: int, contributions: int) -> list[TrainingExample]:
    examples = []
    for index, span in enumerate(corpus_spans(tokens, count, 16, 48, seed=1)):
        prompt = len(span) // 4
        labels = [IGNORE_INDEX] * prompt + span[prompt:]
        examples.append(TrainingExample(index % contributions, span, labels))
    return examples


def answers(tokens: list[int], count: int) -> list[tuple[list[int], list[int]]]:
    rng = random.Random(2)
    out = []
    for span in corpus_spans(tokens, count, 16, 40, seed=3):
        cut = rng.randint(8, min(16, len(span) - 8))
        out.append((span[:cut], span[cut:]))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--contributions", type=int, default=100)
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_model(Path(tmp) / "base")
        adapter = random_lora_adapter(base, Path(tmp) / "adapter", seed=0)
        tokenizer = AutoTokenizer.from_pretrained(base)
        tokens = tokenizer.encode(CORPUS.read_text())
        examples = training_examples(tokens, args.examples, args.contributions)
        queries = answers(tokens, args.answers)

        scorers, builds = {}, {}
        for method in METHODS:
            start = time.perf_counter()
            features = build_features(adapter, base, examples, method, device=args.device)
            builds[method] = (time.perf_counter() - start, features.matrix.numel() * 4 / 2**20)
            scorers[method] = InfluenceScorer(adapter, base, features, device=args.device)
            for prompt, answer in queries[:3]:
                scorers[method].scores(prompt, answer)

        timings: dict[str, list[float]] = {method: [] for method in METHODS}
        for _ in range(args.rounds):
            for method in METHODS:
                for prompt, answer in queries:
                    start = time.perf_counter()
                    scorers[method].scores(prompt, answer)
                    timings[method].append((time.perf_counter() - start) * 1000)

    print(
        f"\n{args.examples} examples in {args.contributions} contributions, "
        f"{args.answers} answers x {args.rounds} rounds, {args.threads} thread(s), {args.device}"
    )
    print(f"{'method':<10}{'build s':>10}{'features MiB':>14}{'median ms':>12}{'p95 ms':>10}")
    for method in METHODS:
        seconds, mib = builds[method]
        ms = timings[method]
        print(
            f"{method:<10}{seconds:>10.1f}{mib:>14.2f}"
            f"{statistics.median(ms):>12.2f}{percentile(ms, 0.95):>10.2f}"
        )


if __name__ == "__main__":
    main()
