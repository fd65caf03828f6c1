"""Send an L1 transaction and see it through: nonce, fees, fee bumping, confirmations, reorgs.

The batcher and the proposer hand over calldata and get back a receipt that is
``confirmations`` blocks deep. On the way:

- **Nonces** are managed locally (the next one is ``max(local, pending count)``), so several
  sends from one account never collide, and a nonce is kept across resubmissions.
- **Fee bumping**: a transaction not mined after ``resubmit_after_s`` is re-signed with the same
  nonce and both fee caps raised by ``bump_percent`` (at least 10 %, geth's and anvil's
  replacement rule) or to the market price, whichever is higher, and sent again. Every hash
  ever sent is watched, because any of them may be the one that gets mined.
- **Reorgs**: a receipt counts only while its block is still canonical; if an L1 reorg drops
  it, the transaction is sent again (same nonce while that nonce is free, else a new one).

``on_broadcast(nonce, tx_hash)`` is called *before* each broadcast so that a caller can persist
what might be on L1 and :meth:`TxManager.send` can resume after a crash (``resume``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from openledger.l1.client import L1Client, L1Receipt
from openledger.l1.exceptions import L1TransactionFailed, L1Unavailable

log = logging.getLogger(__name__)

MIN_BUMP_PERCENT = 10
GAS_HEADROOM_PERCENT = 20


@dataclass(frozen=True)
class TxManagerConfig:
    confirmations: int = 1
    """Depth a receipt's block must reach (1 = mined in the head)."""
    resubmit_after_s: float = 12.0
    """How long a sent transaction may stay unmined before it is bumped and re-sent."""
    bump_percent: int = MIN_BUMP_PERCENT
    poll_s: float = 0.25
    max_fee_cap: int = 10_000 * 10**9
    """Never bid more than this per gas (10,000 gwei): a runaway bump is a bug, not a price."""


@dataclass(frozen=True)
class Resume:
    """What a crashed caller had persisted about one send: its nonce and every hash broadcast."""

    nonce: int
    tx_hashes: tuple[bytes, ...]


@dataclass
class _Attempt:
    nonce: int
    max_fee: int
    tip: int
    hashes: list[bytes]
    sent_at: float


BroadcastHook = Callable[[int, bytes], None]


