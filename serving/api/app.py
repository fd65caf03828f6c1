"""`build_app`: the OpenAI-compatible ASGI app of the AI service.

Routes::

    GET  /v1/models             the catalogue
    POST /v1/completions        text completions (streamed with "stream": true)
    POST /v1/chat/completions   chat completions (streamed with "stream": true)
    POST /v1/adapters           upload a LoRA adapter (multipart)
    POST /v1/contributions      store a Datanet contribution's bytes (with a content store)
    GET  /v1/contributions/<h>  read them back by sha256
    GET  /health                liveness
    GET  /metrics               Prometheus

Middleware, outermost first: access log and request metrics, body size limit, in-flight limit.
"""

from collections.abc import Mapping, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from transformers import PreTrainedTokenizerBase

from serving.api.adapters import upload_adapter
from serving.api.completions import create_chat_completion, create_completion
from serving.api.config import ApiLimits
from serving.api.context import ApiContext
from serving.api.errors import handle_errors, http_exception
from serving.api.metrics import ApiMetrics
from serving.api.middleware import AccessLog, BodyLimit, InFlight, InFlightLimit
from serving.api.ports import Cashier, GenerationEngine, ModelCatalog
from serving.api.routes import health, list_models, metrics
from serving.factory.data.routes import CONTRIBUTIONS_PATH, contribution_routes, multipart_limit
from serving.factory.data.store import ContributionStore
from serving.lora.manager import AdapterManager

GENERATION_ROUTES = frozenset({"/v1/completions", "/v1/chat/completions"})
UPLOAD_ROUTE = "/v1/adapters"


def build_app(
    engine: GenerationEngine,
    catalog: ModelCatalog,
    cashier: Cashier,
    tokenizer: PreTrainedTokenizerBase,
    adapters: AdapterManager,
    *,
    limits: ApiLimits,
    metrics_registry: ApiMetrics | None = None,
    contributions: ContributionStore | None = None,
    extra_routes: Sequence[Route] = (),
    extra_body_limits: Mapping[str, int] | None = None,
) -> Starlette:
    """The app; `app.state.api.metrics` (or the `metrics_registry` passed in) takes the
    engine's and adapter manager's gauges via `add_gauge`."""
    registry = metrics_registry or ApiMetrics()
    in_flight = InFlight(limits.max_in_flight)
    registry.add_gauge(
        "openledger_api_requests_in_flight",
        "Generation requests being served.",
        lambda: in_flight.count,
    )
    routes = [
        Route("/v1/models", handle_errors(list_models), methods=["GET"]),
        Route("/v1/completions", handle_errors(create_completion), methods=["POST"]),
        Route("/v1/chat/completions", handle_errors(create_chat_completion), methods=["POST"]),
        Route(UPLOAD_ROUTE, handle_errors(upload_adapter), methods=["POST"]),
        Route("/health", handle_errors(health), methods=["GET"]),
        Route("/metrics", handle_errors(metrics), methods=["GET"]),
    ]
    body_limits = {UPLOAD_ROUTE: limits.max_upload_bytes, **(extra_body_limits or {})}
    if contributions is not None:
        routes += contribution_routes(contributions)
        body_limits[CONTRIBUTIONS_PATH] = multipart_limit(contributions)
    routes += extra_routes  # e.g. ModelFactory's fine-tuning jobs
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_exception},
        middleware=[
            Middleware(AccessLog, metrics=registry, routes=frozenset(r.path for r in routes)),
            Middleware(
                BodyLimit,
                default=limits.max_body_bytes,
                by_path=body_limits,
            ),
            Middleware(InFlightLimit, in_flight=in_flight, paths=GENERATION_ROUTES),
        ],
    )
    app.state.api = ApiContext(engine, catalog, cashier, tokenizer, adapters, limits, registry)
    return app
