"""Proof of Attribution quality: linear datamodeling score (LDS) and planted-fact top-1 accuracy.

What is measured, and why: a payment split is only as good as the scores behind it, so each
attribution method is checked against what actually happens when data is removed.

**Base model.** The tiny GPT-2 (``serving.tiny_model``: 2 layers, 64 wide, a 512-token BPE
trained on ``serving/data/tiny_corpus.txt``) after 100 full-batch steps of pretraining on that
corpus (a few seconds; see ``pretrained_base`` for why a random one cannot be taught by a LoRA).
It has a language but none of the facts below.

**Data.** Invented words are glued from two pieces of the tokenizer's vocabulary (" bur" +
"ine": 2-3 tokens, not words of the corpus), so the base model cannot know them. There are 40
contributions and 192 alpaca-style (prompt, completion) rows:

* 32 *fact* contributions, each about two invented towns of its own. For each town the fact
  "the keeper of <town> is <name>" is stated in two rows: ``Who keeps the ledger of <town>?`` ->
  ``The keeper of <town> is <name>.`` and ``What is the story of <town>?`` -> ``<town> is a town
  by the river, and its keeper is <name>.`` Each fact contribution also has one generic row, so
  every fact has exactly one source and every contribution some boilerplate;
* 8 *generic* contributions of four generic rows each. A generic row is one of 8 statements
  about the corpus' characters (``What does the miller do?`` -> ``The miller grinds the grain
  at the mill.``), in the same style; each statement is held by 8 contributions.

The adapter (rank 8 on every projection, 20 epochs, batch 8, learning rate 5e-3, no dropout) is
trained with the ModelFactory trainer (``serving.factory.training.train``), loss on the
completion plus EOS, and the features are built on exactly the rows the trainer encodes. The 72
queries are *held out*: each of the 64 facts asked with a prompt no training row uses (``Who is
the keeper of <town>?``; answer ``The keeper of <town> is <name>.`` + EOS), and each generic
statement asked the same way (``Tell me what the miller does.``). The answer is a whole
sentence, so most of its loss is template that every fact contribution teaches and only the
name is owed to one contribution: the realistic case of a paid fact inside boilerplate.

**LDS** (Park et al., 2023, TRAK; here at contribution level): ``--subsets`` adapters are
trained on random halves of the contributions with the same config and seed (the same LoRA
initialisation, as in datamodels). For each query, the Spearman correlation across subsets
between the negated answer loss of the subset's adapter (higher = better) and the sum, over the
kept contributions, of the scores the method gave with the adapter trained on everything; LDS is
the mean over queries (95% bootstrap interval over queries), also shown for the fact and the
generic queries apart. Random scores give about 0. ``holders`` is a reference, not a method: 1
for each contribution whose rows state the query's answer, 0 otherwise; it shows how much of
the loss the data's ground truth alone explains (the rest is training noise and the subsets'
other rows), so a method near it is about as good as a contribution-level split can get here.

**Planted facts.** Top-1 accuracy over the 64 fact queries: how often the fact's only source
contribution gets the highest score. The span index (``attribution.spans``: maximal exact
matches of at least 4 answer tokens in the training rows' tokens, one document per row) is
scored the same way; it credits verbatim quotes and the answer sentence is one, so it is the
easy case for spans, and it has no LDS (it does not model training).

**Latency** is the median milliseconds of one ``InfluenceScorer.scores`` (or one
``span_scores``) over the 72 queries, at the printed torch thread count; ``build s`` is the
one-off feature build over the 192 rows.

Run from the repository root::

    .venv/bin/python benchmarks/attribution_quality.py --quick   # 64 subsets, ~2 min
    .venv/bin/python benchmarks/attribution_quality.py           # 256 subsets, ~8 min
"""

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Run as `python benchmarks/attribution_quality.py`, this file's folder comes first on sys.path
# and benchmarks/serving.py would hide the `serving` package: put the repository root there.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT / "benchmarks"]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase  # noqa: E402

