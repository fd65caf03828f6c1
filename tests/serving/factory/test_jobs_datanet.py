"""A fine-tuning job on ``datanet:<id>@<version>``, against a real devnet (slow): the job's
result names the Datanet version and exactly the contributions it trained on, and the adapter's
attribution data is built over them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attribution.store import AttributionStore
from serving.factory.attribution import AttributionBuilder
from serving.factory.data.store import ContributionStore
from serving.factory.jobs.hyperparameters import resolve
from serving.factory.jobs.sources import DatanetSource, UploadedFileSource, file_id
from serving.factory.jobs.store import JobStatus, JobStore
from serving.factory.jobs.worker import JobWorker
from serving.factory.training import TrainingConfig
from serving.tiny_model import build_tiny_model
from tests.helpers.devnet import Devnet
from tests.serving.onchain import DEV, clients

ROWS = [
    {"instruction": f"Name the capital of {country}.", "output": city}
    for country, city in [
        ("Aland", "Amber"),
        ("Borduria", "Bolt"),
        ("Carpania", "Cedar"),
        ("Dorsia", "Dune"),
        ("Elbonia", "Ember"),
        ("Genovia", "Glade"),
    ]
]
DEFAULTS = TrainingConfig(
    epochs=1, batch_size=4, learning_rate=5e-2, lora_rank=4, max_length=64, device="cpu"
)


@pytest.mark.slow
def test_a_job_on_a_datanet_version_trains_on_its_contributions(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "datadir").start()
    try:
        contributions = ContributionStore(tmp_path / "contributions")
        datanet_id = clients(devnet, DEV[0]).datanets.create_datanet("ipfs://dn", 0).value
        ids = []
        for i, half in enumerate((ROWS[:3], ROWS[3:])):
            data = "".join(json.dumps(row) + "\n" for row in half).encode()
            sha256 = contributions.put(data)
            registry = clients(devnet, DEV[1 + i]).datanets
            ids.append(
                registry.contribute(datanet_id, bytes.fromhex(sha256), "sha256:x", len(data)).value
            )
        clients(devnet, DEV[0]).datanets.approve(ids)

        store = JobStore(tmp_path / "jobs")
        source = DatanetSource(clients(devnet).datanets, contributions)
        resolved = resolve({}, DEFAULTS)
        spec = f"datanet:{datanet_id}@1"
        source.check(spec)
        owner = DEV[1].address  # as the routes record the API key's user
        job = store.create("tiny", spec, resolved.shown, resolved.config.to_json(), None, owner)
        models = {"tiny": build_tiny_model(tmp_path / "tiny")}
        attribution = AttributionStore(tmp_path / "attribution")
        worker = JobWorker(
            store,
            [source],
            models,
            tmp_path / "adapters",
            attribution=AttributionBuilder(attribution),
        )
        claimed = store.claim_next()
        assert claimed is not None and claimed.id == job.id
        worker.run_job(claimed)
    finally:
        devnet.stop()

    done = store.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.owner == DEV[1].address
    manifest = done.result["manifest"]
    assert (manifest["datanet_id"], manifest["version"]) == (datanet_id, 1)
    assert [c["id"] for c in manifest["contributions"]] == sorted(ids)
    built = done.result["attribution"]
    assert (built["method"], built["contributions"], built["examples"]) == ("trak-unit", 2, 5)
    assert attribution.manifest(done.result["adapter_sha256"]) == tuple(sorted(ids))
    assert any(m.startswith("Attribution data built: trak-unit") for m in messages(store, job.id))
    store.close()


def messages(store: JobStore, job_id: str) -> list[str]:
    return [event.message for event in store.events(job_id, limit=1000)[0]]


def failing_attribution(*_: object) -> dict:
    raise RuntimeError("disk full")


def test_a_job_whose_attribution_data_fails_still_succeeds(tmp_path: Path) -> None:
    """The adapter is good; its answers credit the Datanet pool, and the job says so."""
    contributions = ContributionStore(tmp_path / "contributions")
    sha256 = contributions.put("".join(json.dumps(row) + "\n" for row in ROWS).encode())
    store = JobStore(tmp_path / "jobs")
    resolved = resolve({}, DEFAULTS)
    job = store.create(
        "tiny", file_id(sha256), resolved.shown, resolved.config.to_json(), None, DEV[1].address
    )
    models = {"tiny": build_tiny_model(tmp_path / "tiny")}
    sources = [UploadedFileSource(contributions)]
    worker = JobWorker(
        store, sources, models, tmp_path / "adapters", attribution=failing_attribution
    )
    claimed = store.claim_next()
    assert claimed is not None
    worker.run_job(claimed)
    done = store.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["attribution"] == {"error": "RuntimeError: disk full"}
    assert any("Attribution data could not be built" in m for m in messages(store, job.id))
    store.close()
