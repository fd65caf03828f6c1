"""The attribution data of each adapter ModelFactory trains (`attribution.build`).

The rows are tokenised exactly as the trainer tokenised them (same tokenizer, same maximum
length, prompt tokens masked), so the gradients attribution computes are those of the loss the
adapter was trained on, each row tagged with its contribution id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch
from transformers import AutoTokenizer

from attribution.build import DEFAULT_METHOD, build_attribution
from attribution.gradients import TrainingExample as TokenRow
from attribution.store import AttributionStore
from serving.factory.data.manifest import TrainingManifest
from serving.factory.training import TrainingExample, TrainingResult
from serving.factory.training.encoding import encode_examples


class AttributionBuilder:
    """The worker's `AttributionHook`: build and store one trained adapter's data."""

    def __init__(
        self,
        store: AttributionStore,
        method: str = DEFAULT_METHOD,
        device: str | torch.device = "cpu",
    ) -> None:
        self.store = store
        self.method = method
        self.device = device

    def __call__(
        self,
        result: TrainingResult,
        examples: Sequence[TrainingExample],
        manifest: TrainingManifest,
    ) -> dict[str, Any]:
        tokenizer = AutoTokenizer.from_pretrained(result.base_model)
        encoded = encode_examples(tokenizer, examples, result.config.max_length)
        rows = [TokenRow(e.contribution_id, list(e.input_ids), list(e.labels)) for e in encoded]
        built = build_attribution(
            self.store,
            result.adapter_dir,
            result.adapter_sha256,
            result.base_model,
            rows,
            manifest.contribution_ids,
            self.method,
            self.device,
        )
        summary = asdict(built)
        summary["folder"] = str(built.folder)
        return summary