from attribution.features import build_features  # noqa: E402
from attribution.gradients import IGNORE_INDEX, TrainingExample, answer_sequence, pad  # noqa: E402
from attribution.model import load_lora_model  # noqa: E402
from attribution.scorer import InfluenceScorer  # noqa: E402
from attribution.spans import SpanIndex  # noqa: E402
from serving.factory.training import TrainingConfig, train  # noqa: E402
from serving.factory.training import TrainingExample as Row  # noqa: E402
from serving.factory.training.encoding import encode_example  # noqa: E402
from serving.tiny_model import CORPUS, build_tiny_model  # noqa: E402

METHODS = ["random", "grad-dot", "trak", "trak-unit", "datainf"]
FACT_CONTRIBUTIONS = 32
GENERIC_CONTRIBUTIONS = 8
TOWNS_PER_CONTRIBUTION = 2
GENERIC_ROWS_PER_CONTRIBUTION = 4
GENERIC = [
    ("miller", "grinds the grain at the mill"),
    ("ferryman", "carries the traveller over the river"),
    ("keeper", "writes every record in the ledger"),
    ("storyteller", "tells the old stories by the fire"),
    ("traveller", "carries a lamp with a blue flame"),
    ("weaver", "sells cloth in the town"),
    ("water carrier", "brings water to the old mill"),
    ("mender", "mends the bridge every morning"),
]
"""Generic statements (role, what it does): shared by many contributions, owed to none."""
HEADS = ["bur", "cit", "cou", "des", "fou", "gre", "hou", "sma", "stor", "tra", "tru", "tur"]
TAILS = ["ame", "amp", "edger", "ened", "eop", "erry", "ger", "ght", "gra", "ine", "ion", "ost"]
"""Pieces of the tiny tokenizer's vocabulary that invented words are glued from."""
EPOCHS = 20
LEARNING_RATE = 5e-3
PRETRAIN_STEPS = 100
PRETRAIN_WINDOW = 64
QUICK_SUBSETS = 64
FULL_SUBSETS = 256
LDS_TARGET = 0.3
TOP1_TARGET = 0.9


@dataclass(frozen=True)
class Query:
    """A held-out question, its answer, and the contributions whose rows state that answer."""

    prompt: str
    completion: str
    holders: tuple[int, ...]
    fact: bool
    """A fact has exactly one holder; a generic statement has many."""


@dataclass(frozen=True)
class Dataset:
    """The training rows (with their contribution ids) and the held-out queries."""

    rows: list[Row]
    queries: list[Query]

    @property
    def contributions(self) -> list[int]:
        return sorted({row.contribution_id for row in self.rows})


def invented_words(tokenizer: PreTrainedTokenizerBase, count: int, seed: int) -> list[str]:
    """`count` distinct invented words of 2-3 tokens that are not words of the corpus."""
    vocabulary = tokenizer.get_vocab()
    candidates = [f" {head}{tail}" for head in HEADS for tail in TAILS]
    candidates = [
        word
        for word in candidates
        if f"Ġ{word[1:]}" not in vocabulary and len(tokenizer.encode(word)) <= 3
    ]
    if len(candidates) < count:
        raise ValueError(f"only {len(candidates)} invented words, {count} needed")
    return random.Random(seed).sample(candidates, count)


def generic_row(contribution_id: int, statement: int) -> Row:
    role, does = GENERIC[statement % len(GENERIC)]
    return Row(contribution_id, f"What does the {role} do?", f" The {role} {does}.")


