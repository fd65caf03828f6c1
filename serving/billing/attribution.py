"""Who is credited for one answer: the port Proof of Attribution plugs into.

The contract accepts, per settlement, a non-empty list of strictly ascending contribution ids,
each approved in the adapter's datanet at the adapter's version or earlier, with one positive
integer weight each, and splits the contributors' part of the fee pro rata to the weights;
`attribution.weights.Weights` holds exactly that, plus how it was decided. The cashier sees only
`AttributionSource`: `attribution.source.ProofOfAttribution` scores each answer,
`attribution.pool.DatanetPool` credits the adapter's datanet version equally.
"""

from collections.abc import Sequence
from typing import Protocol

from attribution.weights import Weights
from serving.api.ports import AnsweredChoice


class AttributionSource(Protocol):
    def attribute(self, adapter_id: int, choices: Sequence[AnsweredChoice]) -> Weights:
        """The contributions credited for this answer of on-chain adapter `adapter_id`."""
        ...
