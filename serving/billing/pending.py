"""What the cashier has promised but the chain does not show yet, per session and per user.

Authorization compares a price with on-chain numbers (session `spent`, prepaid balance) read a
moment ago and cached; the difference between those and the truth is exactly what this book
holds: reservations of requests still running, answered requests waiting for settlement, and
settlements that landed *after* the cached read was taken (until a newer read shows them).
Without the last part a settlement would briefly count twice in the user's favour: gone from
the book, not yet in the cached balance.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class _Landed:
    at: float
    """`time.monotonic()` when the receipt was seen."""
    session: bytes
    user: str
    amount: int


class PendingBook:
    """Thread-safe sums in wei; `horizon_s` must exceed the age of any cached read."""

    def __init__(self, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self._lock = threading.Lock()
        self._session: Counter[bytes] = Counter()
        self._user: Counter[str] = Counter()
        self._landed: list[_Landed] = []

    def reserve(self, session: bytes, user: str, amount: int) -> None:
        with self._lock:
            self._session[session] += amount
            self._user[user] += amount

    def release(self, session: bytes, user: str, amount: int) -> None:
        """The amount will never be charged (cancelled, refused, or a duplicate)."""
        with self._lock:
            self._drop(session, user, amount)

    def landed(self, session: bytes, user: str, amount: int) -> None:
        """The amount was charged on chain just now."""
        with self._lock:
            self._drop(session, user, amount)
            self._landed.append(_Landed(time.monotonic(), session, user, amount))

    def session_pending(self, session: bytes, read_at: float) -> int:
        """Promised against `session` and not in a read taken at `read_at` (monotonic)."""
        with self._lock:
            self._prune()
            late = sum(e.amount for e in self._landed if e.session == session and e.at > read_at)
            return self._session[session] + late

    def user_pending(self, user: str, read_at: float) -> int:
        with self._lock:
            self._prune()
            late = sum(e.amount for e in self._landed if e.user == user and e.at > read_at)
            return self._user[user] + late

    def _drop(self, session: bytes, user: str, amount: int) -> None:
        self._session[session] -= amount
        self._user[user] -= amount
        if self._session[session] <= 0:
            del self._session[session]
        if self._user[user] <= 0:
            del self._user[user]

    def _prune(self) -> None:
        oldest_read = time.monotonic() - self.horizon_s
        self._landed = [e for e in self._landed if e.at > oldest_read]