def make_dataset(tokenizer: PreTrainedTokenizerBase, seed: int) -> Dataset:
    """The rows and queries described in the module docstring; the words depend on `seed`."""
    towns_needed = FACT_CONTRIBUTIONS * TOWNS_PER_CONTRIBUTION
    words = invented_words(tokenizer, 2 * towns_needed, seed)
    towns, keepers = words[:towns_needed], words[towns_needed:]
    rows: list[Row] = []
    queries: list[Query] = []
    for contribution_id in range(FACT_CONTRIBUTIONS):
        for slot in range(TOWNS_PER_CONTRIBUTION):
            index = contribution_id * TOWNS_PER_CONTRIBUTION + slot
            town, keeper = towns[index], keepers[index]
            rows.append(
                Row(
                    contribution_id,
                    f"Who keeps the ledger of{town}?",
                    f" The keeper of{town} is{keeper}.",
                )
            )
            rows.append(
                Row(
                    contribution_id,
                    f"What is the story of{town}?",
                    f"{town} is a town by the river, and its keeper is{keeper}.",
                )
            )
            queries.append(
                Query(
                    f"Who is the keeper of{town}?",
                    f" The keeper of{town} is{keeper}.",
                    (contribution_id,),
                    fact=True,
                )
            )
        rows.append(generic_row(contribution_id, contribution_id))
    for offset in range(GENERIC_CONTRIBUTIONS):
        contribution_id = FACT_CONTRIBUTIONS + offset
        for statement in range(GENERIC_ROWS_PER_CONTRIBUTION):
            rows.append(generic_row(contribution_id, offset + statement * 2))
    for role, does in GENERIC:
        completion = f" The {role} {does}."
        holders = tuple(
            sorted({row.contribution_id for row in rows if row.completion == completion})
        )
        queries.append(Query(f"Tell me what the {role} does.", completion, holders, fact=False))
    return Dataset(rows, queries)


def training_config(seed: int) -> TrainingConfig:
    """One config for the full adapter and every subset: only the data differs between them.

    No dropout, so training is a deterministic function of the data and attribution's model
    (eval mode) is the one that was trained; a learning rate 25 times the default, which suits
    large pretrained models, so that 20 epochs teach the tiny one most of the facts.
    """
    return TrainingConfig(
        epochs=EPOCHS,
        batch_size=8,
        learning_rate=LEARNING_RATE,
        lora_rank=8,
        lora_dropout=0.0,
        max_length=64,
        seed=seed,
        device="cpu",
        precision="fp32",
    )


def train_adapter(base: Path, rows: Sequence[Row], config: TrainingConfig, out: Path) -> Path:
    """Train on all of `rows`: an empty held-out list stops the trainer keeping 10% back."""
    return train(base, rows, config, out, held_out=[]).adapter_dir


def encoded(
    tokenizer: PreTrainedTokenizerBase, rows: Sequence[Row], max_length: int
) -> list[TrainingExample]:
    """The training rows exactly as the trainer tokenises them, for attribution."""
    out = []
    for row in rows:
        e = encode_example(tokenizer, row, max_length)
        out.append(TrainingExample(e.contribution_id, list(e.input_ids), list(e.labels)))
    return out


