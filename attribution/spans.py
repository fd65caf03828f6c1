"""Span attribution: which contributions an answer quotes verbatim, found with a suffix array.

Gradient attribution does not scale to a Datanet of billions of tokens; exact-match search does.
This is the infini-gram / OLMoTrace approach: a suffix array over every contribution's tokens
answers "how often does this token sequence occur, and where" with a binary search, and the
longest spans of an answer that occur verbatim are credited to the contributions that hold them.

**Index.** ``SpanIndex.build`` concatenates the documents (one or many per contribution) into one
``int32`` text with the sentinel ``-1`` after every document. Token ids must be in
``[0, 2**31 - 1)``; queries with a negative id are refused, so a match never contains a sentinel
and no span crosses a document boundary. The suffix array is built by prefix doubling with
numpy: each round sorts only the suffixes whose rank is still tied, so random text settles in
two or three rounds and repetitive text in ``log2(longest repeat)`` rounds (O(n log n) per round
at worst). Positions map to contributions with a sorted array of document starts and
``searchsorted``.

**Memory.** The index holds 4 bytes of text and 4 bytes of suffix array per token (plus one per
document for its sentinel; the suffix array is ``int64`` above 2**31 positions), and 16 bytes per
document: about 8 bytes a token. ``save`` writes them as ``.npy`` files and ``load`` maps them
read-only, so a big index costs page cache, not heap. Building needs about 45 bytes a token at
its peak (the sort keys and permutations of one doubling round).

**Spans.** For each start in the answer the suffix-array range is narrowed one token at a time
(binary search over the next-token column of the range, which is sorted; a range of at most
``SCAN_BELOW`` suffixes is finished by comparing them with the answer directly). The match from a
start is the longest prefix of the rest of the answer that occurs in the index. Because a span
that occurs has all its suffixes occurring, match ends never decrease with the start, so a span
is contained in a longer one exactly when the previous start reaches the same end; those are
dropped (OLMoTrace keeps only such maximal spans). Spans shorter than ``min_length`` are dropped.

**Credit.** ``span_scores`` gives each maximal span its length in answer tokens, split evenly
among the distinct contributions it occurs in: a span found in one contribution credits it fully,
a common one is shared, and repeating a text inside one contribution earns nothing extra.
Overlapping spans each count in full. A span with more than ``max_occurrences`` occurrences
(boilerplate) is split among the contributions of the first ones in suffix-array order, a fixed
sample. Sums run in span order, then contribution order, so the floats are the same on every
machine.

**Determinism.** The suffix array of a text is unique (all suffixes differ), so a given list of
documents gives the same index, and a given answer the same spans and scores, anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

FORMAT = "openledger-span-index"
FORMAT_VERSION = 1
SENTINEL = -1
"""Ends every document: never a token id, so no match reaches past a document's end."""
MAX_TOKEN = 2**31 - 2
SCAN_BELOW = 256
"""Ranges this small are finished by comparing every suffix with the query at once: cheaper
than a Python binary search per token."""
_SCAN_WIDTH = 64
"""Query tokens compared per step of that scan, so a long query does not gather a huge window."""
_FILES = ("text", "suffix_array", "doc_starts", "doc_contributions")


class Occurrence(NamedTuple):
    """Where a token sequence occurs: the contribution, and its offset in the indexed text
    (``SpanIndex.text[position:position + len(tokens)]`` is the match)."""

    contribution_id: int
    position: int


@dataclass(frozen=True, slots=True)
class Span:
    """A maximal piece ``answer[start:end]`` that occurs verbatim in the index.

    ``count`` is the exact number of occurrences. ``contribution_ids`` (sorted) and ``counts``
    (occurrences in each) come from at most ``max_occurrences`` of them, the first in suffix-array
    order, so a boilerplate span found a million times stays cheap; ``sum(counts) < count`` says
    the list was capped.
    """

    start: int
    end: int
    count: int
    contribution_ids: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def length(self) -> int:
        return self.end - self.start


