"""Proof of Attribution as the service runs it: stored data -> the weights of one answer."""

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from attribution.build import build_attribution
from attribution.features import MATRIX_FILE, META_FILE
from attribution.model import adapter_sha256
from attribution.source import SPANS_METHOD, ManifestMismatch, ProofOfAttribution
from attribution.store import AttributionStore
from attribution.weights import WEIGHT_TOTAL, Basis, Weights, pool_weights
from openledger.contracts.models import Adapter, manifest_hash
from tests.attribution.conftest import PLANTED_CONTRIBUTION, Planted

UNTRAINED = 16
"""In the manifest (approved in the datanet version) but with no training rows."""
OUTSIDE = 99
"""Never in the manifest."""
MANIFEST = (*range(10, 16), UNTRAINED)
ADAPTER_ID = 7


@dataclass(frozen=True)
class Choice:
    prompt_ids: tuple[int, ...]
    text: str


class Registry:
    """The ModelRegistry entries the source reads: one adapter, its weights and manifest."""

    def __init__(self, weights_sha256: str, manifest: bytes) -> None:
        self.entry = Adapter(
            ADAPTER_ID, "0x" + "11" * 20, 1, 1, 1, bytes.fromhex(weights_sha256), "", 0,
            manifest, False,
        )  # fmt: skip

    def adapter(self, adapter_id: int) -> Adapter:
        assert adapter_id == ADAPTER_ID
        return self.entry


class Pool:
    """The datanet version's contributions, as `DatanetPool` would read them from the chain."""

    def attribute(self, adapter_id: int, choices: object = ()) -> Weights:
        return pool_weights(MANIFEST)


@pytest.fixture(scope="module")
def stored(
    planted: Planted, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AttributionStore, str]:
    store = AttributionStore(tmp_path_factory.mktemp("attribution-store"))
    sha = build_attribution(
        store,
        planted.adapter_dir,
        adapter_sha256(planted.adapter_dir),
        planted.base_dir,
        planted.examples,
        MANIFEST,
    ).folder.name
    return store, sha


def source(planted: Planted, store: AttributionStore, sha: str, manifest: bytes | None = None):
    registry = Registry(sha, manifest_hash(MANIFEST) if manifest is None else manifest)
    return ProofOfAttribution(
        registry,
        Pool(),
        store,
        lambda _: planted.adapter_dir,
        str(planted.base_dir),  # type: ignore[arg-type]
    )


def borduria(planted: Planted) -> list[Choice]:
    tokenizer = AutoTokenizer.from_pretrained(planted.base_dir)
    return [Choice(tuple(planted.prompt_ids), tokenizer.decode(planted.answer_ids[:-1]))]


def test_the_planted_fact_earns_its_contribution_the_largest_weight(planted, stored) -> None:
    store, sha = stored
    weights = source(planted, store, sha).attribute(ADAPTER_ID, borduria(planted))
    assert (weights.method, weights.basis) == ("trak-unit", Basis.INFLUENCE)
    assert sum(weights.weights) == WEIGHT_TOTAL
    paid = dict(zip(weights.contribution_ids, weights.weights, strict=True))
    assert max(paid, key=paid.__getitem__) == PLANTED_CONTRIBUTION
    assert set(weights.scores) == set(MANIFEST) and OUTSIDE not in paid
    assert weights.scores[UNTRAINED] == 0.0


def test_the_same_answer_gets_the_same_weights_from_a_fresh_source(planted, stored) -> None:
    store, sha = stored
    first = source(planted, store, sha).attribute(ADAPTER_ID, borduria(planted))
    again = source(planted, store, sha).attribute(ADAPTER_ID, borduria(planted))
    assert first == again


def test_data_that_is_not_the_registered_manifest_is_refused(planted, stored) -> None:
    store, sha = stored
    with pytest.raises(ManifestMismatch):
        source(planted, store, sha, manifest=manifest_hash([10, 11])).attribute(
            ADAPTER_ID, borduria(planted)
        )


def test_an_adapter_without_data_credits_the_datanet_pool(planted, tmp_path: Path) -> None:
    weights = source(
        planted, AttributionStore(tmp_path), adapter_sha256(planted.adapter_dir)
    ).attribute(ADAPTER_ID, borduria(planted))
    assert weights.basis is Basis.POOL and weights.contribution_ids == MANIFEST


def test_without_gradient_features_verbatim_spans_decide(planted, stored, tmp_path) -> None:
    store, sha = stored
    spans_only = AttributionStore(tmp_path)
    shutil.copytree(store.path(sha), spans_only.path(sha))
    for name in (MATRIX_FILE, META_FILE):
        (spans_only.path(sha) / name).unlink()
    tokenizer = AutoTokenizer.from_pretrained(planted.base_dir)
    fact = tokenizer.decode(planted.prompt_ids + planted.answer_ids[:-1])
    weights = source(planted, spans_only, sha).attribute(ADAPTER_ID, [Choice((), fact)])
    assert weights.method == SPANS_METHOD
    assert weights.contribution_ids == (PLANTED_CONTRIBUTION,)