def query_ids(
    tokenizer: PreTrainedTokenizerBase, queries: Sequence[Query], max_length: int
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, answer ids) of each query, the answer being the completion plus EOS, as the
    trainer encodes a row."""
    out = []
    for query in queries:
        e = encode_example(tokenizer, Row(0, query.prompt, query.completion), max_length)
        cut = e.labels.count(IGNORE_INDEX)
        out.append((list(e.input_ids[:cut]), list(e.input_ids[cut:])))
    return out


@torch.no_grad()
def answer_losses(
    adapter: Path, base: Path, questions: Sequence[tuple[list[int], list[int]]]
) -> np.ndarray:
    """Mean cross-entropy per answer token of each question, under the adapter."""
    model = load_lora_model(adapter, base).model
    ids, mask, labels = pad([answer_sequence(p, a) for p, a in questions], torch.device("cpu"))
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
    targets = labels[:, 1:]
    losses = F.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none") * (
        targets != IGNORE_INDEX
    )
    return (losses.sum(1) / (targets != IGNORE_INDEX).sum(1)).double().numpy()


def pretrained_base(out: Path, steps: int = PRETRAIN_STEPS) -> Path:
    """The tiny model after `steps` full-batch AdamW steps on the corpus it was tokenised from.

    Straight from its random initialisation the tiny GPT-2 can hardly be taught by a LoRA: its
    frozen, tied 0.02-scale embeddings keep the logits small, and 20 epochs of this benchmark's
    training took the loss only from 6.2 (ln 512) to 5.3 at learning rates from 5e-3 to 5e-2.
    A few seconds of pretraining give it a language, as a real base model has (the adapter then
    reaches about 1.2), while the facts stay unknown to it.
    """
    build_tiny_model(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    ids = tokenizer.encode(CORPUS.read_text())
    windows = torch.tensor(
        [
            ids[i : i + PRETRAIN_WINDOW]
            for i in range(0, len(ids) - PRETRAIN_WINDOW, PRETRAIN_WINDOW // 2)
        ]
    )
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(input_ids=windows, labels=windows).loss.backward()
        optimizer.step()
    model.save_pretrained(out)
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties); 0 where either side is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denominator) if denominator > 0 else 0.0


def average_ranks(values: np.ndarray) -> np.ndarray:
    """0-based ranks, tied values sharing their mean rank (scipy's "average" method)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def bootstrap_interval(values: np.ndarray, seed: int, draws: int = 2000) -> tuple[float, float]:
    """95% percentile interval of the mean of `values`, resampled with replacement."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (draws, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def linear_datamodeling_scores(
    scores: np.ndarray, kept: np.ndarray, losses: np.ndarray
) -> np.ndarray:
    """Per query q: Spearman over subsets s of (-losses[s, q], sum_c kept[s, c] scores[q, c]).

    `scores` is queries x contributions (from the full adapter), `kept` subsets x contributions
    (0/1), `losses` subsets x queries.
    """
    predicted = kept @ scores.T
    return np.array([spearman(-losses[:, q], predicted[:, q]) for q in range(scores.shape[0])])


@dataclass(frozen=True)
class MethodResult:
    name: str
    scores: np.ndarray
    """Queries x contributions, from the adapter trained on everything."""
    milliseconds: list[float]
    build_seconds: float


def score_queries(
    method: str,
    adapter: Path,
    base: Path,
    examples: Sequence[TrainingExample],
    questions: Sequence[tuple[list[int], list[int]]],
    damping: float | None,
) -> MethodResult:
    """Build `method`'s features on the training rows, then score every query, timed."""
    start = time.perf_counter()
    features = build_features(adapter, base, examples, method, damping=damping)
    scorer = InfluenceScorer(adapter, base, features)
    build_seconds = time.perf_counter() - start
    scorer.scores(*questions[0])
    rows, milliseconds = [], []
    for prompt, answer in questions:
        start = time.perf_counter()
        scores = scorer.scores(prompt, answer)
        milliseconds.append((time.perf_counter() - start) * 1000)
        rows.append([scores[cid] for cid in features.contribution_ids])
    return MethodResult(method, np.array(rows), milliseconds, build_seconds)


def span_top1(
    examples: Sequence[TrainingExample],
    questions: Sequence[tuple[list[int], list[int]]],
    owners: Sequence[int],
) -> tuple[float, list[float]]:
    """Top-1 accuracy of `span_scores` on the fact queries, and its milliseconds per answer.

    The index holds every training row's tokens (prompt and completion), one document a row.
    """
    index = SpanIndex.build((e.contribution_id, e.input_ids) for e in examples)
    hits, milliseconds = 0, []
    for (_, answer), owner in zip(questions, owners, strict=True):
        start = time.perf_counter()
        scores = index.span_scores(answer)
        milliseconds.append((time.perf_counter() - start) * 1000)
        hits += bool(scores) and max(scores, key=scores.__getitem__) == owner
    return hits / len(owners), milliseconds


def subset_losses(
    base: Path,
    dataset: Dataset,
    config: TrainingConfig,
    questions: Sequence[tuple[list[int], list[int]]],
    subsets: int,
    seed: int,
    workdir: Path,
) -> tuple[np.ndarray, np.ndarray]:
    """(kept: subsets x contributions 0/1, losses: subsets x queries) for `subsets` adapters
    each trained on a random half of the contributions."""
    contributions = dataset.contributions
    rng = np.random.default_rng(seed)
    kept = np.zeros((subsets, len(contributions)))
    losses = np.zeros((subsets, len(questions)))
    for s in range(subsets):
        chosen = rng.choice(len(contributions), len(contributions) // 2, replace=False)
        kept[s, chosen] = 1
        keep = {contributions[i] for i in chosen}
        rows = [row for row in dataset.rows if row.contribution_id in keep]
        adapter = train_adapter(base, rows, config, workdir / f"subset-{s}")
        losses[s] = answer_losses(adapter, base, questions)
        shutil.rmtree(workdir / f"subset-{s}")
    return kept, losses


def holder_scores(dataset: Dataset) -> np.ndarray:
    """Queries x contributions, 1 where the contribution states the query's answer: the
    reference LDS of a method that knew the data's ground truth and nothing about training."""
    contributions = dataset.contributions
    scores = np.zeros((len(dataset.queries), len(contributions)))
    for q, query in enumerate(dataset.queries):
        for holder in query.holders:
            scores[q, contributions.index(holder)] = 1
    return scores


TableRow = dict[str, float | str | None]


def table_row(
    name: str,
    scores: np.ndarray,
    kept: np.ndarray,
    losses: np.ndarray,
    dataset: Dataset,
    seed: int,
) -> TableRow:
    """LDS (all queries, with its bootstrap interval; facts; generic) and planted-fact top-1."""
    per_query = linear_datamodeling_scores(scores, kept, losses)
    low, high = bootstrap_interval(per_query, seed)
    fact = np.array([query.fact for query in dataset.queries])
    contributions = dataset.contributions
    firsts = [
        contributions[int(np.argmax(scores[q]))] == query.holders[0]
        for q, query in enumerate(dataset.queries)
        if query.fact
    ]
    return {
        "method": name,
        "lds": float(per_query.mean()),
        "lds_low": low,
        "lds_high": high,
        "lds_facts": float(per_query[fact].mean()),
        "lds_generic": float(per_query[~fact].mean()),
        "top1": sum(firsts) / len(firsts),
    }


def recommend(table: list[TableRow]) -> str:
    """The gradient method meeting the most of the two targets (LDS >= 0.3, top-1 >= 90%), the
    highest LDS among those: LDS judges the whole payment split, top-1 only its largest share."""

    def met(row: TableRow) -> int:
        return (row["lds"] >= LDS_TARGET) + (row["top1"] >= TOP1_TARGET)

    gradient = [row for row in table if row["method"] in METHODS and row["method"] != "random"]
    best = max(gradient, key=lambda row: (met(row), row["lds"]))
    peers = [row for row in gradient if met(row) == met(best)]
    return (
        f"default method: {best['method']}: meets {met(best)} of 2 targets "
        f"(LDS {best['lds']:.3f} vs {LDS_TARGET}, top-1 {best['top1']:.0%} vs "
        f"{TOP1_TARGET:.0%}), highest LDS of the {len(peers)} method(s) meeting as many; "
        f"{best['ms']:.1f} ms per answer"
    )


def owner_effect(kept: np.ndarray, losses: np.ndarray, dataset: Dataset) -> tuple[float, float]:
    """Mean fact-query loss over the subsets that kept its owner, and over those that did not:
    how much signal there is to attribute."""
    with_owner, without = [], []
    for q, query in enumerate(dataset.queries):
        if query.fact:
            column = kept[:, dataset.contributions.index(query.holders[0])].astype(bool)
            with_owner += losses[column, q].tolist()
            without += losses[~column, q].tolist()
    return statistics.fmean(with_owner), statistics.fmean(without)


def cell(value: float | str | None, spec: str, width: int) -> str:
    return f"{'-' if value is None else format(value, spec):>{width}}"


def print_table(table: list[TableRow]) -> None:
    print(
        f"{'method':<12}{'LDS':>7}{'LDS 95% CI':>17}{'facts':>7}{'generic':>9}"
        f"{'top-1':>8}{'ms/answer':>11}{'build s':>9}"
    )
    for row in table:
        interval = None
        if row["lds_low"] is not None:
            interval = f"[{row['lds_low']:.3f}, {row['lds_high']:.3f}]"
        print(
            f"{row['method']:<12}{cell(row['lds'], '.3f', 7)}{cell(interval, 's', 17)}"
            f"{cell(row['lds_facts'], '.3f', 7)}{cell(row['lds_generic'], '.3f', 9)}"
            f"{cell(row['top1'], '.0%', 8)}{cell(row['ms'], '.2f', 11)}"
            f"{cell(row['build_s'], '.2f', 9)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SUBSETS} subsets, not {FULL_SUBSETS}"
    )
    parser.add_argument("--subsets", type=int, help="adapters trained on random halves")
    parser.add_argument("--seed", type=int, default=0, help="words, subsets and training seed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--damping",
        type=float,
        help="TRAK's and DataInf's lambda, relative to the curvature's mean eigenvalue "
        "(default: each method's own, attribution/methods.py)",
    )
    parser.add_argument("--json", action="store_true", help="also print all figures as JSON")
    args = parser.parse_args()
    subsets = args.subsets or (QUICK_SUBSETS if args.quick else FULL_SUBSETS)
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = pretrained_base(workdir / "base")
        tokenizer = AutoTokenizer.from_pretrained(base)
        dataset = make_dataset(tokenizer, args.seed)
        config = training_config(args.seed)
        examples = encoded(tokenizer, dataset.rows, config.max_length)
        questions = query_ids(tokenizer, dataset.queries, config.max_length)
        adapter = train_adapter(base, dataset.rows, config, workdir / "full")
        results = [
            score_queries(m, adapter, base, examples, questions, args.damping) for m in METHODS
        ]
        kept, losses = subset_losses(base, dataset, config, questions, subsets, args.seed, workdir)

    table = []
    for result in results:
        row = table_row(result.name, result.scores, kept, losses, dataset, args.seed)
        row["ms"] = statistics.median(result.milliseconds)
        row["build_s"] = result.build_seconds
        table.append(row)
    oracle = table_row("holders", holder_scores(dataset), kept, losses, dataset, args.seed)
    table.append({**oracle, "top1": None, "ms": None, "build_s": None})
    facts = [q for q, query in enumerate(dataset.queries) if query.fact]
    span_accuracy, span_ms = span_top1(
        examples,
        [questions[q] for q in facts],
        [dataset.queries[q].holders[0] for q in facts],
    )
    table.append(
        {
            "method": "spans",
            **dict.fromkeys(("lds", "lds_low", "lds_high", "lds_facts", "lds_generic")),
            "top1": span_accuracy,
            "ms": statistics.median(span_ms),
            "build_s": None,
        }
    )
    kept_loss, dropped_loss = owner_effect(kept, losses, dataset)
    elapsed = time.perf_counter() - started

    damping = "each method's own" if args.damping is None else f"{args.damping:g}"
    print(
        f"\n{len(dataset.contributions)} contributions, {len(dataset.rows)} training rows, "
        f"{len(facts)} fact + {len(questions) - len(facts)} generic held-out queries, "
        f"{subsets} half-data adapters, seed {args.seed}, damping {damping}, "
        f"{torch.get_num_threads()} torch thread(s)\n"
        f"fact answer loss {kept_loss:.2f} nats/token with its owner kept, "
        f"{dropped_loss:.2f} without; 'holders' scores 1 for each contribution stating the answer"
    )
    print_table(table)
    print(recommend(table))
    print(f"total {elapsed:.0f} s")
    if args.json:
        figures = {
            "contributions": len(dataset.contributions),
            "rows": len(dataset.rows),
            "fact_queries": len(facts),
            "queries": len(questions),
            "subsets": subsets,
            "seed": args.seed,
            "damping": args.damping,
            "threads": torch.get_num_threads(),
            "owner_kept_loss": kept_loss,
            "owner_dropped_loss": dropped_loss,
            "methods": table,
            "seconds": elapsed,
        }
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
