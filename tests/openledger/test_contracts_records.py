"""Artifacts, deployment records and the rollup config: file and wire shapes, no chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openledger.contracts.artifacts import load_artifact, parse_artifact
from openledger.contracts.deploy import Deployment, load_deployment, save_deployment
from openledger.contracts.exceptions import ArtifactError, NotDeployed, RpcFailed
from openledger.contracts.rollup import parse_rollup_config

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_artifact_round_trip(tmp_path: Path) -> None:
    (tmp_path / "Thing.json").write_text(
        json.dumps({"abi": [], "bytecode": "0x6001", "deployedBytecode": "0x00"})
    )
    artifact = load_artifact("Thing", tmp_path)
    assert (artifact.name, artifact.bytecode, artifact.deployed_bytecode) == (
        "Thing",
        b"\x60\x01",
        b"\x00",
    )


def test_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"compile\.mjs"):
        load_artifact("Nothing", tmp_path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"bytecode": "0x00"}, "no abi"),
        ({"abi": [], "bytecode": "6001"}, "0x-prefixed"),
        ({"abi": [], "bytecode": "0xzz"}, "not valid hex"),
        ({"abi": [], "bytecode": "0x"}, "empty bytecode"),
    ],
)
def test_malformed_artifacts(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        parse_artifact("X", raw, Path("X.json"))


def test_deployment_record_round_trip(tmp_path: Path) -> None:
    record = tmp_path / "contracts.json"
    assert load_deployment(record) is None
    deployment = Deployment(901, {"DatanetRegistry": ADDRESS})
    save_deployment(record, deployment)
    assert load_deployment(record) == deployment
    assert json.loads(record.read_text())["version"] == 1
    assert not (tmp_path / "contracts.json.tmp").exists()


def test_unreadable_record_means_redeploy(tmp_path: Path) -> None:
    record = tmp_path / "contracts.json"
    record.write_text("{not json")
    assert load_deployment(record) is None
    record.write_text(json.dumps({"chainId": 901}))
    assert load_deployment(record) is None


def test_rollup_config_parsing() -> None:
    config = parse_rollup_config(
        {"chainId": "0x385", "l2Contracts": {"DatanetRegistry": ADDRESS.lower()}}
    )
    assert config.chain_id == 901
    assert config.address("DatanetRegistry") == ADDRESS
    with pytest.raises(NotDeployed, match="no ModelRegistry contract"):
        config.address("ModelRegistry")
    with pytest.raises(RpcFailed, match="malformed"):
        parse_rollup_config({"l2Contracts": {}})