class TxManager:
    """Sends transactions for one account to one L1."""

    def __init__(
        self,
        client: L1Client,
        account: LocalAccount,
        config: TxManagerConfig = TxManagerConfig(),
        stop: threading.Event | None = None,
    ) -> None:
        if config.bump_percent < MIN_BUMP_PERCENT:
            raise ValueError(f"bump_percent must be at least {MIN_BUMP_PERCENT}")
        self.client = client
        self.account = account
        self.config = config
        self.stop = stop or threading.Event()
        self._nonce_lock = threading.Lock()
        self._next_nonce: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _allocate_nonce(self) -> int:
        with self._nonce_lock:
            pending = self.client.nonce(self.address, "pending")
            nonce = max(pending, self._next_nonce or 0)
            self._next_nonce = nonce + 1
            return nonce

    def send(
        self,
        to: str,
        data: bytes,
        *,
        on_broadcast: BroadcastHook | None = None,
        resume: Resume | None = None,
    ) -> L1Receipt:
        """Send ``data`` to ``to`` and return its receipt once ``confirmations`` deep.

        Raises :class:`L1TransactionFailed` if it reverts; retries through L1 outages until
        ``stop`` is set (then raises :class:`L1Unavailable`).
        """
        to = to_checksum_address(to)
        gas = self._estimate(to, data)
        hashes: list[bytes] = list(resume.tx_hashes) if resume else []
        attempt: _Attempt | None = None
        if resume is not None:
            # Fees unknown: the first round "bumps" from zero, i.e. starts at the market price.
            attempt = _Attempt(resume.nonce, 0, 0, hashes, 0.0)
            with self._nonce_lock:
                self._next_nonce = max(self._next_nonce or 0, resume.nonce + 1)
        while True:
            if self.stop.is_set():
                raise L1Unavailable("stopped while sending")
            try:
                receipt = self._mined(hashes)
                if receipt is not None:
                    depth = self.client.confirmations(receipt)
                    if depth >= self.config.confirmations:
                        return self._check(receipt)
                    if depth > 0:
                        self.stop.wait(self.config.poll_s)
                        continue
                if attempt is None or self._nonce_taken(attempt):
                    attempt = self._fresh_attempt(hashes)
                    self._broadcast(attempt, to, data, gas, on_broadcast)
                elif time.monotonic() - attempt.sent_at >= self.config.resubmit_after_s:
                    self._bump(attempt)
                    self._broadcast(attempt, to, data, gas, on_broadcast)
            except L1Unavailable as exc:
                log.warning("L1 send to %s: %s; retrying", to, exc)
            self.stop.wait(self.config.poll_s)

    def _estimate(self, to: str, data: bytes) -> int:
        estimate = self.client.estimate_gas({"from": self.address, "to": to, "data": data})
        return estimate * (100 + GAS_HEADROOM_PERCENT) // 100

    def _mined(self, hashes: Sequence[bytes]) -> L1Receipt | None:
        for tx_hash in hashes:
            receipt = self.client.receipt(tx_hash)
            if receipt is not None:
                return receipt
        return None

    def _nonce_taken(self, attempt: _Attempt) -> bool:
        """The attempt's nonce was used by a transaction that is not one of ours (none of our
        hashes is mined): sending it again would fail, so a new nonce is needed."""
        if self.client.nonce(self.address, "latest") <= attempt.nonce:
            return False
        return self._mined(attempt.hashes) is None  # ours may have been mined just now

    def _market_fees(self) -> tuple[int, int]:
        tip = max(self.client.max_priority_fee(), 1)
        base = self.client.head().base_fee
        return 2 * base + tip, tip

    def _fresh_attempt(self, hashes: list[bytes]) -> _Attempt:
        max_fee, tip = self._market_fees()
        return _Attempt(self._allocate_nonce(), max_fee, tip, hashes, 0.0)

    def _bump(self, attempt: _Attempt) -> None:
        """Raise both caps by ``bump_percent`` (rounded up, plus one wei) or to market."""
        market_max, market_tip = self._market_fees()
        factor = 100 + self.config.bump_percent
        tip = max(-(-attempt.tip * factor // 100) + 1, market_tip)
        max_fee = max(-(-attempt.max_fee * factor // 100) + 1, market_max, tip)
        if max_fee > self.config.max_fee_cap:
            raise L1TransactionFailed(
                f"fee bump to {max_fee} wei/gas exceeds the cap {self.config.max_fee_cap}"
            )
        log.info(
            "bumping L1 tx nonce=%d: max fee %d -> %d, tip %d -> %d",
            attempt.nonce,
            attempt.max_fee,
            max_fee,
            attempt.tip,
            tip,
        )
        attempt.max_fee, attempt.tip = max_fee, tip

    def _broadcast(
        self,
        attempt: _Attempt,
        to: str,
        data: bytes,
        gas: int,
        on_broadcast: BroadcastHook | None,
    ) -> None:
        tx = {
            "type": 2,
            "chainId": self.client.chain_id(),
            "nonce": attempt.nonce,
            "to": to,
            "value": 0,
            "data": data,
            "gas": gas,
            "maxFeePerGas": attempt.max_fee,
            "maxPriorityFeePerGas": attempt.tip,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = bytes(keccak(signed.raw_transaction))
        attempt.sent_at = time.monotonic()
        if tx_hash not in attempt.hashes:
            attempt.hashes.append(tx_hash)
            if on_broadcast is not None:
                on_broadcast(attempt.nonce, tx_hash)
        try:
            self.client.send_raw(signed.raw_transaction)
        except L1Unavailable as exc:
            message = str(exc).lower()
            if "already known" in message or "already imported" in message:
                return
            if "underpriced" in message or "fee too low" in message:
                # A pending transaction with this nonce outbids us (one sent before a crash):
                # bump on the next round instead of waiting for the resubmission timeout.
                attempt.sent_at = 0.0
                return
            if "nonce too low" in message:
                return  # the next round finds our receipt or picks a new nonce
            raise
        log.info("sent L1 tx 0x%s nonce=%d to %s", tx_hash.hex(), attempt.nonce, to)

    def _check(self, receipt: L1Receipt) -> L1Receipt:
        if receipt.status != 1:
            raise L1TransactionFailed(
                f"L1 transaction 0x{receipt.tx_hash.hex()} reverted in block {receipt.block_number}"
            )
        return receipt
