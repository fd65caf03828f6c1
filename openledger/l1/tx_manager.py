"""Send an L1 transaction and see it through: nonce, fees, fee bumping, confirmations, reorgs.

The batcher and the proposer hand over calldata and get back a receipt that is
``confirmations`` blocks deep. On the way:

- **Nonces** are managed locally (the next one is ``max(local, pending count)``), so several
  sends from one account never collide, and a nonce is kept across resubmissions.
- **Fee bumping**: a transaction not mined after ``resubmit_after_s`` is re-signed with the same
  nonce and both fee caps raised by ``bump_percent`` (at least 10 %, geth's and anvil's
  replacement rule) or to the market price, whichever is higher, and sent again. Every hash
  ever sent is watched, because any of them may be the one that gets mined.
- **Blobs** (EIP-4844): ``send(to, b"", blobs=[...])`` sends a type-3 transaction carrying
  the blobs (commitments and proofs computed once, with ckzg) and a blob fee cap of twice the
  blob base fee (at least :data:`MIN_BLOB_FEE_CAP`). Its bumps raise all three caps by at least
  100 %, the replacement rule of geth's blob pool.
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
from typing import Any

import rlp
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from openledger.batch.blob import blob_versioned_hash, kzg_commitment, kzg_proof
from openledger.l1.client import L1Client, L1Receipt
from openledger.l1.exceptions import L1TransactionFailed, L1Unavailable

log = logging.getLogger(__name__)

MIN_BUMP_PERCENT = 10
MIN_BLOB_BUMP_PERCENT = 100
MIN_BLOB_FEE_CAP = 10**9
"""Never offer less than 1 gwei per blob gas (op-batcher's floor): a blob fee cap at the
1-wei minimum is outbid by the first blob-fee rise."""
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
    max_blob_fee_cap: int = 10_000 * 10**9
    """The same bound per blob gas."""


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
    blob_fee: int = 0


@dataclass(frozen=True)
class _Sidecar:
    """A blob transaction's blobs with their KZG commitments, proofs and versioned hashes."""

    blobs: tuple[bytes, ...]
    commitments: tuple[bytes, ...]
    proofs: tuple[bytes, ...]
    versioned_hashes: tuple[bytes, ...]

    @classmethod
    def of(cls, blobs: Sequence[bytes]) -> _Sidecar:
        commitments = tuple(kzg_commitment(blob) for blob in blobs)
        return cls(
            tuple(blobs),
            commitments,
            tuple(kzg_proof(b, c) for b, c in zip(blobs, commitments, strict=True)),
            tuple(blob_versioned_hash(blob) for blob in blobs),
        )

    def wrap(self, signed: bytes) -> bytes:
        """The network form of a signed type-3 transaction: ``0x03 || rlp([tx, blobs,
        commitments, proofs])`` (EIP-4844's pooled form, as eth_sendRawTransaction wants it)."""
        body = rlp.decode(signed[1:])
        return b"\x03" + rlp.encode(
            [body, list(self.blobs), list(self.commitments), list(self.proofs)]
        )


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
        blobs: Sequence[bytes] | None = None,
        on_broadcast: BroadcastHook | None = None,
        resume: Resume | None = None,
    ) -> L1Receipt:
        """Send ``data`` (and ``blobs``, if given: a type-3 transaction) to ``to`` and return
        its receipt once ``confirmations`` deep.

        Raises :class:`L1TransactionFailed` if it reverts; retries through L1 outages until
        ``stop`` is set (then raises :class:`L1Unavailable`).
        """
        to = to_checksum_address(to)
        gas = self._estimate(to, data)
        sidecar = _Sidecar.of(blobs) if blobs else None
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
                    attempt = self._fresh_attempt(hashes, sidecar is not None)
                    self._broadcast(attempt, to, data, gas, sidecar, on_broadcast)
                elif time.monotonic() - attempt.sent_at >= self.config.resubmit_after_s:
                    self._bump(attempt, sidecar is not None)
                    self._broadcast(attempt, to, data, gas, sidecar, on_broadcast)
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

    def _market_blob_fee(self) -> int:
        return max(2 * self.client.blob_base_fee(), MIN_BLOB_FEE_CAP)

    def _fresh_attempt(self, hashes: list[bytes], blob: bool = False) -> _Attempt:
        max_fee, tip = self._market_fees()
        blob_fee = self._market_blob_fee() if blob else 0
        return _Attempt(self._allocate_nonce(), max_fee, tip, hashes, 0.0, blob_fee)

    def _bump(self, attempt: _Attempt, blob: bool = False) -> None:
        """Raise the caps by ``bump_percent`` (at least 100 % for a blob transaction; rounded
        up, plus one wei) or to market."""
        market_max, market_tip = self._market_fees()
        percent = max(self.config.bump_percent, MIN_BLOB_BUMP_PERCENT if blob else 0)
        factor = 100 + percent
        tip = max(-(-attempt.tip * factor // 100) + 1, market_tip)
        max_fee = max(-(-attempt.max_fee * factor // 100) + 1, market_max, tip)
        if max_fee > self.config.max_fee_cap:
            raise L1TransactionFailed(
                f"fee bump to {max_fee} wei/gas exceeds the cap {self.config.max_fee_cap}"
            )
        blob_fee = 0
        if blob:
            blob_fee = max(-(-attempt.blob_fee * factor // 100) + 1, self._market_blob_fee())
            if blob_fee > self.config.max_blob_fee_cap:
                raise L1TransactionFailed(
                    f"blob fee bump to {blob_fee} wei/blob gas exceeds the cap "
                    f"{self.config.max_blob_fee_cap}"
                )
        log.info(
            "bumping L1 tx nonce=%d: max fee %d -> %d, tip %d -> %d%s",
            attempt.nonce,
            attempt.max_fee,
            max_fee,
            attempt.tip,
            tip,
            f", blob fee {attempt.blob_fee} -> {blob_fee}" if blob else "",
        )
        attempt.max_fee, attempt.tip, attempt.blob_fee = max_fee, tip, blob_fee

    def _broadcast(
        self,
        attempt: _Attempt,
        to: str,
        data: bytes,
        gas: int,
        sidecar: _Sidecar | None,
        on_broadcast: BroadcastHook | None,
    ) -> None:
        tx: dict[str, Any] = {
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
        if sidecar is not None:
            tx["type"] = 3
            tx["maxFeePerBlobGas"] = attempt.blob_fee
            tx["blobVersionedHashes"] = list(sidecar.versioned_hashes)
        signed = self.account.sign_transaction(tx)
        tx_hash = bytes(keccak(signed.raw_transaction))
        raw = signed.raw_transaction if sidecar is None else sidecar.wrap(signed.raw_transaction)
        attempt.sent_at = time.monotonic()
        if tx_hash not in attempt.hashes:
            attempt.hashes.append(tx_hash)
            if on_broadcast is not None:
                on_broadcast(attempt.nonce, tx_hash)
        try:
            self.client.send_raw(raw)
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
        log.info(
            "sent L1 tx 0x%s nonce=%d to %s%s",
            tx_hash.hex(),
            attempt.nonce,
            to,
            f" with {len(sidecar.blobs)} blob(s)" if sidecar is not None else "",
        )

    def _check(self, receipt: L1Receipt) -> L1Receipt:
        if receipt.status != 1:
            raise L1TransactionFailed(
                f"L1 transaction 0x{receipt.tx_hash.hex()} reverted in block {receipt.block_number}"
            )
        return receipt
