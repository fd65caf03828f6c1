"""On-chain reads authorization needs, cached for a moment.

Every paid request needs the session's state (spent, revoked, bound digest) and the user's
prepaid balance; a burst from one key would otherwise cost two `eth_call`s per request. Values
are kept `ttl_s` seconds and returned with the monotonic time their read *started*, which is
what `PendingBook` needs to know which settlements they may not show yet. Reads run outside the
lock, so one slow read never holds up requests of other users.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from openledger.contracts.payments import PaymentsClient, SessionState
from openledger.types import Wei

V = TypeVar("V")
MAX_ENTRIES = 10_000
"""Past this, expired entries are dropped on the next insert."""


class CachedReads:
    def __init__(self, payments: PaymentsClient, ttl_s: float) -> None:
        self.payments = payments
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[Any, float]] = {}

    def balance(self, user: str) -> tuple[Wei, float]:
        """(prepaid balance, monotonic time the read started)."""
        return self._get(("balance", user), lambda: self.payments.balance_of(user))

    def session(self, user: str, nonce: int) -> tuple[SessionState, float]:
        """(spent / revoked / bound digest of `user`'s `nonce`, time the read started)."""
        return self._get(("session", user, nonce), lambda: self.payments.session_state(user, nonce))

    def _get(self, key: Hashable, read: Callable[[], V]) -> tuple[V, float]:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[1] < self.ttl_s:
            return hit
        value = read()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                for stale in [k for k, (_, at) in self._entries.items() if now - at >= self.ttl_s]:
                    del self._entries[stale]
            self._entries[key] = (value, now)
        return value, now