class SpanIndex:
    """A suffix array over a Datanet's tokens, with the document -> contribution map."""

    def __init__(
        self,
        text: np.ndarray,
        suffix_array: np.ndarray,
        doc_starts: np.ndarray,
        doc_contributions: np.ndarray,
        inputs_sha256: str,
    ) -> None:
        """Wrap built or loaded arrays; use ``build`` or ``load`` rather than this."""
        self.text = text
        self.suffix_array = suffix_array
        self.doc_starts = doc_starts
        self.doc_contributions = doc_contributions
        self.inputs_sha256 = inputs_sha256

    # -- building and storage ---------------------------------------------------------------

    @classmethod
    def build(cls, documents: Iterable[tuple[int, Sequence[int]]]) -> SpanIndex:
        """Index ``(contribution_id, token_ids)`` documents, in the order given.

        ``inputs_sha256`` hashes the documents exactly as given (id, length, tokens), so an
        index can be checked against the Datanet version it was built from.
        """
        pieces = [np.zeros(0, dtype=np.int32)]
        starts: list[int] = []
        contributions: list[int] = []
        digest = hashlib.sha256()
        offset = 0
        sentinel = np.array([SENTINEL], dtype=np.int32)
        for contribution_id, tokens in documents:
            contribution_id = int(contribution_id)
            if not 0 <= contribution_id < 2**63:
                raise ValueError(f"contribution id {contribution_id} is not in [0, 2**63)")
            array = _token_array(tokens).astype("<i4")
            digest.update(contribution_id.to_bytes(8, "little"))
            digest.update(len(array).to_bytes(8, "little"))
            digest.update(array.tobytes())
            starts.append(offset)
            contributions.append(contribution_id)
            pieces += [array, sentinel]
            offset += len(array) + 1
        text = np.concatenate(pieces).astype(np.int32, copy=False)
        del pieces  # the copy in `text` is enough during the sort
        return cls(
            text,
            suffix_array(text),
            np.array(starts, dtype=np.int64),
            np.array(contributions, dtype=np.int64),
            digest.hexdigest(),
        )

    def save(self, path: str | Path) -> None:
        """Write the index as a directory of ``.npy`` files plus ``header.json``.

        The header goes last, so a directory without one is an interrupted save, not an index.
        """
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "header.json").unlink(missing_ok=True)
        for name in _FILES:
            np.save(directory / f"{name}.npy", np.ascontiguousarray(getattr(self, name)))
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "positions": len(self.text),
            "documents": len(self.doc_starts),
            "inputs_sha256": self.inputs_sha256,
        }
        (directory / "header.json").write_text(json.dumps(header, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True) -> SpanIndex:
        """Open a saved index; with ``mmap`` the arrays stay on disk and are paged in on use."""
        directory = Path(path)
        header = json.loads((directory / "header.json").read_text())
        if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory} is not a {FORMAT} version {FORMAT_VERSION} index: "
                f"{header.get('format')} version {header.get('version')}"
            )
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None)
            for name in _FILES
        }
        sizes = {
            "text": header["positions"],
            "suffix_array": header["positions"],
            "doc_starts": header["documents"],
            "doc_contributions": header["documents"],
        }
        for name, size in sizes.items():
            if arrays[name].shape != (size,):
                raise ValueError(f"{directory}/{name}.npy has shape {arrays[name].shape}")
        return cls(**arrays, inputs_sha256=header["inputs_sha256"])

    def __len__(self) -> int:
        """Positions in the text: tokens plus one sentinel per document."""
        return len(self.text)

    @property
    def nbytes(self) -> int:
        """Bytes the index's arrays take (in RAM, or on disk when mapped)."""
        return sum(getattr(self, name).nbytes for name in _FILES)

    # -- queries ----------------------------------------------------------------------------

    def count(self, tokens: Sequence[int]) -> int:
        """How many times ``tokens`` occurs in the index (0 for an empty query)."""
        query = _token_array(tokens)
        if not len(query):
            return 0
        depth, lo, hi = self._longest_prefix(query)
        return hi - lo if depth == len(query) else 0

    def occurrences(self, tokens: Sequence[int], limit: int = 100) -> list[Occurrence]:
        """The first ``limit`` occurrences of ``tokens`` in text order."""
        query = _token_array(tokens)
        if not len(query):
            return []
        depth, lo, hi = self._longest_prefix(query)
        if depth < len(query) or limit <= 0:
            return []
        positions = np.asarray(self.suffix_array[lo:hi], dtype=np.int64)
        if len(positions) > limit:
            positions = np.partition(positions, limit - 1)[:limit]
        positions.sort()
        owners = self._contributions_at(positions)
        return [Occurrence(int(c), int(p)) for c, p in zip(owners, positions, strict=True)]

    def longest_spans(
        self, answer: Sequence[int], min_length: int = 4, max_occurrences: int = 10_000
    ) -> list[Span]:
        """The maximal pieces of ``answer`` of at least ``min_length`` tokens that occur
        verbatim, in order of start (see the module docstring for the method)."""
        query = _token_array(answer)
        spans: list[Span] = []
        previous_end = 0
        for start in range(len(query)):
            depth, lo, hi = self._longest_prefix(query[start:])
            end = start + depth
            if end > previous_end and depth >= max(min_length, 1):
                spans.append(self._span(start, end, lo, hi, max_occurrences))
            previous_end = max(previous_end, end)
        return spans

    def span_scores(self, answer: Sequence[int], min_length: int = 4) -> dict[int, float]:
        """Credit per contribution, in answer tokens: each maximal span's length split evenly
        among the distinct contributions it occurs in. Keys are in ascending order."""
        scores: dict[int, float] = {}
        for span in self.longest_spans(answer, min_length):
            share = span.length / len(span.contribution_ids)
            for contribution_id in span.contribution_ids:
                scores[contribution_id] = scores.get(contribution_id, 0.0) + share
        return dict(sorted(scores.items()))

    # -- internals --------------------------------------------------------------------------

    def _span(self, start: int, end: int, lo: int, hi: int, max_occurrences: int) -> Span:
        """The span ``answer[start:end]``, whose occurrences are suffix-array range [lo, hi)."""
        positions = self.suffix_array[lo : min(hi, lo + max(max_occurrences, 1))]
        ids, counts = np.unique(self._contributions_at(positions), return_counts=True)
        return Span(start, end, hi - lo, tuple(int(i) for i in ids), tuple(int(c) for c in counts))

    def _contributions_at(self, positions: np.ndarray) -> np.ndarray:
        """Contribution id of the document holding each text position."""
        documents = np.searchsorted(self.doc_starts, positions, side="right") - 1
        return np.asarray(self.doc_contributions)[documents]

    def _longest_prefix(self, query: np.ndarray) -> tuple[int, int, int]:
        """The longest prefix of ``query`` that occurs: ``(length, lo, hi)``, where suffix-array
        slots [lo, hi) are its occurrences (the whole array when the length is 0)."""
        text, sa = self.text, self.suffix_array
        lo, hi, depth = 0, len(sa), 0
        while depth < len(query) and hi > lo:
            if hi - lo <= SCAN_BELOW:
                return self._scan(query, depth, lo, hi)
            token = int(query[depth])
            # The range shares its first `depth` tokens, so the next token is sorted across it.
            # The text ends with a sentinel, so position + depth never runs past it.
            new_lo = _bisect(text, sa, lo, hi, depth, token, right=False)
            new_hi = _bisect(text, sa, new_lo, hi, depth, token, right=True)
            if new_lo == new_hi:
                break
            lo, hi, depth = new_lo, new_hi, depth + 1
        return depth, lo, hi

    def _scan(self, query: np.ndarray, depth: int, lo: int, hi: int) -> tuple[int, int, int]:
        """Finish ``_longest_prefix`` on a small range by comparing its suffixes with the rest
        of the query, ``_SCAN_WIDTH`` tokens at a time. The suffixes that match furthest are
        contiguous in the range, since it is sorted and shares the first ``depth`` tokens."""
        last = len(self.text) - 1
        positions = np.asarray(self.suffix_array[lo:hi], dtype=np.int64)
        while depth < len(query):
            width = min(_SCAN_WIDTH, len(query) - depth)
            # Clipping to the final sentinel is safe: every suffix meets a sentinel first.
            window = np.minimum(positions[:, None] + (depth + np.arange(width)), last)
            equal = self.text[window] == query[depth : depth + width]
            matched = np.where(equal.all(axis=1), width, equal.argmin(axis=1))
            best = int(matched.max())
            if best == 0:
                break
            keep = np.flatnonzero(matched == best)
            lo, hi = lo + int(keep[0]), lo + int(keep[-1]) + 1
            positions = positions[keep]
            depth += best
            if best < width:
                break
        return depth, lo, hi


