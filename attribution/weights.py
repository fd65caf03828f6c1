"""From influence scores to the integer weights a settlement carries.

The rule (docs/attribution.md):

1. Only contributions of the adapter's training manifest can be credited; a score for any other
   id is dropped, whatever its value.
2. Scores are rounded to `SIGNIFICANT_DIGITS` significant digits relative to the largest
   magnitude first. Two machines whose floating-point sums differ in the last bits then still
   derive the same weights; a change below that precision is not influence worth paying for.
3. Positive influence is paid: the positive scores are scaled so the weights sum to exactly
   `WEIGHT_TOTAL`, by largest remainders (ties to the lower contribution id). A contribution
   whose share rounds to zero gets none: the contract refuses zero weights.
4. Negative influence is recorded with the answer, never paid.
5. When nothing scores above zero, the contributors' share goes to the Datanet pool the adapter
   learnt from: every contribution of the manifest, weight 1 each (the contract needs at least
   one credited contribution, and an equal split of the pool is what it pays then).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import pairwise

WEIGHT_TOTAL = 1_000_000
"""What the weights of one paid answer sum to: parts per million of the contributors' share."""
SIGNIFICANT_DIGITS = 6
POOL_METHOD = "pool"
"""The method name of an answer credited without scores (an adapter with no features)."""


class Basis(StrEnum):
    INFLUENCE = "influence"
    """Weights follow the positive scores."""
    POOL = "pool"
    """No positive score: the manifest's contributions share equally."""


@dataclass(frozen=True)
class Weights:
    """The credit of one answer: what its settlement carries, and how it was decided."""

    contribution_ids: tuple[int, ...]
    """Strictly ascending; only those paid."""
    weights: tuple[int, ...]
    """Positive uint64, one per paid contribution."""
    basis: Basis
    method: str
    """The scoring method (`trak`, `datainf`, `grad-dot`, `spans`, `random`), or `pool`."""
    scores: dict[int, float] = field(default_factory=dict)
    """Every manifest contribution's rounded score, paid or not (negative ones included)."""

    def __post_init__(self) -> None:
        ids = self.contribution_ids
        if not ids or len(ids) != len(self.weights):
            raise ValueError("an attribution names at least one contribution, one weight each")
        if any(b <= a for a, b in pairwise(ids)):
            raise ValueError("contribution ids must be strictly ascending")
        if any(w <= 0 or w >= 2**64 for w in self.weights):
            raise ValueError("weights are positive uint64")


def pool_weights(manifest: Iterable[int], method: str = POOL_METHOD) -> Weights:
    """Every contribution of the manifest, weight 1: the Datanet pool's equal split."""
    ids = tuple(sorted(set(manifest)))
    if not ids:
        raise ValueError("an adapter with no training contributions cannot be credited")
    return Weights(ids, (1,) * len(ids), Basis.POOL, method)


def _exponent(values: Iterable[float]) -> int:
    """The power of ten of one unit in the last kept digit of the largest magnitude."""
    largest = max((abs(v) for v in values), default=0.0)
    return 0 if largest == 0.0 else math.floor(math.log10(largest)) - SIGNIFICANT_DIGITS + 1


def _units(scores: Mapping[int, float]) -> tuple[dict[int, int], int]:
    """Scores as whole units of 10**exponent, ids sorted, and the exponent; non-finite
    scores are dropped."""
    finite = {cid: float(s) for cid, s in scores.items() if math.isfinite(s)}
    exponent = _exponent(finite.values())
    return {cid: round(finite[cid] / 10.0**exponent) for cid in sorted(finite)}, exponent


def round_scores(scores: Mapping[int, float]) -> dict[int, float]:
    """Scores to `SIGNIFICANT_DIGITS` significant digits of the largest magnitude, ids sorted."""
    units, exponent = _units(scores)
    return {cid: float(f"{u}e{exponent}") for cid, u in units.items()}


def integer_weights(
    scores: Mapping[int, float], manifest: Iterable[int], method: str, total: int = WEIGHT_TOTAL
) -> Weights:
    """Apply the rule of this module to `method`'s `scores` for an adapter trained on
    `manifest`."""
    allowed = sorted(set(manifest))
    known = {cid: scores.get(cid, 0.0) for cid in allowed}
    rounded = round_scores(known)
    rounded = {cid: rounded.get(cid, 0.0) for cid in allowed}  # a non-finite score counts 0
    positive = {cid: u for cid, u in _units(known)[0].items() if u > 0}
    if not positive:
        return replace(pool_weights(allowed, method), scores=rounded)
    shares = _largest_remainders(positive, total)
    paid = [cid for cid in sorted(shares) if shares[cid] > 0]
    weights = tuple(shares[cid] for cid in paid)
    return Weights(tuple(paid), weights, Basis.INFLUENCE, method, rounded)


def _largest_remainders(units: Mapping[int, int], total: int) -> dict[int, int]:
    """Integers proportional to `units` that sum to exactly `total`."""
    whole = sum(units.values())
    shares = {cid: u * total // whole for cid, u in units.items()}
    remainders = sorted(units, key=lambda cid: (-(units[cid] * total % whole), cid))
    for cid in remainders[: total - sum(shares.values())]:
        shares[cid] += 1
    return shares
