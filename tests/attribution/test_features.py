"""Features are reproducible, survive a save/load, and refuse an adapter they were not built for."""

import json
import random
from pathlib import Path

import pytest
import torch

from attribution.features import (
    META_FILE,
    AdapterMismatch,
    AttributionFeatures,
    build_features,
)
from attribution.scorer import InfluenceScorer
from tests.attribution.conftest import random_examples

EXAMPLES = random_examples(30, contributions=4, seed=1)
PROMPT, ANSWER = [21, 22, 23], [24, 25]


@pytest.mark.parametrize("method", ["grad-dot", "trak", "datainf", "random"])
def test_same_adapter_data_and_answer_give_the_same_scores(
    adapter_dir: Path, base_dir: Path, method: str
) -> None:
    first = build_features(adapter_dir, base_dir, EXAMPLES, method)
    shuffled = random.Random(0).sample(EXAMPLES, len(EXAMPLES))
    second = build_features(adapter_dir, base_dir, shuffled, method)
    assert torch.equal(first.matrix, second.matrix), "example order must not matter"
    assert first.contribution_ids == (0, 1, 2, 3)
    scorer = InfluenceScorer(adapter_dir, base_dir, first)
    scores = scorer.scores(PROMPT, ANSWER)
    assert list(scores) == [0, 1, 2, 3]
    assert scores == scorer.scores(PROMPT, ANSWER)
    assert scores == InfluenceScorer(adapter_dir, base_dir, second).scores(PROMPT, ANSWER)


def test_random_scores_depend_on_the_answer_only(adapter_dir: Path, base_dir: Path) -> None:
    features = build_features(adapter_dir, base_dir, EXAMPLES, "random")
    scorer = InfluenceScorer(adapter_dir, base_dir, features)
    scores = scorer.scores(PROMPT, ANSWER)
    assert all(0 <= value < 1 for value in scores.values())
    assert scores != scorer.scores(PROMPT, [*ANSWER, 26])


def test_save_and_load_round_trip(adapter_dir: Path, base_dir: Path, tmp_path: Path) -> None:
    features = build_features(adapter_dir, base_dir, EXAMPLES, "trak", k=256, seed=9)
    loaded = AttributionFeatures.load(features.save(tmp_path / "features"), adapter_dir)
    assert torch.equal(loaded.matrix, features.matrix)
    assert loaded.matrix.dtype == torch.float32 and loaded.matrix.shape == (4, 256)
    for name in ("method", "contribution_ids", "adapter_sha256", "parameter_names", "examples"):
        assert getattr(loaded, name) == getattr(features, name)
    assert (loaded.k, loaded.projection_seed, loaded.lambdas) == (256, 9, features.lambdas)
    scores = InfluenceScorer(adapter_dir, base_dir, loaded).scores(PROMPT, ANSWER)
    assert scores == InfluenceScorer(adapter_dir, base_dir, features).scores(PROMPT, ANSWER)
    meta = json.loads((tmp_path / "features" / META_FILE).read_text())
    assert meta["method"] == "trak" and meta["examples"] == 30


def test_features_of_another_adapter_are_refused(
    adapter_dir: Path, other_adapter_dir: Path, base_dir: Path, tmp_path: Path
) -> None:
    features = build_features(adapter_dir, base_dir, EXAMPLES, "grad-dot")
    saved = features.save(tmp_path / "features")
    with pytest.raises(AdapterMismatch):
        AttributionFeatures.load(saved, other_adapter_dir)
    with pytest.raises(AdapterMismatch):
        InfluenceScorer(other_adapter_dir, base_dir, features)


def test_progress_counts_every_gradient_of_every_pass(adapter_dir: Path, base_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    build_features(
        adapter_dir, base_dir, EXAMPLES, "datainf", batch_size=8, progress=lambda *a: seen.append(a)
    )
    assert seen[-1] == (60, 60), "DataInf reads the gradients twice"
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_an_unknown_method_is_refused(adapter_dir: Path, base_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown attribution method"):
        build_features(adapter_dir, base_dir, EXAMPLES, "tracin")
