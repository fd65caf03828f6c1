"""Everything attribution needs about a trained adapter, built once when it is trained.

ModelFactory calls `build_attribution` with the exact token rows it trained on (each with its
contribution id): the gradient features of `method` (one matrix, contributions x k) and the
span index over the rows' tokens, both written to the adapter's folder of an `AttributionStore`.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from attribution.features import Progress, build_features
from attribution.gradients import TrainingExample
from attribution.spans import SpanIndex
from attribution.store import SPANS_DIR, AttributionStore, write_manifest

log = logging.getLogger(__name__)

DEFAULT_METHOD = "trak-unit"
"""The service's default scorer (docs/attribution.md: chosen by benchmarks/attribution_quality)."""


@dataclass(frozen=True)
class BuiltAttribution:
    folder: Path
    method: str
    examples: int
    contributions: int
    span_tokens: int
    seconds: float


def build_attribution(
    store: AttributionStore,
    adapter_dir: Path,
    adapter_sha256: str,
    base_model: str | Path,
    examples: Sequence[TrainingExample],
    manifest: Sequence[int],
    method: str = DEFAULT_METHOD,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> BuiltAttribution:
    """Build and store the adapter's attribution data; `manifest` is the training manifest
    registered on chain (a superset of the examples' contribution ids)."""
    started = time.perf_counter()
    missing = {e.contribution_id for e in examples} - set(manifest)
    if missing:
        raise ValueError(f"examples of contributions outside the manifest: {sorted(missing)}")
    staging = store.staging()
    try:
        features = build_features(
            adapter_dir, base_model, examples, method, device=device, progress=progress
        )
        features.save(staging)
        spans = SpanIndex.build((e.contribution_id, e.input_ids) for e in examples)
        spans.save(staging / SPANS_DIR)
        write_manifest(staging, tuple(manifest))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    folder = store.put(adapter_sha256, staging)
    built = BuiltAttribution(
        folder,
        features.method,
        len(examples),
        len(features.contribution_ids),
        len(spans),
        time.perf_counter() - started,
    )
    log.info("attribution data of adapter %s built: %s", adapter_sha256, built)
    return built
