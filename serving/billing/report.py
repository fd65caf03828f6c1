"""What `GET /v1/attribution/<response id>` answers: who was credited for one paid answer.

Built from the cashier's ledger (the record, its settlement, the scores and weights decided for
it) and the DatanetRegistry (who contributed each contribution). Every contribution the method
scored is listed, paid or not, so a contributor can see a negative influence that earned
nothing, as the attribution rule promises; amounts are decimal strings of wei.
"""

from __future__ import annotations

import threading
from typing import Any

from openledger.contracts.datanets import DatanetRegistryClient
from serving.billing.cashier import OperatorCashier


class AttributionReports:
    def __init__(self, cashier: OperatorCashier, datanets: DatanetRegistryClient) -> None:
        self.cashier = cashier
        self.datanets = datanets
        self._contributors: dict[int, str] = {}
        self._lock = threading.Lock()

    def report(self, response_id: str) -> dict[str, Any] | None:
        """The attribution of a response, or None for an id this service never issued."""
        record = self.cashier.lookup(response_id)
        if record is None:
            return None
        credit = self.cashier.credit(response_id)
        weights = dict(zip(record.contribution_ids, record.weights, strict=True))
        scores = credit.scores if credit is not None else {}
        listed = sorted(set(scores) | set(weights))
        contributions = [
            {
                "contribution_id": cid,
                "contributor": self._contributor(cid),
                "score": scores.get(cid),
                "weight": weights.get(cid, 0),
            }
            for cid in listed
        ]
        contributions.sort(key=lambda c: (-c["weight"], -(c["score"] or 0.0), c["contribution_id"]))
        return {
            "object": "attribution",
            "response_id": record.response_id,
            "model": f"adapter-{record.adapter_id}",
            "status": record.status.value,
            "method": None if credit is None else credit.method,
            "basis": None if credit is None else credit.basis.value,
            "contributions": contributions,
            "settlement": {
                "tx_hash": None if record.tx_hash is None else "0x" + record.tx_hash.hex(),
                "inference_id": record.inference_id,
                "fee": None if record.fee is None else str(record.fee),
                "error": record.error,
            },
        }

    def _contributor(self, contribution_id: int) -> str:
        """A contribution's contributor never changes: read once."""
        with self._lock:
            known = self._contributors.get(contribution_id)
        if known is None:
            known = self.datanets.contribution(contribution_id).contributor
            with self._lock:
                self._contributors[contribution_id] = known
        return known
