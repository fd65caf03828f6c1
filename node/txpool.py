"""What the RPC layer needs from a transaction pool, declared by its consumer.

The sequencer's mempool provides it; a full node (later) provides one that forwards to the
sequencer. ``node`` never imports ``sequencer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from node.transactions import AdmittedTransaction


class TransactionPool(Protocol):
    def submit(self, raw: bytes) -> AdmittedTransaction:
        """Admit a raw transaction or raise ``InvalidTransaction`` with geth's message."""
        ...

    def pending_nonce(self, address: bytes) -> int: ...

    def get(self, tx_hash: bytes) -> AdmittedTransaction | None: ...

    def status(self) -> tuple[int, int]:
        """(pending, queued) counts."""
        ...

    def content(self) -> dict[str, dict[bytes, dict[int, AdmittedTransaction]]]:
        """``{"pending": {sender: {nonce: tx}}, "queued": {...}}``."""
        ...

    def subscribe(self, listener: Callable[[AdmittedTransaction], Any]) -> None:
        """Call ``listener`` with each newly admitted transaction."""
        ...
