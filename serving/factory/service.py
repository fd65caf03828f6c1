"""ModelFactory on the AI service: the jobs API, its queue and worker, and publishing results.

Built by `serving.service.build_service` next to the engine it feeds: a finished job's adapter
is registered on chain and the catalogue refreshed, so it answers under `adapter-<id>` at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.routing import Route

from serving.catalog import ContentStore, OnChainCatalog
from serving.chain import ChainClients
from serving.factory.attribution import AttributionBuilder
from serving.factory.data.routes import multipart_limit
from serving.factory.data.store import ContributionStore
from serving.factory.jobs.routes import FILES_PATH, Identify, file_routes, fine_tuning_routes
from serving.factory.jobs.sources import DatanetSource, UploadedFileSource
from serving.factory.jobs.store import JobStore
from serving.factory.jobs.worker import JobWorker
from serving.factory.publish import Publisher
from serving.factory.training import TrainingConfig

CHECKPOINT_EVERY = 20
"""Steps between checkpoints: what a job loses at most when the service dies mid-job."""


@dataclass
class Factory:
    routes: list[Route]
    body_limits: dict[str, int]
    worker: JobWorker
    jobs: JobStore

    def start(self) -> None:
        self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.jobs.close()


def build_factory(
    chain: ChainClients,
    catalog: OnChainCatalog,
    contributions: ContributionStore,
    base_model: str,
    base_model_id: int,
    max_context: int,
    data_dir: Path,
    price_per_call: int,
    identify: Identify,
    attribution: AttributionBuilder,
) -> Factory:
    """Jobs train the served base model, named as `/v1/models` names it; `identify` (the
    cashier's) says whose API key creates or cancels a job; `attribution` builds each trained
    adapter's Proof of Attribution data."""
    base_name = catalog.models()[0].id
    jobs = JobStore(data_dir / "jobs")
    sources = [UploadedFileSource(contributions), DatanetSource(chain.datanets, contributions)]
    publish = Publisher(
        chain.models, base_model_id, ContentStore(catalog.manager.store), catalog, price_per_call
    )
    base_models = {base_name: base_model}
    worker = JobWorker(
        jobs,
        sources,
        base_models,
        data_dir / "jobs" / "runs",
        on_success=publish,
        attribution=attribution,
    )
    defaults = TrainingConfig(max_length=min(512, max_context), checkpoint_every=CHECKPOINT_EVERY)
    routes = file_routes(contributions) + fine_tuning_routes(
        jobs, sources, base_models, defaults, worker.wake, identify
    )
    return Factory(routes, {FILES_PATH: multipart_limit(contributions)}, worker, jobs)
