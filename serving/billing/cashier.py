"""`Cashier` for one operator account: API key -> reservation -> recorded response -> settlement.

`authorize` decides without a transaction, from the key itself (signature, operator, expiry,
adapter) and two cached reads (session state, prepaid balance), minus everything already
promised (`PendingBook`), so a user can never be served more than its session cap or its
balance can pay. `record` makes the answer durable (`ResponseLedger`) before it returns a
response id and hands it to the `Attributor`, which credits its contributions and passes it on
to the `Settler`; a restart re-queues every unscored and every unsettled record.

Free cards (price 0, or the base model, which has no on-chain adapter to settle) need no key:
`authorize` returns None and nothing is recorded. `identify` checks a key as `authorize` does
(`SessionKeys`) but charges nothing: it says who asks, e.g. who owns a fine-tuning job.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from attribution.pool import DatanetPool
from attribution.weights import Weights
from openledger.contracts.payments import PaymentsClient, Session, SignedSession
from openledger.types import Wei
from serving.api.ports import AnsweredChoice, Charge, ModelCard, PaymentRequired, Unauthorized
from serving.billing.apikey import (
    PREFIX,
    MalformedKey,
    decode_api_key,
    recover_signer,
    session_digest,
)
from serving.billing.attribution import AttributionSource
from serving.billing.attributor import Attributor
from serving.billing.ledger import ResponseLedger, ResponseRecord, Status
from serving.billing.pending import PendingBook
from serving.billing.reads import CachedReads
from serving.billing.settler import SettlementPolicy, Settler

log = logging.getLogger(__name__)

DEFAULT_CACHE_TTL_S = 2.0
DEFAULT_EXPIRY_MARGIN_S = 60
"""A session must outlive authorization by this much: the settlement comes later, and the
contract refuses it once `block.timestamp >= expiry`, leaving the operator unpaid."""
VERIFIED_KEYS = 4096
"""Keys whose signature was checked, remembered (LRU) so a busy key costs no ECDSA recovery."""
ZERO_DIGEST = bytes(32)


class SessionKeys:
    """Checks API keys of one operator from the key alone: signature, operator and expiry.

    Apart from the till so that what charges nothing (ModelFactory's job creation, which only
    needs to know who asks) accepts exactly the keys a paid call accepts.
    """

    def __init__(
        self,
        chain_id: int,
        payments_address: str,
        operator: str,
        expiry_margin_s: int = DEFAULT_EXPIRY_MARGIN_S,
    ) -> None:
        self.chain_id = chain_id
        self.payments_address = payments_address
        self.operator = operator
        self.expiry_margin_s = expiry_margin_s
        self._lock = threading.Lock()
        self._verified: OrderedDict[str, bytes] = OrderedDict()

    def identify(self, api_key: str | None) -> str:
        """The key's user, if it is a validly signed, unexpired session for this operator;
        raises `Unauthorized` saying what is wrong otherwise."""
        signed, _ = self.verify(api_key)
        self.check(signed.session)
        return signed.session.user

    def verify(self, api_key: str | None) -> tuple[SignedSession, bytes]:
        """The key's session and its EIP-712 digest, if the user signed it for this chain and
        payments contract."""
        if not api_key:
            raise Unauthorized(f"this model is paid: send Authorization: Bearer {PREFIX}...")
        try:
            signed = decode_api_key(api_key)
        except MalformedKey as exc:
            raise Unauthorized(f"malformed API key: {exc}") from exc
        with self._lock:
            digest = self._verified.get(api_key)
            if digest is not None:
                self._verified.move_to_end(api_key)
                return signed, digest
        signer = recover_signer(signed, self.chain_id, self.payments_address)
        if signer != signed.session.user:
            raise Unauthorized(
                f"the API key's signature is not {signed.session.user}'s over its session on "
                f"chain {self.chain_id} (signed for another network or contract?)"
            )
        digest = session_digest(signed.session, self.chain_id, self.payments_address)
        with self._lock:
            self._verified[api_key] = digest
            if len(self._verified) > VERIFIED_KEYS:
                self._verified.popitem(last=False)
        return signed, digest

    def check(self, session: Session) -> None:
        """Refuse a session for another operator or one about to expire."""
        if session.operator != self.operator:
            raise Unauthorized(
                f"this API key lets operator {session.operator} charge, this service is "
                f"{self.operator}: sign a session for it"
            )
        if time.time() + self.expiry_margin_s >= session.expiry:
            raise Unauthorized(f"the API key's session expires at unix time {session.expiry}")


class OperatorCashier:
    """The operator's till. Start it with `start()` (or `with`), stop it with `close()`."""

    def __init__(
        self,
        payments: PaymentsClient,
        pool: DatanetPool,
        data_dir: Path,
        policy: SettlementPolicy | None = None,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        expiry_margin_s: int = DEFAULT_EXPIRY_MARGIN_S,
        attribution: AttributionSource | None = None,
    ) -> None:
        """`attribution` scores each answer (Proof of Attribution); without it, and whenever
        it fails, `pool` credits the adapter's whole datanet version equally."""
        self.payments = payments
        self.operator = payments.transactor.sender
        self.chain_id = payments.transactor.chain_id()
        self.keys = SessionKeys(self.chain_id, payments.address, self.operator, expiry_margin_s)
        self.ledger = ResponseLedger(data_dir)
        self.reads = CachedReads(payments, cache_ttl_s)
        self.book = PendingBook(horizon_s=cache_ttl_s + 1.0)
        self.settler = Settler(payments, self.ledger, policy or SettlementPolicy(), self._outcome)
        self.attributor = Attributor(attribution or pool, pool, self.ledger, self.settler.submit)
        self._lock = threading.Lock()
        self._sessions: dict[bytes, SignedSession] = {}
        self._nonces: dict[tuple[str, int], bytes] = {}
        """(user, nonce) -> digest of the session we accepted for it; the chain binds a nonce
        only at the first settlement, so until then only this catches a second session."""
        # A restart: what was promised is still owed, scored or not.
        for record, choices in self.ledger.attributing():
            self._owed(record)
            self.attributor.submit(record, choices)
        for record in self.ledger.pending():
            self._owed(record)
            self.settler.submit(record)

    def _owed(self, record: ResponseRecord) -> None:
        self.book.reserve(record.session_digest, record.user, record.price)
        self._remember(record.session_digest)

    def start(self) -> Self:
        self.settler.start()
        self.attributor.start()
        return self

    def close(self) -> None:
        self.attributor.close()
        self.settler.close()
        self.ledger.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # Cashier

    def authorize(self, api_key: str | None, card: ModelCard) -> Charge | None:
        price = card.price_per_call
        if card.onchain_id is None or price == 0:
            return None
        signed, digest = self.keys.verify(api_key)
        session = signed.session
        self.keys.check(session)
        if session.adapter_id not in (0, card.onchain_id):
            raise Unauthorized(
                f"this API key only pays for adapter-{session.adapter_id}, not {card.id}"
            )
        nonce_key = (session.user, session.nonce)
        with self._lock:
            bound = self._nonces.get(nonce_key, digest)
        state, state_at = self.reads.session(session.user, session.nonce)
        if state.revoked:
            raise Unauthorized(f"the user revoked this API key's session (nonce {session.nonce})")
        if bound != digest or state.digest not in (ZERO_DIGEST, digest):
            raise Unauthorized(
                f"session nonce {session.nonce} of {session.user} is bound to another session"
            )
        balance, balance_at = self.reads.balance(session.user)
        with self._lock:  # check and reserve together: concurrent requests see each other
            left = session.max_total - state.spent - self.book.session_pending(digest, state_at)
            if price > left:
                raise PaymentRequired(
                    f"{card.id} costs {price} wei but the API key's session has {max(left, 0)} "
                    f"wei left of its {session.max_total} wei cap: sign a new session"
                )
            available = balance - self.book.user_pending(session.user, balance_at)
            if price > available:
                raise PaymentRequired(
                    f"{card.id} costs {price} wei but {session.user} has {max(available, 0)} wei "
                    f"of prepaid balance available: deposit to InferencePayments at "
                    f"{self.payments.address}"
                )
            if self._nonces.setdefault(nonce_key, digest) != digest:  # lost a race
                raise Unauthorized(f"session nonce {session.nonce} is bound to another session")
            self.book.reserve(digest, session.user, price)
            self._sessions[digest] = signed
        return Charge(user=session.user, price=price, session_key="0x" + digest.hex())

    def record(
        self,
        charge: Charge,
        card: ModelCard,
        request_hash: bytes,
        output_hash: bytes,
        choices: Sequence[AnsweredChoice] = (),
    ) -> str:
        digest = bytes.fromhex(charge.session_key.removeprefix("0x"))
        with self._lock:
            signed = self._sessions.get(digest)
        if signed is None or card.onchain_id is None:
            raise ValueError(f"no authorized charge for session {charge.session_key}")
        record = ResponseRecord(
            response_id="resp_" + secrets.token_hex(16),
            created_at=int(time.time()),
            session_digest=digest,
            user=charge.user,
            adapter_id=card.onchain_id,
            request_hash=request_hash,
            output_hash=output_hash,
            price=Wei(charge.price),
            contribution_ids=(),
            weights=(),
            status=Status.ATTRIBUTING,
        )
        self.ledger.add_session(digest, signed)
        earlier = self.ledger.add(record, choices)
        if earlier is not None:
            self.book.release(digest, charge.user, charge.price)
            log.warning(
                "request hash 0x%s already recorded as %s: not charged again",
                request_hash.hex(),
                earlier.response_id,
            )
            return earlier.response_id
        self.attributor.submit(record, choices)
        return record.response_id

    def cancel(self, charge: Charge) -> None:
        digest = bytes.fromhex(charge.session_key.removeprefix("0x"))
        self.book.release(digest, charge.user, charge.price)

    def identify(self, api_key: str | None) -> str:
        """The user whose valid session for this operator `api_key` is; charges nothing."""
        return self.keys.identify(api_key)

    # Attribution and audits read this.

    def lookup(self, response_id: str) -> ResponseRecord | None:
        """The stored record of a response (its settlement once settled), or None."""
        return self.ledger.get(response_id)

    def credit(self, response_id: str) -> Weights | None:
        """How the response's contributions were credited, or None before attribution."""
        return self.ledger.credit(response_id)

    def flush(self, timeout: float = 60.0) -> int:
        """Attribute and settle what is queued now, without waiting for the batch policy;
        return how many records are still waiting (unscored, or the node or the operator
        could not settle them)."""
        if not self.attributor.wait_idle(timeout):
            return len(self.ledger.attributing()) + self.settler.flush()
        return self.settler.flush()

    # Internals

    def _remember(self, digest: bytes) -> None:
        signed = self.ledger.session(digest)
        if signed is not None:
            self._sessions[digest] = signed
            self._nonces[(signed.session.user, signed.session.nonce)] = digest

    def _outcome(self, record: ResponseRecord) -> None:
        if record.status is Status.SETTLED:
            self.book.landed(record.session_digest, record.user, record.price)
        else:
            self.book.release(record.session_digest, record.user, record.price)
