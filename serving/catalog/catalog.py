"""`ModelCatalog` over the ModelRegistry: the base model and its servable adapters.

Which base model: the operator names the on-chain base model id its engine runs
(`base_model_id`); only adapters registered for that id are offered, since an adapter trained on
other weights would load into the slots and silently produce nonsense. With
`base_weights_sha256` the catalogue also refuses to start when the local base weights are not
the ones registered under that id.

Which adapters: every non-deprecated adapter of that base model whose weights this machine
holds (`WeightsSource`, by the on-chain hash) and whose weights file really hashes to the
on-chain `weightsHash` (`AdapterManager.register(expected_sha256=...)`). An adapter failing that
check is never served and stays listed in `refused()`; one whose weights are not here (yet) is
in `missing()` and retried at every refresh.

Names: an adapter's card id is `adapter-<on-chain id>` (also its id in the AdapterManager); its
on-chain `uri` is an alias. Anyone can register an adapter with any uri, so an alias belongs to
the earliest registered adapter that is served under it: a later registration can never take
over a name users already call.

Refreshing runs in its own thread; requests read an immutable snapshot that the refresh swaps
in whole, so they never wait on the chain.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Self

from openledger.contracts.models import Adapter, ModelRegistryClient
from serving.api.ports import ModelCard, UnknownModel
from serving.catalog.feed import RegistryFeed
from serving.catalog.weights import ContentStore, WeightsSource
from serving.exceptions import ServingError
from serving.lora.manager import AdapterHashMismatch, AdapterManager
from serving.lora.slots import AdapterError

log = logging.getLogger(__name__)

ADAPTER_PREFIX = "adapter-"
DEFAULT_REFRESH_S = 5.0


class CatalogError(ServingError):
    """The configured base model is not the one registered on chain."""


def adapter_card_id(adapter_id: int) -> str:
    """`adapter-<id>`: what clients pass as `model` for on-chain adapter `adapter_id`."""
    return f"{ADAPTER_PREFIX}{adapter_id}"


@dataclass(frozen=True)
class _Snapshot:
    cards: MappingProxyType[str, ModelCard]
    """Card id -> card, base model first, then adapters by on-chain id."""
    aliases: MappingProxyType[str, str]
    """Alias -> card id."""


class OnChainCatalog:
    """The models this service offers, as the ModelRegistry and the local weights allow."""

    def __init__(
        self,
        models: ModelRegistryClient,
        manager: AdapterManager,
        base_model_id: int,
        weights: WeightsSource | None = None,
        base_weights_sha256: str | None = None,
        refresh_s: float = DEFAULT_REFRESH_S,
    ) -> None:
        self.models_client = models
        self.manager = manager
        self.base_model_id = base_model_id
        self.weights = weights if weights is not None else ContentStore(manager.store)
        self.refresh_s = refresh_s
        self._feed = RegistryFeed(models)
        base = models.base_model(base_model_id)
        if base_weights_sha256 is not None:
            expected = base_weights_sha256.lower().removeprefix("0x")
            if base.weights_hash.hex() != expected:
                raise CatalogError(
                    f"base model {base_model_id} ({base.name!r}) is registered with weights "
                    f"0x{base.weights_hash.hex()}, the local weights hash to 0x{expected}"
                )
        self._base_card = ModelCard(base.name, base.owner, 0, None, None, 0)
        self._adapters: dict[int, Adapter] = {}
        self._served: set[int] = set()
        self._refused: dict[int, str] = {}
        self._missing: dict[int, str] = {}
        self._snapshot = _Snapshot(MappingProxyType({}), MappingProxyType({}))
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ModelCatalog

    def models(self) -> list[ModelCard]:
        return list(self._snapshot.cards.values())

    def resolve(self, model: str) -> ModelCard:
        snapshot = self._snapshot
        card = snapshot.cards.get(model) or snapshot.cards.get(snapshot.aliases.get(model, ""))
        if card is None:
            raise UnknownModel(f"the model {model!r} does not exist")
        return card

    # Reports

    def refused(self) -> dict[int, str]:
        """On-chain adapter id -> why it is never served (its weights fail the hash check)."""
        with self._refresh_lock:
            return dict(self._refused)

    def missing(self) -> dict[int, str]:
        """On-chain adapter id -> why it is not served yet (no weights here); retried."""
        with self._refresh_lock:
            return dict(self._missing)

    # Refreshing

    def refresh(self) -> None:
        """Read what changed on chain, register newly servable adapters, swap the snapshot."""
        with self._refresh_lock:
            for adapter_id in sorted(self._feed.poll()):
                adapter = self.models_client.adapter(adapter_id)
                if adapter.base_model_id == self.base_model_id:
                    self._adapters[adapter_id] = adapter
            for adapter in self._adapters.values():
                if not adapter.deprecated and adapter.adapter_id not in self._refused:
                    self._try_serve(adapter)
            self._snapshot = self._build_snapshot()

    def start(self) -> Self:
        """Refresh once (errors reach the caller), then keep refreshing in a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="catalog-refresh", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:  # the node may be down for a while: keep the last snapshot
                log.exception("catalogue refresh failed; serving the previous catalogue")

    # Internals; the refresh lock is held.

    def _try_serve(self, adapter: Adapter) -> None:
        adapter_id = adapter.adapter_id
        if adapter_id in self._served:
            return
        sha256_hex = adapter.weights_hash.hex()
        path = self.weights.locate(sha256_hex)
        if path is None:
            self._note_missing(adapter_id, f"no local weights with sha256 {sha256_hex}")
            return
        try:
            self.manager.register(adapter_card_id(adapter_id), path, expected_sha256=sha256_hex)
        except AdapterHashMismatch as exc:
            self._missing.pop(adapter_id, None)
            self._refused[adapter_id] = str(exc)
            log.warning("adapter %d refused, never served: %s", adapter_id, exc)
            return
        except AdapterError as exc:
            self._note_missing(adapter_id, str(exc))
            return
        self._missing.pop(adapter_id, None)
        self._served.add(adapter_id)
        log.info(
            "adapter %d (%s) served as %s", adapter_id, adapter.uri, adapter_card_id(adapter_id)
        )

    def _note_missing(self, adapter_id: int, reason: str) -> None:
        if self._missing.get(adapter_id) != reason:  # one log line per change, not per refresh
            log.warning("adapter %d not served yet: %s", adapter_id, reason)
        self._missing[adapter_id] = reason

    def _build_snapshot(self) -> _Snapshot:
        base_created = self._feed.base_created.get(self.base_model_id, 0)
        base = replace(self._base_card, created=base_created)
        cards: dict[str, ModelCard] = {base.id: base}
        aliases: dict[str, str] = {}
        for adapter_id in sorted(self._served):
            adapter = self._adapters[adapter_id]
            if adapter.deprecated:
                continue
            card = ModelCard(
                id=adapter_card_id(adapter_id),
                owned_by=adapter.owner,
                created=self._feed.adapter_created.get(adapter_id, 0),
                adapter_id=adapter_card_id(adapter_id),
                onchain_id=adapter_id,
                price_per_call=int(adapter.price_per_call),
            )
            cards[card.id] = card
            if adapter.uri and adapter.uri not in cards:
                aliases.setdefault(adapter.uri, card.id)
        return _Snapshot(MappingProxyType(cards), MappingProxyType(aliases))