def suffix_array(text: np.ndarray) -> np.ndarray:
    """Start positions of the suffixes of ``text`` in lexicographic order (a suffix that is a
    prefix of another sorts first), by prefix doubling.

    ``rank[i]`` is the first suffix-array slot of the group of suffixes sharing ``i``'s first
    ``k`` tokens (``rank[n] = -1`` stands for "past the end"). Each round sorts the still-tied
    slots by ``(rank[i], rank[i + k])``, which orders them by their first ``2k`` tokens within
    their group's slots; a group of one is final and never sorted again. Temporaries are
    dropped as soon as they are used: the peak is what bounds the corpus one machine can index.
    """
    n = len(text)
    dtype = np.int32 if n < 2**31 else np.int64
    sa = np.argsort(text, kind="stable").astype(dtype)
    ordered = text[sa]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = ordered[1:] != ordered[:-1]
    del ordered
    slots = np.arange(n, dtype=dtype)
    rank = np.empty(n + 1, dtype=dtype)
    rank[n] = -1  # past the end: sorts before every suffix
    rank[sa] = np.maximum.accumulate(np.where(new_group, slots, 0))
    active = slots[~(new_group & np.append(new_group[1:], True))]
    del slots, new_group
    k = 1
    while len(active):
        positions = sa[active]
        following = positions.astype(np.int64)
        following += k
        np.minimum(following, n, out=following)
        key = rank[positions].astype(np.int64)
        key *= n + 1
        key += rank[following]
        key += 1
        del following
        order = np.argsort(key)
        key = key[order]
        positions = positions[order]
        del order
        sa[active] = positions
        new_group = np.ones(len(key), dtype=bool)
        np.not_equal(key[1:], key[:-1], out=new_group[1:])
        del key
        rank[positions] = np.maximum.accumulate(np.where(new_group, active, 0))
        active = active[~(new_group & np.append(new_group[1:], True))]
        k *= 2
    return sa


def _bisect(
    text: np.ndarray, sa: np.ndarray, lo: int, hi: int, depth: int, token: int, *, right: bool
) -> int:
    """First slot in [lo, hi) whose token at ``depth`` is >= ``token`` (> with ``right``)."""
    while lo < hi:
        mid = (lo + hi) // 2
        value = int(text[int(sa[mid]) + depth])
        if value < token or (right and value == token):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _token_array(tokens: Sequence[int]) -> np.ndarray:
    """Token ids as ``int64``, refusing ids the index cannot hold (a negative one would match a
    sentinel and let a span cross documents)."""
    array = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if len(array) and (array.min() < 0 or array.max() > MAX_TOKEN):
        raise ValueError(f"token ids must be in [0, {MAX_TOKEN}]")
    return array
