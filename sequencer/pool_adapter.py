"""The sequencer's answer to :class:`node.txpool.TransactionPool`: the mempool plus a wake-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas

from node.chain import Chain
from node.transactions import AdmittedTransaction
from sequencer.mempool import Mempool


class SequencerPool:
    """Admits transactions into the local mempool and wakes the block producer."""

    def __init__(self, chain: Chain, mempool: Mempool, on_admitted: Callable[[], None]) -> None:
        self._chain = chain
        self._mempool = mempool
        self._on_admitted = on_admitted

    def next_base_fee(self) -> int:
        return calculate_expected_base_fee_per_gas(self._chain.head)

    def submit(self, raw: bytes) -> AdmittedTransaction:
        admitted = self._mempool.add(raw, self.next_base_fee())
        self._on_admitted()
        return admitted

    def pending_nonce(self, address: bytes) -> int:
        return self._mempool.pending_nonce(address)

    def get(self, tx_hash: bytes) -> AdmittedTransaction | None:
        return self._mempool.get(tx_hash)

    def status(self) -> tuple[int, int]:
        return self._mempool.status()

    def content(self) -> dict[str, dict[bytes, dict[int, AdmittedTransaction]]]:
        return self._mempool.content()

    def subscribe(self, listener: Callable[[AdmittedTransaction], Any]) -> None:
        self._mempool.subscribe(listener)
