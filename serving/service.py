"""The AI service assembled: engine + on-chain catalogue + cashier behind the OpenAI-style app.

`openledger serve` and the devnet both go through `build_service`, so what a test starts is what
an operator runs. The pieces meet only here; each can be built and tested alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette

from attribution.pool import DatanetPool
from attribution.source import ProofOfAttribution
from attribution.store import AttributionStore
from openledger.contracts.models import ModelRegistryClient
from serving.api.app import build_app
from serving.api.config import ApiLimits
from serving.billing import OperatorCashier, ensure_operator
from serving.billing.report import AttributionReports
from serving.billing.routes import attribution_routes
from serving.catalog import OnChainCatalog
from serving.chain import connect_contracts
from serving.engine.loader import EngineConfig, LoadedEngine, load_engine
from serving.exceptions import ServingError
from serving.factory.attribution import AttributionBuilder
from serving.factory.data.store import CONTRIBUTIONS_DIR, ContributionStore
from serving.factory.service import Factory, build_factory
from serving.lora.manager import sha256_file
from serving.web import web_routes

log = logging.getLogger(__name__)

BASE_WEIGHTS_FILE = "model.safetensors"
ATTRIBUTION_DIR = "attribution"
"""Each trained adapter's attribution data, under the service's data directory."""


class BaseModelNotRegistered(ServingError):
    """The served base model has no entry in the ModelRegistry, so no adapter can be offered."""


@dataclass(frozen=True)
class ServiceConfig:
    base_model: str
    """A local directory or a model name `from_pretrained` resolves."""
    rpc_url: str
    """The L2 node's JSON-RPC endpoint."""
    data_dir: Path
    """Adapter store and billing records live here."""
    operator_key: str
    """Key of the serving operator: settles inferences and holds the stake."""
    deployment: Path | None = None
    """A `contracts.json`; None asks the node (`openledger_rollupConfig`)."""
    base_model_id: int | None = None
    """The base model's ModelRegistry id; None finds it by weights hash, then by name."""
    device: str = "auto"
    dtype: str = "auto"
    max_active_adapters: int = 8
    max_host_adapters: int = 64
    max_rank: int = 64
    max_batch_size: int = 64
    threads: int | None = None
    """torch's intra-op threads (None: CPUs - 1 on the CPU; `serving.engine.loader`)."""
    limits: dict[str, int] = field(default_factory=dict)
    """Overrides of `ApiLimits` fields other than `max_model_len`."""
    refresh_s: float = 2.0
    fine_tune_price: int = 10**15
    """Price per call, in wei, of the adapters ModelFactory jobs register."""
    attribution_device: str = "cpu"
    """Where attribution features are built and answers scored (a copy of the base model per
    recently used adapter lives there)."""


@dataclass
class Service:
    app: Starlette
    loaded: LoadedEngine
    catalog: OnChainCatalog
    cashier: OperatorCashier
    factory: Factory

    def close(self) -> None:
        """Stop training (a running job resumes at the next start), refreshing, settling what
        is queued, and the engine."""
        self.factory.close()
        self.catalog.close()
        self.cashier.close()
        self.loaded.engine.shutdown()


def local_weights_sha256(base_model: str) -> str | None:
    """sha256 of a local single-file base model's weights: what its ModelRegistry entry pins."""
    path = Path(base_model) / BASE_WEIGHTS_FILE
    return sha256_file(path) if path.is_file() else None


def find_base_model(
    models: ModelRegistryClient, base_model: str, weights_sha256: str | None
) -> int:
    """The registry id of the served base model: same weights if known, else the same name."""
    registered = models.base_models()
    if weights_sha256 is not None:
        for entry in registered:
            if entry.weights_hash.hex() == weights_sha256:
                return entry.base_model_id
    names = {base_model, Path(base_model).name}
    for entry in registered:
        if entry.name in names:
            return entry.base_model_id
    raise BaseModelNotRegistered(
        f"no base model in the ModelRegistry matches {base_model!r} "
        f"(weights sha256 {weights_sha256 or 'unknown'}); register it or pass --base-model-id"
    )


