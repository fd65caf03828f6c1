"""The rule from scores to settlement weights: exact sums, manifest only, pool fallback."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attribution.weights import (
    WEIGHT_TOTAL,
    Basis,
    Weights,
    integer_weights,
    pool_weights,
    round_scores,
)

SCORES = st.dictionaries(
    st.integers(1, 50), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False), max_size=20
)


def test_positive_influence_is_split_exactly_in_proportion() -> None:
    weights = integer_weights({3: 1.0, 1: 2.0, 2: 1.0}, [1, 2, 3], "trak")
    assert weights.basis is Basis.INFLUENCE
    assert weights.contribution_ids == (1, 2, 3)
    assert weights.weights == (500_000, 250_000, 250_000)


def test_thirds_sum_exactly_with_the_remainder_to_the_lowest_id() -> None:
    weights = integer_weights({7: 1.0, 8: 1.0, 9: 1.0}, [7, 8, 9], "trak")
    assert weights.weights == (333_334, 333_333, 333_333)


def test_negative_influence_is_recorded_not_paid() -> None:
    weights = integer_weights({1: 2.0, 2: -5.0, 3: 0.0}, [1, 2, 3], "trak")
    assert weights.contribution_ids == (1,)
    assert weights.weights == (WEIGHT_TOTAL,)
    assert weights.scores == {1: 2.0, 2: -5.0, 3: 0.0}


def test_a_contribution_outside_the_manifest_never_gets_weight() -> None:
    weights = integer_weights({1: 1.0, 99: 1e9}, [1, 2], "trak")
    assert weights.contribution_ids == (1,)
    assert 99 not in weights.scores


def test_nothing_positive_pays_the_datanet_pool_equally() -> None:
    weights = integer_weights({1: -1.0, 2: -0.5}, [2, 1, 3], "trak")
    assert weights.basis is Basis.POOL
    assert weights.contribution_ids == (1, 2, 3)
    assert weights.weights == (1, 1, 1)
    assert integer_weights({}, [4], "trak").basis is Basis.POOL


def test_last_bit_differences_give_the_same_weights() -> None:
    """Another machine's float sums may differ in the last bits; the weights may not."""
    scores = {1: 0.123456789, 2: 0.3, 3: 1e-9}
    nudged = {cid: math.nextafter(s, math.inf) for cid, s in scores.items()}
    assert integer_weights(scores, [1, 2, 3], "trak") == integer_weights(nudged, [1, 2, 3], "trak")


def test_rounding_keeps_six_significant_digits_of_the_largest() -> None:
    assert round_scores({1: 123.4567891, 2: 0.000004}) == {1: 123.457, 2: 0.0}


@given(SCORES)
def test_any_scores_give_valid_settlement_weights(scores: dict[int, float]) -> None:
    manifest = sorted(set(scores) | {1})
    weights = integer_weights(scores, manifest, "trak")
    assert weights.contribution_ids == tuple(sorted(set(weights.contribution_ids)))
    assert all(w > 0 for w in weights.weights)
    assert set(weights.contribution_ids) <= set(manifest)
    if weights.basis is Basis.INFLUENCE:
        assert sum(weights.weights) == WEIGHT_TOTAL
        assert all(weights.scores[cid] > 0 for cid in weights.contribution_ids)
    assert integer_weights(dict(reversed(scores.items())), manifest[::-1], "trak") == weights


def test_an_invalid_settlement_is_refused() -> None:
    with pytest.raises(ValueError, match="ascending"):
        Weights((2, 1), (1, 1), Basis.POOL, "pool")
    with pytest.raises(ValueError, match="uint64"):
        Weights((1,), (0,), Basis.POOL, "pool")
    with pytest.raises(ValueError, match="no training contributions"):
        pool_weights([])
