"""Span attribution speed: suffix-array index build time and size, and per-answer
``longest_spans`` latency, against a naive ``bytes.find`` search over the same tokens.

The corpus is random tokens (vocabulary 50k) from 1000 contributions of four documents each.
Each answer has 64 tokens: 16 random, 32 copied from one document, 16 random, so each has one
planted span of at least 32 tokens (random neighbours can extend it by chance) and, on a random
corpus, few others. Latency is measured on the built index and on the same index saved and
loaded memory-mapped (page cache warm). The naive baseline finds the same maximal spans by
searching the little-endian token bytes from every start of the answer (extending the previous
match, as the index does) and is checked to give the same spans; it runs on the smallest size.
Build memory is numpy's peak allocation during ``SpanIndex.build`` (tracemalloc).

Run from the repository root::

    .venv/bin/python benchmarks/attribution_spans.py --sizes 1000000 10000000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from attribution.spans import SpanIndex

VOCAB = 50_000
CONTRIBUTIONS = 1000
DOCUMENTS_PER_CONTRIBUTION = 4
ANSWER_LENGTH = 64
COPIED = 32


def corpus(tokens: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """``tokens`` random tokens cut at random places into documents, dealt to contributions."""
    count = CONTRIBUTIONS * DOCUMENTS_PER_CONTRIBUTION
    cuts = np.sort(rng.choice(np.arange(1, tokens), count - 1, replace=False))
    text = rng.integers(0, VOCAB, tokens, dtype=np.int32)
    return [(i % CONTRIBUTIONS, piece) for i, piece in enumerate(np.split(text, cuts))]


def answers(
    documents: list[tuple[int, np.ndarray]], count: int, rng: np.random.Generator
) -> list[list[int]]:
    """Answers with ``COPIED`` tokens from a random document between random tokens."""
    long_enough = [tokens for _, tokens in documents if len(tokens) >= COPIED]
    result = []
    for _ in range(count):
        source = long_enough[rng.integers(len(long_enough))]
        start = int(rng.integers(len(source) - COPIED + 1))
        side = (ANSWER_LENGTH - COPIED) // 2
        result.append(
            [
                *rng.integers(0, VOCAB, side).tolist(),
                *source[start : start + COPIED].tolist(),
                *rng.integers(0, VOCAB, ANSWER_LENGTH - COPIED - side).tolist(),
            ]
        )
    return result


def naive_spans(
    index: SpanIndex, haystack: bytes, answer: list[int], min_length: int = 4
) -> list[tuple[int, int, int, tuple[int, ...]]]:
    """Maximal spans as ``(start, end, count, contribution_ids)`` by ``bytes.find``."""

    def positions(tokens: list[int], first_only: bool) -> list[int]:
        needle = np.array(tokens, dtype="<i4").tobytes()
        found, at = [], haystack.find(needle)
        while at >= 0:
            if at % 4 == 0:  # a match between token boundaries is not a match
                found.append(at // 4)
                if first_only:
                    break
            at = haystack.find(needle, at + 1)
        return found

    result, previous_end = [], 0
    for start in range(len(answer)):
        end = max(previous_end, start)
        while end < len(answer) and positions(answer[start : end + 1], first_only=True):
            end += 1
        if end > previous_end and end - start >= min_length:
            found = np.array(positions(answer[start:end], first_only=False))
            documents = np.searchsorted(index.doc_starts, found, side="right") - 1
            owners = np.unique(index.doc_contributions[documents])
            result.append((start, end, len(found), tuple(int(c) for c in owners)))
        previous_end = max(previous_end, end)
    return result


def latency_ms(search: Callable[[list[int]], object], queries: list[list[int]]) -> str:
    """Median and 95th percentile of one call per query, in milliseconds."""
    times = []
    for query in queries:
        began = time.perf_counter()
        search(query)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return f"median {statistics.median(times):8.3f} ms  p95 {p95:8.3f} ms"


def run(tokens: int, answer_count: int, baseline_count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    documents = corpus(tokens, rng)
    queries = answers(documents, answer_count, rng)

    tracemalloc.start()
    began = time.perf_counter()
    index = SpanIndex.build(documents)
    build_s = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    print(f"\n== {tokens:,} tokens, {len(documents):,} documents, {CONTRIBUTIONS} contributions")
    print(f"build            {build_s:8.2f} s   peak numpy memory {peak / tokens:5.1f} B/token")
    print(f"index size       {index.nbytes / 2**20:8.1f} MiB  {index.nbytes / tokens:5.2f} B/token")
    with tempfile.TemporaryDirectory() as directory:
        began = time.perf_counter()
        index.save(Path(directory))
        print(f"save             {time.perf_counter() - began:8.2f} s")
        began = time.perf_counter()
        mapped = SpanIndex.load(Path(directory))
        print(f"load (mmap)      {(time.perf_counter() - began) * 1000:8.2f} ms")
        print(f"longest_spans    {latency_ms(index.longest_spans, queries)}  (in memory)")
        print(f"longest_spans    {latency_ms(mapped.longest_spans, queries)}  (memory-mapped)")
        del mapped  # the mapping must close before its files are removed on Windows
    print(f"span_scores      {latency_ms(index.span_scores, queries)}")
    found = [len(index.longest_spans(query)) for query in queries]
    print(f"spans per answer {statistics.mean(found):8.2f}")

    if baseline_count:
        haystack = index.text.astype("<i4").tobytes()
        sample = queries[:baseline_count]
        print(f"naive bytes.find {latency_ms(lambda q: naive_spans(index, haystack, q), sample)}")
        for query in sample:
            expected = naive_spans(index, haystack, query)
            got = [
                (s.start, s.end, s.count, s.contribution_ids) for s in index.longest_spans(query)
            ]
            assert got == expected, (got, expected)
        print(f"naive spans equal the index's on {len(sample)} answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--baseline-answers", type=int, default=20, help="on the first size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for i, tokens in enumerate(args.sizes):
        run(tokens, args.answers, args.baseline_answers if i == 0 else 0, args.seed)


if __name__ == "__main__":
    main()
