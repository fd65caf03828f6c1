"""What the HTTP layer needs from the rest of the service, as protocols.

The app is assembled from an engine (token generation), a catalogue (which models exist and
which adapter a `model` name means) and a cashier (who pays for a request). Each has one real
implementation; the protocols keep the HTTP layer testable on its own and the seams visible.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from serving.engine.request import GenerationRequest, TokenEvent
from serving.exceptions import ServingError


class UnknownModel(ServingError):
    """No base model or registered adapter answers to this name (HTTP 404)."""


class Unauthorized(ServingError):
    """The API key is missing, malformed, badly signed, expired, or for another operator (401)."""


class PaymentRequired(ServingError):
    """The session's cap or the user's prepaid balance cannot cover the price (402)."""


class GenerationEngine(Protocol):
    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Tokens of `request` as they are produced; raises `UnknownAdapter`/`AdapterError`
        before the first event if the adapter cannot be served."""
        ...

    def abort(self, request_id: str) -> None:
        """Stop generating `request_id` (client went away or a stop string was found)."""
        ...


@dataclass(frozen=True)
class ModelCard:
    """One entry of `GET /v1/models`."""

    id: str
    """What clients pass as `model`: the base model's name, or `adapter-<on-chain id>`."""
    owned_by: str
    created: int
    """Unix time."""
    adapter_id: str | None
    """The engine's adapter id, None for the base model."""
    onchain_id: int | None
    """The ModelRegistry adapter id, None for the base model."""
    price_per_call: int
    """In wei; 0 for the base model."""


class ModelCatalog(Protocol):
    def models(self) -> list[ModelCard]: ...

    def resolve(self, model: str) -> ModelCard:
        """The card for `model` (its id or an alias); raises `UnknownModel`."""
        ...


@dataclass(frozen=True)
class Charge:
    """A request the cashier agreed to pay for; settled once the answer is complete."""

    user: str
    price: int
    """In wei."""
    session_key: str
    """Identifies the spending session the charge is made against."""


@dataclass(frozen=True)
class AnsweredChoice:
    """One choice of a paid answer, as attribution scores it."""

    prompt_ids: tuple[int, ...]
    """The prompt exactly as the model saw it (chat template applied)."""
    text: str
    """The text returned to the client (after stop strings), which the output hash covers."""


class Cashier(Protocol):
    def authorize(self, api_key: str | None, card: ModelCard) -> Charge | None:
        """Reserve the price of one call of `card` under `api_key`; None when it is free.

        Raises `Unauthorized` or `PaymentRequired`. A reservation is either settled with
        `record` or given back with `cancel`.
        """
        ...

    def record(
        self,
        charge: Charge,
        card: ModelCard,
        request_hash: bytes,
        output_hash: bytes,
        choices: Sequence[AnsweredChoice],
    ) -> str:
        """Queue the answered request for attribution and on-chain settlement; return its
        response id."""
        ...

    def cancel(self, charge: Charge) -> None:
        """Give back a reservation whose request produced no answer."""
        ...
