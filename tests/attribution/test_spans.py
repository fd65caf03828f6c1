"""Span attribution with a suffix array, checked against naive searches over the documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution import spans
from attribution.spans import Occurrence, Span, SpanIndex, suffix_array

Documents = list[tuple[int, list[int]]]

# Small vocabularies make repeats (and tied ranks, and long shared prefixes) common.
documents_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.lists(st.integers(0, 3), max_size=30)),
    min_size=1,
    max_size=6,
)


def naive_occurrences(documents: Documents, tokens: list[int]) -> list[Occurrence]:
    """Every occurrence by sliding over each document, in text order."""
    found, offset = [], 0
    for contribution_id, document in documents:
        for i in range(len(document) - len(tokens) + 1):
            if document[i : i + len(tokens)] == tokens:
                found.append(Occurrence(contribution_id, offset + i))
        offset += len(document) + 1
    return found


def naive_spans(documents: Documents, answer: list[int], min_length: int) -> list[Span]:
    """OLMoTrace's definition, literally: the longest occurring piece from each start, minus
    those inside a longer one."""
    candidates = []
    for start in range(len(answer)):
        end = start
        while end < len(answer) and naive_occurrences(documents, answer[start : end + 1]):
            end += 1
        if end - start >= min_length:
            candidates.append((start, end))
    result = []
    for start, end in candidates:
        if any(s <= start and end <= e and (s, e) != (start, end) for s, e in candidates):
            continue
        found = naive_occurrences(documents, answer[start:end])
        ids = sorted({o.contribution_id for o in found})
        counts = tuple(sum(o.contribution_id == i for o in found) for i in ids)
        result.append(Span(start, end, len(found), tuple(ids), counts))
    return result


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-1, 3), max_size=60))
def test_suffix_array_is_the_sorted_suffixes(text: list[int]) -> None:
    expected = sorted(range(len(text)), key=lambda i: text[i:])
    assert suffix_array(np.array(text, dtype=np.int32)).tolist() == expected


def test_suffix_array_of_long_repeats() -> None:
    """Repetitive text needs many doubling rounds; runs of one token are the worst case."""
    rng = np.random.default_rng(1)
    text = np.concatenate([np.zeros(700), np.tile(rng.integers(0, 3, 37), 20), [1] * 300])
    text = text.astype(np.int32)
    expected = sorted(range(len(text)), key=lambda i: text[i:].tolist())
    assert suffix_array(text).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(documents_strategy, st.lists(st.integers(0, 3), min_size=1, max_size=5))
def test_count_and_occurrences_equal_naive_search(documents: Documents, query: list[int]) -> None:
    index = SpanIndex.build(documents)
    expected = naive_occurrences(documents, query)
    assert index.count(query) == len(expected)
    assert index.occurrences(query, limit=1000) == expected
    assert index.occurrences(query, limit=2) == expected[:2]


def test_binary_search_path_equals_naive_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges larger than SCAN_BELOW are narrowed by binary search; force it everywhere."""
    monkeypatch.setattr(spans, "SCAN_BELOW", 0)
    rng = np.random.default_rng(2)
    documents = [(int(rng.integers(0, 4)), rng.integers(0, 3, 200).tolist()) for _ in range(8)]
    index = SpanIndex.build(documents)
    for length in (1, 2, 5, 9):
        for _ in range(10):
            query = rng.integers(0, 3, length).tolist()
            expected = naive_occurrences(documents, query)
            assert index.count(query) == len(expected)
            assert index.occurrences(query, limit=10_000) == expected
    answer = [*documents[3][1][50:90], 1, 1, 1, *documents[5][1][:30]]
    assert index.longest_spans(answer, min_length=3) == naive_spans(documents, answer, 3)


@settings(max_examples=100, deadline=None)
@given(documents_strategy, st.lists(st.integers(0, 4), max_size=25), st.integers(1, 4))
def test_longest_spans_equal_naive_definition(
    documents: Documents, answer: list[int], min_length: int
) -> None:
    index = SpanIndex.build(documents)
    assert index.longest_spans(answer, min_length) == naive_spans(documents, answer, min_length)


def test_spans_never_cross_document_boundaries() -> None:
    index = SpanIndex.build([(7, [1, 2, 3]), (7, [4, 5, 6]), (8, [3, 4])])
    found = index.longest_spans([1, 2, 3, 4, 5, 6], min_length=1)
    assert [(s.start, s.end, s.contribution_ids) for s in found] == [
        (0, 3, (7,)),
        (2, 4, (8,)),
        (3, 6, (7,)),
    ]
    assert index.count([3, 4, 5]) == 0


