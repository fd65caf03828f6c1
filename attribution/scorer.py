"""Score one answer against stored features: one backward pass and one matrix-vector product."""

import threading
from collections.abc import Sequence
from pathlib import Path

import torch

from attribution.features import AttributionFeatures
from attribution.gradients import LoraGradients, answer_sequence
from attribution.methods import METHODS, Built, RandomScores
from attribution.model import load_lora_model


class InfluenceScorer:
    """Holds the adapted model and the answer-side matrix W, loaded once per adapter.

    scores(answer) = W @ q(answer), with q the raw LoRA gradient of the answer's loss, so even
    TRAK needs no projection per answer (its W is M P^T, folded here once). Calls are
    serialised by a lock: the model is shared and autograd state is not thread-safe.
    """

    def __init__(
        self,
        adapter_dir: Path,
        base_model: str | Path,
        features: AttributionFeatures,
        device: str | torch.device = "cpu",
    ) -> None:
        features.check_adapter(adapter_dir)
        self.features = features
        self._method = METHODS[features.method]()
        self._lock = threading.Lock()
        if not self._method.uses_gradients:
            return
        lora = load_lora_model(adapter_dir, base_model, device)
        if lora.names != features.parameter_names:
            raise ValueError("the adapter's LoRA parameters differ from those the features used")
        self._gradients = LoraGradients(lora)
        built = Built(features.matrix, features.lambdas, features.k, features.projection_seed)
        self._answer_matrix = self._method.answer_matrix(built, lora.dim).to(lora.device)

    def scores(self, prompt_ids: Sequence[int], answer_ids: Sequence[int]) -> dict[int, float]:
        """Influence of each contribution on lowering the loss of `answer_ids` after `prompt_ids`
        (positive: it helped), keyed by contribution id in ascending order."""
        ids = self.features.contribution_ids
        input_ids, labels = answer_sequence(prompt_ids, answer_ids)
        if not self._method.uses_gradients:
            values = RandomScores.scores(
                self.features.adapter_sha256, prompt_ids, answer_ids, len(ids)
            )
        else:
            with self._lock:
                gradient = self._gradients.one(input_ids, labels)
                values = self._answer_matrix @ gradient
        return dict(zip(ids, values.tolist(), strict=True))
