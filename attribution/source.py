"""Proof of Attribution for the AI service: the credit of one answer, from its adapter's data.

Which method applies (docs/attribution.md):

1. The adapter has gradient features (trained by ModelFactory): the features' method (TRAK by
   default) scores every training contribution's influence on the answer.
2. It has only a span index (a corpus too large for gradients): the answer's longest verbatim
   spans credit the contributions they come from.
3. Neither (an adapter uploaded rather than trained here): the Datanet pool shares equally.

Scores become weights by `attribution.weights.integer_weights`, limited to the training manifest
stored with the data, whose hash must equal the adapter's on-chain `manifestHash`: a mismatch
means the data is not what the adapter was registered with, and it is refused (the caller then
credits the pool). The answer is scored from its text, re-tokenised as the base model's
tokenizer does, so anyone holding the adapter, the data and the answer gets the same weights.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from transformers import AutoTokenizer

from attribution.features import META_FILE, AttributionFeatures
from attribution.pool import DatanetPool
from attribution.scorer import InfluenceScorer
from attribution.spans import SpanIndex
from attribution.store import SPANS_DIR, AttributionStore
from attribution.weights import Weights, integer_weights
from openledger.contracts.models import NO_MANIFEST, ModelRegistryClient, manifest_hash

SPANS_METHOD = "spans"
SCORERS = 4
"""Adapters whose scorer (a copy of the base model) stays loaded, least recently used first out."""


class Answered(Protocol):
    """One choice of an answer: the prompt as the model saw it and the text returned."""

    prompt_ids: tuple[int, ...]
    text: str


class ManifestMismatch(ValueError):
    """The stored manifest is not the one the adapter was registered with."""


@dataclass(frozen=True)
class _AdapterData:
    manifest: tuple[int, ...]
    scorer: InfluenceScorer | None
    spans: SpanIndex | None


class ProofOfAttribution:
    """`AttributionSource` of the AI service. Thread-safe; scorers load on first use."""

    def __init__(
        self,
        models: ModelRegistryClient,
        pool: DatanetPool,
        store: AttributionStore,
        adapter_dir: Callable[[str], Path],
        base_model: str,
        device: str | torch.device = "cpu",
    ) -> None:
        self.models = models
        self.pool = pool
        self.store = store
        self.adapter_dir = adapter_dir
        """Where the adapter with this weights sha256 lies (the service's adapter store)."""
        self.base_model = base_model
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(base_model)
        self._loaded: OrderedDict[int, _AdapterData | None] = OrderedDict()
        self._lock = threading.Lock()

    def attribute(self, adapter_id: int, choices: Sequence[Answered]) -> Weights:
        data = self._data(adapter_id)
        if data is None:
            return self.pool.attribute(adapter_id)
        answers = [
            (tuple(c.prompt_ids), self.tokenizer(c.text, add_special_tokens=False).input_ids)
            for c in choices
        ]
        answers = [(prompt, ids) for prompt, ids in answers if ids]
        if data.scorer is not None:
            method = data.scorer.features.method
            scores = _summed(data.scorer.scores(prompt, ids) for prompt, ids in answers)
        elif data.spans is not None:
            method = SPANS_METHOD
            scores = _summed(data.spans.span_scores(ids) for _, ids in answers)
        else:
            return self.pool.attribute(adapter_id)
        return integer_weights(scores, data.manifest, method)

    def _data(self, adapter_id: int) -> _AdapterData | None:
        with self._lock:
            if adapter_id in self._loaded:
                self._loaded.move_to_end(adapter_id)
                return self._loaded[adapter_id]
        data = self._load(adapter_id)
        with self._lock:
            self._loaded[adapter_id] = data
            while len(self._loaded) > SCORERS:
                self._loaded.popitem(last=False)
        return data

    def _load(self, adapter_id: int) -> _AdapterData | None:
        adapter = self.models.adapter(adapter_id)
        sha256 = adapter.weights_hash.hex()
        manifest = self.store.manifest(sha256)
        if manifest is None:
            return None
        if adapter.manifest_hash not in (NO_MANIFEST, manifest_hash(manifest)):
            raise ManifestMismatch(
                f"adapter-{adapter_id}: the stored training manifest hashes to "
                f"0x{manifest_hash(manifest).hex()}, the registry says "
                f"0x{adapter.manifest_hash.hex()}"
            )
        folder = self.store.path(sha256)
        scorer = None
        if (folder / META_FILE).is_file():
            adapter_dir = self.adapter_dir(sha256)
            features = AttributionFeatures.load(folder, adapter_dir)
            scorer = InfluenceScorer(adapter_dir, self.base_model, features, self.device)
        spans = SpanIndex.load(folder / SPANS_DIR) if (folder / SPANS_DIR).is_dir() else None
        return _AdapterData(manifest, scorer, spans)


def _summed(per_choice: Iterable[Mapping[int, float]]) -> dict[int, float]:
    """Scores of several choices added up: influence on the whole answer is the sum of the
    influences on its parts (the loss of n choices is the sum of their losses)."""
    total: dict[int, float] = {}
    for scores in per_choice:
        for cid, score in scores.items():
            total[cid] = total.get(cid, 0.0) + score
    return total
