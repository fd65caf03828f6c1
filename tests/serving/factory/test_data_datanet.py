"""`datanet:<id>@<version>` to examples and manifest, against a real devnet (slow) — spec
parsing alone is fast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from openledger.contracts.models import manifest_hash
from serving.factory.data.datanet import DatanetSpec, DatanetSpecError, Dataset, load_dataset
from serving.factory.data.formats import DatasetError, Format, Message
from serving.factory.data.store import ContributionStore
from tests.helpers.devnet import Devnet
from tests.serving.onchain import DEV, clients

TEXT = b"The ledger remembers.\n\nEvery contribution counts.\n"
ALPACA = b'{"instruction": "Name the L2 token", "output": "OPEN"}\n'
CHAT = (
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "Who is paid?"},
                {"role": "assistant", "content": "The contributors."},
            ]
        }
    ).encode()
    + b"\n"
)


def test_specs_parse_and_print() -> None:
    assert DatanetSpec.parse("datanet:12@3") == DatanetSpec(12, 3)
    assert DatanetSpec.parse(" datanet:1@latest ") == DatanetSpec(1, None)
    assert str(DatanetSpec(1, None)) == "datanet:1@latest"
    assert str(DatanetSpec(12, 3)) == "datanet:12@3"
    for bad in (
        "datanet:1",
        "datanet:0@1",
        "datanet:1@0",
        "datanet:01@1",
        "dataset:1@1",
        "1@1",
        "datanet:1@-1",
        "datanet:1@LATEST",
        "datanet:1@1.0",
    ):
        with pytest.raises(DatanetSpecError):
            DatanetSpec.parse(bad)


@dataclass
class Chain:
    devnet: Devnet
    store: ContributionStore

    def contribute(self, datanet_id: int, account: LocalAccount, data: bytes) -> int:
        """Store the bytes, then register their sha256 on chain, as a contributor does."""
        sha256 = self.store.put(data)
        datanets = clients(self.devnet, account).datanets
        return datanets.contribute(
            datanet_id, bytes.fromhex(sha256), f"sha256:{sha256}", len(data)
        ).value

    def datanet(self, *contents: bytes) -> tuple[int, list[int]]:
        """A datanet of DEV[0] with one contribution per content (DEV[1], DEV[2], ...)."""
        datanet_id = clients(self.devnet, DEV[0]).datanets.create_datanet("ipfs://dn", 0).value
        ids = [self.contribute(datanet_id, DEV[1 + i], c) for i, c in enumerate(contents)]
        return datanet_id, ids

    def approve(self, ids: list[int]) -> int:
        return clients(self.devnet, DEV[0]).datanets.approve(ids).value.version

    def load(self, spec: str) -> Dataset:
        reader = clients(self.devnet).datanets
        return load_dataset(reader, self.store, DatanetSpec.parse(spec))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("factory-data")
    devnet = Devnet(root / "datadir").start()
    try:
        yield Chain(devnet, ContributionStore(root / "contributions"))
    finally:
        devnet.stop()


@pytest.mark.slow
def test_a_version_becomes_its_examples_and_manifest(chain: Chain) -> None:
    datanet_id, (text_id, alpaca_id, chat_id) = chain.datanet(TEXT, ALPACA, CHAT)
    assert chain.approve([chat_id, text_id, alpaca_id]) == 1  # leaf order is not id order
    later = chain.contribute(datanet_id, DEV[4], b"approved into version 2 only\n")
    assert chain.approve([later]) == 2

    dataset = chain.load(f"datanet:{datanet_id}@1")
    assert [
        (e.contribution_id, e.line, e.format, e.prompt, e.completion) for e in dataset.examples
    ] == [
        (text_id, 1, Format.TEXT, (), "The ledger remembers."),
        (text_id, 3, Format.TEXT, (), "Every contribution counts."),
        (alpaca_id, 1, Format.ALPACA, (Message("user", "Name the L2 token"),), "OPEN"),
        (chat_id, 1, Format.CHAT, (Message("user", "Who is paid?"),), "The contributors."),
    ]
    manifest = dataset.manifest
    version = clients(chain.devnet).datanets.version(datanet_id, 1)
    assert (manifest.datanet_id, manifest.version, manifest.merkle_root) == (
        datanet_id,
        1,
        version.merkle_root,
    )
    assert manifest.contribution_ids == (text_id, alpaca_id, chat_id)
    assert [e.format for e in manifest.entries] == [Format.TEXT, Format.ALPACA, Format.CHAT]
    assert [e.examples for e in manifest.entries] == [2, 1, 1]
    registry = clients(chain.devnet).datanets
    assert [e.content_hash for e in manifest.entries] == [
        registry.contribution(i).content_hash for i in (text_id, alpaca_id, chat_id)
    ]
    assert manifest.hash == manifest_hash([chat_id, alpaca_id, text_id])
    assert manifest.to_json()["manifest_hash"] == "0x" + manifest.hash.hex()

    split = dataset.split()
    assert len(split.held_out) == 1 and len(split.train) == 3
    assert split == chain.load(f"datanet:{datanet_id}@1").split()  # deterministic

    latest = chain.load(f"datanet:{datanet_id}@latest").manifest
    assert (latest.version, latest.contribution_ids) == (2, (text_id, alpaca_id, chat_id, later))


@pytest.mark.slow
def test_tampered_missing_and_bad_contributions_are_refused_by_name(chain: Chain) -> None:
    good = b"A good paragraph.\n"
    tampered = b"Bytes that will be altered on disk.\n"
    bad_rows = b'{"instruction": "ok", "output": "yes"}\n{"instruction": "no output"}\n'
    datanet_id, (good_id, tampered_id, bad_id) = chain.datanet(good, tampered, bad_rows)
    chain.approve([good_id, tampered_id, bad_id])
    sha256 = chain.store.put(tampered)
    chain.store.path(sha256).write_bytes(tampered.replace(b"altered", b"ALTERED"))

    with pytest.raises(DatasetError) as caught:
        chain.load(f"datanet:{datanet_id}@1")
    problems = {(p.contribution_id, p.line): p.reason for p in caught.value.problems}
    assert problems == {
        (tampered_id, None): f"stored bytes do not hash to the on-chain content hash 0x{sha256}",
        (bad_id, 2): "missing 'output'",
    }
    assert f"contribution {tampered_id}" in str(caught.value)

    chain.store.path(sha256).unlink()
    with pytest.raises(DatasetError, match=f"contribution {tampered_id}: no stored bytes"):
        chain.load(f"datanet:{datanet_id}@1")


@pytest.mark.slow
def test_specs_the_chain_cannot_resolve(chain: Chain) -> None:
    empty_id, _ = chain.datanet(b"pending only\n")
    with pytest.raises(DatanetSpecError, match="no approved version"):
        chain.load(f"datanet:{empty_id}@latest")
    with pytest.raises(DatanetSpecError, match="does not exist"):
        chain.load("datanet:999@1")
    datanet_id, ids = chain.datanet(b"one version\n")
    chain.approve(ids)
    with pytest.raises(DatanetSpecError, match="no version 2 \\(latest: 1\\)"):
        chain.load(f"datanet:{datanet_id}@2")