def build_service(config: ServiceConfig) -> Service:
    """Load the model, connect to the chain, and wire the app; threads start here."""
    chain = connect_contracts(config.rpc_url, config.deployment, config.operator_key)
    weights_sha256 = local_weights_sha256(config.base_model)
    base_model_id = config.base_model_id or find_base_model(
        chain.models, config.base_model, weights_sha256
    )
    status = ensure_operator(chain.payments)
    log.info("serving as operator %s with %d wei staked", status.address, status.stake)
    loaded = load_engine(
        EngineConfig(
            base_model=config.base_model,
            adapter_store=config.data_dir / "adapters",
            device=config.device,
            dtype=config.dtype,
            max_active_adapters=config.max_active_adapters,
            max_host_adapters=config.max_host_adapters,
            max_rank=config.max_rank,
            max_batch_size=config.max_batch_size,
            threads=config.threads,
        )
    )
    catalog = OnChainCatalog(
        chain.models,
        loaded.adapters,
        base_model_id,
        base_weights_sha256=weights_sha256,
        refresh_s=config.refresh_s,
    ).start()
    pool = DatanetPool(chain.models, chain.datanets)
    attribution_data = AttributionStore(config.data_dir / ATTRIBUTION_DIR)
    proof = ProofOfAttribution(
        chain.models,
        pool,
        attribution_data,
        adapter_dir=lambda sha256: loaded.adapters.store / sha256,
        base_model=config.base_model,
        device=config.attribution_device,
    )
    cashier = OperatorCashier(
        chain.payments, pool, config.data_dir / "billing", attribution=proof
    ).start()
    limits = ApiLimits(max_model_len=loaded.engine.max_context, **config.limits)
    contributions = ContributionStore(config.data_dir / CONTRIBUTIONS_DIR)
    factory = build_factory(
        chain,
        catalog,
        contributions,
        config.base_model,
        base_model_id,
        loaded.engine.max_context,
        config.data_dir,
        config.fine_tune_price,
        cashier.identify,
        AttributionBuilder(attribution_data, device=config.attribution_device),
    )
    app = build_app(
        loaded.engine,
        catalog,
        cashier,
        loaded.tokenizer,
        loaded.adapters,
        limits=limits,
        contributions=contributions,
        extra_routes=[
            *factory.routes,
            *web_routes(chain),
            *attribution_routes(AttributionReports(cashier, chain.datanets)),
        ],
        extra_body_limits=factory.body_limits,
    )
    add_engine_gauges(app, loaded)
    factory.start()
    return Service(app, loaded, catalog, cashier, factory)


def add_engine_gauges(app: Starlette, loaded: LoadedEngine) -> None:
    """Engine and adapter-cache figures on `/metrics`, read when scraped."""
    metrics = app.state.api.metrics
    stats, adapters = loaded.engine.stats, loaded.adapters
    gauges = {
        "openledger_engine_running_sequences": ("Sequences in the running batch.", "running"),
        "openledger_engine_waiting_sequences": ("Sequences waiting to join.", "waiting"),
        "openledger_engine_steps_total": ("Decoding steps run.", "steps"),
        "openledger_engine_generated_tokens_total": ("Tokens generated.", "generated_tokens"),
        "openledger_engine_prompt_tokens_total": ("Prompt tokens prefilled.", "prompt_tokens"),
    }
    for name, (help_text, attribute) in gauges.items():
        metrics.add_gauge(name, help_text, lambda a=attribute: getattr(stats, a))
    metrics.add_gauge(
        "openledger_adapters",
        "Adapters per tier: device slots, host memory only, and all servable ones.",
        lambda: {
            "device": len(adapters.resident()),
            "host": len(adapters.in_host()),
            "registered": len(adapters.registered()),
        },
        label="tier",
    )
    metrics.add_gauge(
        "openledger_adapter_moves_total",
        "Adapter cache traffic: evictions from the device and reads from disk.",
        lambda: {"evictions": adapters.stats.evictions, "disk_loads": adapters.stats.disk_loads},
        label="kind",
    )
