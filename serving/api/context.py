"""What every endpoint of the app shares, kept on `app.state.api`."""

from dataclasses import dataclass

from starlette.requests import Request
from transformers import PreTrainedTokenizerBase

from serving.api.config import ApiLimits
from serving.api.metrics import ApiMetrics
from serving.api.ports import Cashier, GenerationEngine, ModelCatalog
from serving.lora.manager import AdapterManager


@dataclass(frozen=True)
class ApiContext:
    engine: GenerationEngine
    catalog: ModelCatalog
    cashier: Cashier
    tokenizer: PreTrainedTokenizerBase
    adapters: AdapterManager
    limits: ApiLimits
    metrics: ApiMetrics

    @staticmethod
    def of(request: Request) -> "ApiContext":
        return request.app.state.api


def bearer_token(request: Request) -> str | None:
    """The key of `Authorization: Bearer <key>`, None without one (free models need none)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
