"""The one-pass ordered-trie root equals py-evm's incremental HexaryTrie root."""

import random

import pytest
from eth.constants import BLANK_ROOT_HASH
from eth.db.trie import make_trie_root_and_nodes

from node.trie_root import ordered_trie_root


class Encoded:
    """Stands in for a transaction or receipt: py-evm only calls ``encode()``."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def encode(self) -> bytes:
        return self.payload


@pytest.mark.parametrize("count", [1, 2, 3, 15, 16, 17, 127, 128, 129, 300, 1100])
def test_root_matches_py_evm(count: int) -> None:
    rng = random.Random(count)
    values = [rng.randbytes(rng.choice([1, 5, 31, 32, 33, 120])) for _ in range(count)]
    expected, _ = make_trie_root_and_nodes([Encoded(v) for v in values])
    assert ordered_trie_root(values) == expected


def test_empty_list_has_the_blank_root() -> None:
    assert ordered_trie_root([]) == BLANK_ROOT_HASH
