"""The manifest hash ModelRegistry expects, and the seeded held-out split."""

import pytest

from openledger.contracts.models import manifest_hash
from serving.factory.data.formats import Example, Format
from serving.factory.data.manifest import split_examples


def test_manifest_hash_is_keccak_of_packed_sorted_uint256_ids() -> None:
    # Reference values from ethers v6 (node_modules), independent of our code:
    # solidityPackedKeccak256(["uint256[]"], [[1n, 2n, 3n]]) and (..., [[5n]]).
    assert manifest_hash([3, 1, 2]).hex() == (
        "6e0c627900b24bd432fe7b1f713f1b0744091a646a9fe4a65a18dfed21f2949c"
    )
    assert manifest_hash([5]).hex() == (
        "036b6384b5eca791c62761152d0c79bb0604c104a5fb6f4eb0703f3154bb3db0"
    )
    with pytest.raises(ValueError):
        manifest_hash([1, 1])


def examples(per_contribution: dict[int, int]) -> list[Example]:
    return [
        Example(cid, i + 1, i, Format.TEXT, (), f"{cid}-{i}")
        for cid, count in per_contribution.items()
        for i in range(count)
    ]


def test_split_is_seeded_deterministic_and_order_independent() -> None:
    rows = examples({1: 30, 4: 15, 9: 5})
    seed = manifest_hash([1, 4, 9])
    split = split_examples(rows, seed)
    assert len(split.held_out) == 5 and len(split.train) == 45
    assert set(split.train) | set(split.held_out) == set(rows)
    assert split_examples(list(reversed(rows)), seed).held_out == tuple(reversed(split.held_out))
    assert split.train == tuple(e for e in rows if e not in split.held_out)  # input order kept
    other = split_examples(rows, manifest_hash([1, 4]))
    assert set(other.held_out) != set(split.held_out)


def test_split_holds_out_at_least_one_and_trains_on_at_least_one() -> None:
    pair = split_examples(examples({2: 2}), b"s")
    assert (len(pair.train), len(pair.held_out)) == (1, 1)
    tiny = split_examples(examples({2: 3}), b"s", held_out_fraction=0.9)
    assert (len(tiny.train), len(tiny.held_out)) == (1, 2)
    with pytest.raises(ValueError):
        split_examples(examples({2: 1}), b"s")
    with pytest.raises(ValueError):
        split_examples(examples({2: 5}), b"s", held_out_fraction=1.0)
