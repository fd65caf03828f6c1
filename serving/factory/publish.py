"""What a finished fine-tune becomes: an adapter in the store, on chain, and served at once.

The success hook of the job worker. The adapter is copied into the content-addressed store the
serving engine loads from, registered in the ModelRegistry by the operator with its weights
hash, Datanet version and training-manifest hash (Proof of Attribution reads what it learned
from there), transferred to the job's owner (the model builder, who then earns the owner share
of every paid call), and the catalogue is refreshed, so the next request can name it.

An adapter trained on an uploaded file (no Datanet version) is stored but not registered: the
registry records what a model was trained on, and an uploaded file is no Datanet version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openledger.contracts.models import ModelRegistryClient
from serving.catalog import ContentStore, OnChainCatalog, adapter_card_id
from serving.factory.data.manifest import TrainingManifest
from serving.factory.jobs.store import Job
from serving.factory.jobs.worker import fine_tuned_model_name
from serving.factory.training import TrainingResult

log = logging.getLogger(__name__)


class Publisher:
    def __init__(
        self,
        models: ModelRegistryClient,
        base_model_id: int,
        store: ContentStore,
        catalog: OnChainCatalog,
        price_per_call: int,
    ) -> None:
        self.models = models
        self.base_model_id = base_model_id
        self.store = store
        self.catalog = catalog
        self.price_per_call = price_per_call

    def __call__(
        self, job: Job, result: TrainingResult, manifest: TrainingManifest
    ) -> Mapping[str, Any]:
        digest = self.store.put(Path(result.adapter_dir))
        if manifest.datanet_id == 0:
            return {"registered": False, "sha256": digest, "reason": "trained on an uploaded file"}
        adapter_id = self.models.register_adapter(
            self.base_model_id,
            manifest.datanet_id,
            manifest.version,
            bytes.fromhex(digest),
            fine_tuned_model_name(job),
            self.price_per_call,
            manifest.hash,
        ).value
        owner = self.models.transactor.sender
        if job.owner is not None and job.owner.lower() != owner.lower():
            self.models.transfer(adapter_id, job.owner)
            owner = job.owner
        self.catalog.refresh()
        card = adapter_card_id(adapter_id)
        log.info(
            "fine-tuning job %s published as %s (sha256 %s), owned by %s",
            job.id,
            card,
            digest,
            owner,
        )
        return {
            "registered": True,
            "adapter_id": adapter_id,
            "model": card,
            "sha256": digest,
            "owner": owner,
        }