def test_answer_copying_two_contributions_finds_both() -> None:
    rng = np.random.default_rng(3)
    documents = [(c, rng.integers(0, 1000, 500).tolist()) for c in (10, 11, 12, 13)]
    # The first piece is longer than one scan step (_SCAN_WIDTH tokens).
    first, second = documents[1][1][100:250], documents[3][1][300:312]
    answer = [1001, 1002, *first, 1003, *second, 1004]
    found = SpanIndex.build(documents).longest_spans(answer)
    assert [(s.start, s.end, s.contribution_ids) for s in found] == [
        (2, 152, (11,)),
        (153, 165, (13,)),
    ]


def test_span_in_one_contribution_gets_the_whole_credit() -> None:
    shared = [50, 51, 52, 53, 54]
    index = SpanIndex.build(
        [
            (1, [1, 2, 3, 4, 5, 6, 9]),
            (2, [*shared, 0]),
            (3, [8, *shared]),
            (3, shared),  # a second copy in the same contribution earns nothing extra
        ]
    )
    assert index.span_scores([1, 2, 3, 4, 5, 6, 7]) == {1: 6.0}
    assert index.span_scores([*shared, 7, 1, 2, 3, 4]) == {1: 4.0, 2: 2.5, 3: 2.5}
    assert index.span_scores([7, 7, 7, 7]) == {}


def test_occurrence_cap_keeps_the_exact_count() -> None:
    index = SpanIndex.build([(c, [1, 2, 3, 4]) for c in range(50)])
    (span,) = index.longest_spans([1, 2, 3, 4], max_occurrences=5)
    assert span.count == 50
    assert sum(span.counts) == 5
    assert span.contribution_ids == tuple(sorted(span.contribution_ids))


def test_save_and_load_memory_mapped_give_equal_results(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    documents = [(c % 7, rng.integers(0, 20, 300).tolist()) for c in range(20)]
    index = SpanIndex.build(documents)
    index.save(tmp_path / "index")
    loaded = SpanIndex.load(tmp_path / "index")
    assert isinstance(loaded.suffix_array, np.memmap)
    assert loaded.inputs_sha256 == index.inputs_sha256
    assert loaded.nbytes == index.nbytes
    for name in ("text", "suffix_array", "doc_starts", "doc_contributions"):
        assert np.array_equal(getattr(loaded, name), getattr(index, name))
    answer = documents[5][1][10:40] + rng.integers(0, 20, 30).tolist()
    assert loaded.longest_spans(answer) == index.longest_spans(answer)
    assert loaded.span_scores(answer) == index.span_scores(answer)
    assert loaded.occurrences(answer[:3]) == index.occurrences(answer[:3])


def test_load_refuses_another_format(tmp_path: Path) -> None:
    SpanIndex.build([(1, [1, 2])]).save(tmp_path)
    (tmp_path / "header.json").write_text('{"format": "openledger-span-index", "version": 99}')
    with pytest.raises(ValueError, match="version 99"):
        SpanIndex.load(tmp_path)


def test_results_are_deterministic() -> None:
    """Same documents, same index bytes and hash; same answer, same spans and floats."""
    rng = np.random.default_rng(5)
    documents = [(c % 5, rng.integers(0, 30, 200).tolist()) for c in range(15)]
    answer = documents[2][1][:25] + documents[9][1][40:60] + documents[0][1][:10]
    first, second = SpanIndex.build(documents), SpanIndex.build(iter(documents))
    assert first.inputs_sha256 == second.inputs_sha256
    assert first.suffix_array.tobytes() == second.suffix_array.tobytes()
    assert first.longest_spans(answer) == second.longest_spans(answer)
    assert first.span_scores(answer) == second.span_scores(answer)
    assert SpanIndex.build(documents[::-1]).inputs_sha256 != first.inputs_sha256


def test_refuses_token_ids_that_could_match_a_sentinel() -> None:
    index = SpanIndex.build([(1, [1, 2])])
    with pytest.raises(ValueError, match="token ids"):
        index.count([2, -1])
    with pytest.raises(ValueError, match="token ids"):
        SpanIndex.build([(1, [2**31])])
    assert index.count([]) == 0
    assert SpanIndex.build([]).longest_spans([1, 2, 3, 4]) == []
