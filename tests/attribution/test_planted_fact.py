"""The contribution that alone taught a fact should rank first when that fact is the answer."""

import pytest

from attribution.features import build_features
from attribution.scorer import InfluenceScorer
from tests.attribution.conftest import PLANTED_CONTRIBUTION, Planted

METHODS = ["trak-unit", "trak", "datainf", "grad-dot", "random"]


@pytest.fixture(scope="module")
def scorers(planted: Planted) -> dict[str, InfluenceScorer]:
    return {
        method: InfluenceScorer(
            planted.adapter_dir,
            planted.base_dir,
            build_features(planted.adapter_dir, planted.base_dir, planted.examples, method),
        )
        for method in METHODS
    }


def ranking(scorer: InfluenceScorer, prompt_ids: list[int], answer_ids: list[int]) -> list[int]:
    scores = scorer.scores(prompt_ids, answer_ids)
    return sorted(scores, key=lambda cid: -scores[cid])


@pytest.mark.parametrize("method", ["trak-unit", "trak", "datainf"])
def test_the_planted_contribution_ranks_first(
    planted: Planted, scorers: dict[str, InfluenceScorer], method: str
) -> None:
    first = ranking(scorers[method], planted.prompt_ids, planted.answer_ids)[0]
    assert first == PLANTED_CONTRIBUTION


def test_every_fact_is_credited_to_its_contribution(
    planted: Planted, scorers: dict[str, InfluenceScorer]
) -> None:
    """Top-1 accuracy over all the facts, each stated by exactly one contribution: the
    preconditioned methods must get them all, and random must not (grad-dot is reported)."""
    accuracy = {
        method: sum(
            ranking(scorer, prompt, answer)[0] == owner
            for prompt, answer, owner in planted.questions.values()
        )
        / len(planted.questions)
        for method, scorer in scorers.items()
    }
    print("top-1 accuracy over", len(planted.questions), "facts:", accuracy)
    assert accuracy["trak-unit"] == accuracy["trak"] == accuracy["datainf"] == 1.0
    assert accuracy["random"] < 1.0
