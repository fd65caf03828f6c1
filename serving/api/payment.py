"""One request's charge, from authorisation to settlement, and the hashes that identify it.

The cashier may talk to the chain, so its calls run in worker threads. Settlement and refund
happen exactly once: `record` after a complete answer, `cancel` otherwise (failure, client gone),
even when the request's task is being cancelled.

Hashes (keccak256, as the contracts use):

- request hash: of the canonical JSON `{"id": <provisional response id>, "request": <request
  body as sent>}`; the provisional id (the `cmpl-`/`chatcmpl-` uuid) makes every request unique,
  even two identical bodies;
- output hash: of the canonical JSON array of the choices' texts, in choice order.

Canonical JSON is UTF-8 with sorted keys, no insignificant whitespace and no `\\u` escapes of
non-ASCII characters (`json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`).
"""

import json
import logging
from typing import Any

import anyio
from eth_utils import keccak
from starlette.concurrency import run_in_threadpool

from serving.api.ports import AnsweredChoice, Cashier, Charge, ModelCard

log = logging.getLogger("serving.api")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_hash(provisional_id: str, body: Any) -> bytes:
    return keccak(canonical_json({"id": provisional_id, "request": body}))


def output_hash(texts: list[str]) -> bytes:
    return keccak(canonical_json(texts))


class Payment:
    """The charge of one request (None when it is free) and whether it has been settled."""

    def __init__(self, cashier: Cashier, card: ModelCard, charge: Charge | None) -> None:
        self.cashier = cashier
        self.card = card
        self.charge = charge
        self._settled = charge is None

    @classmethod
    async def authorize(cls, cashier: Cashier, api_key: str | None, card: ModelCard) -> "Payment":
        """Reserve the price; raises `Unauthorized` or `PaymentRequired`."""
        return cls(cashier, card, await run_in_threadpool(cashier.authorize, api_key, card))

    async def record(self, provisional_id: str, body: Any, choices: list[AnsweredChoice]) -> str:
        """Settle a complete answer; return the response id (the provisional one if free)."""
        if self.charge is None:
            return provisional_id
        response_id = await run_in_threadpool(
            self.cashier.record,
            self.charge,
            self.card,
            request_hash(provisional_id, body),
            output_hash([choice.text for choice in choices]),
            choices,
        )
        self._settled = True
        return response_id

    async def cancel(self) -> None:
        """Give the reservation back unless it was recorded; never raises, never interrupted."""
        if self._settled:
            return
        self._settled = True
        with anyio.CancelScope(shield=True):
            try:
                await run_in_threadpool(self.cashier.cancel, self.charge)
            except Exception:
                log.exception("cashier could not cancel the charge of %s", self.charge)
