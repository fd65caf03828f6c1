"""``InferencePayments``: prepaid balances, operator sessions, settlement and reward payouts.

A user deposits native OPEN and signs an EIP-712 *spending session* for one serving operator
(optionally one adapter) with a total cap and an expiry; the operator settles inferences
against it, each settlement splitting the fee exactly between the adapter owner, the
contributors (pro rata to the attribution weights) and the treasury. Contributors pull what
they earned. The signed session is what an OpenAI-style API key carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from openledger.contracts.artifacts import INFERENCE_PAYMENTS
from openledger.contracts.client import ContractClient, Transacted
from openledger.contracts.transactor import Receipt
from openledger.types import Wei

EIP712_NAME = "OpenLedger InferencePayments"
EIP712_VERSION = "1"
"""The contract's EIP-712 domain (OpenZeppelin ``EIP712(name, version)``)."""

ANY_ADAPTER = 0
"""``adapterId`` of a session valid for every adapter of the operator."""

SESSION_TYPES: dict[str, list[dict[str, str]]] = {
    "SpendingSession": [
        {"name": "user", "type": "address"},
        {"name": "operator", "type": "address"},
        {"name": "adapterId", "type": "uint256"},
        {"name": "maxTotal", "type": "uint256"},
        {"name": "expiry", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ]
}


@dataclass(frozen=True)
class Session:
    """What a user allows one operator to charge."""

    user: str
    operator: str
    adapter_id: int
    """:data:`ANY_ADAPTER` or the only adapter this session may pay for."""
    max_total: Wei
    """Most the operator may charge over the session's life."""
    expiry: int
    """Unix time after which no settlement is accepted."""
    nonce: int
    """Chosen by the user; revoking a session revokes its (user, nonce)."""

    def as_abi(self) -> tuple[Any, ...]:
        return (
            self.user,
            self.operator,
            self.adapter_id,
            self.max_total,
            self.expiry,
            self.nonce,
        )

    def message(self) -> dict[str, Any]:
        names = [f["name"] for f in SESSION_TYPES["SpendingSession"]]
        return dict(zip(names, self.as_abi(), strict=True))


@dataclass(frozen=True)
class SignedSession:
    session: Session
    signature: bytes
    """65-byte ``r || s || v`` signature over the EIP-712 digest."""


@dataclass(frozen=True)
class Inference:
    """One served request to settle; the fee is the adapter's price per call."""

    adapter_id: int
    request_hash: bytes
    """Each request hash can be settled once."""
    output_hash: bytes
    contribution_ids: tuple[int, ...]
    """Strictly ascending, from the adapter's datanet version."""
    weights: tuple[int, ...]
    """Positive integer influence weights, one per contribution id; the split is pro rata."""

    def settlement(self, signed: SignedSession) -> tuple[Any, ...]:
        """The ``Settlement`` struct: the session and its signature travel with each one."""
        return (
            signed.session.as_abi(),
            signed.signature,
            self.adapter_id,
            self.request_hash,
            self.output_hash,
            list(self.contribution_ids),
            list(self.weights),
        )


@dataclass(frozen=True)
class SessionState:
    digest: bytes
    """EIP-712 digest of the session the nonce is bound to (zero before first use)."""
    spent: Wei
    revoked: bool


def sign_session(
    user: LocalAccount, session: Session, chain_id: int, contract_address: str
) -> SignedSession:
    """Sign ``session`` for the payments contract at ``contract_address`` on ``chain_id``."""
    domain = {
        "name": EIP712_NAME,
        "version": EIP712_VERSION,
        "chainId": chain_id,
        "verifyingContract": contract_address,
    }
    signable = encode_typed_data(domain, SESSION_TYPES, session.message())
    return SignedSession(session, bytes(user.sign_message(signable).signature))


class PaymentsClient(ContractClient):
    NAME = INFERENCE_PAYMENTS

    # users
    def deposit(self, amount: Wei) -> Receipt:
        return self._send(self.contract.functions.deposit(), amount)

    def withdraw(self, amount: Wei) -> Receipt:
        """Take back unspent prepaid balance."""
        return self._send(self.contract.functions.withdraw(amount))

    def balance_of(self, user: str) -> Wei:
        """Prepaid, unspent balance."""
        return Wei(int(self._view(self.contract.functions.balanceOf(user))))

    def sign_session(self, user: LocalAccount, session: Session) -> SignedSession:
        return sign_session(user, session, self.transactor.chain_id(), self.address)

    def revoke_session(self, nonce: int) -> Receipt:
        return self._send(self.contract.functions.revokeSession(nonce))

    def session_state(self, user: str, nonce: int) -> SessionState:
        """What has been charged against the user's session ``nonce``, and whether revoked."""
        raw = self._view(self.contract.functions.sessionState(user, nonce))
        return SessionState(bytes(raw.digest), Wei(raw.spent), bool(raw.revoked))

    # operators
    def register_operator(self, stake: Wei) -> Receipt:
        return self._send(self.contract.functions.registerOperator(), stake)

    def settle(self, signed: SignedSession, inference: Inference) -> Transacted[int]:
        """Charge one inference; the value is its inference id."""
        receipt = self._send(self.contract.functions.settle(inference.settlement(signed)))
        return Transacted(int(receipt.event("InferenceSettled").args["inferenceId"]), receipt)

    def settle_batch(
        self, signed: SignedSession, inferences: Sequence[Inference]
    ) -> Transacted[list[int]]:
        """Many inferences of one session in one transaction (the throughput path)."""
        batch = [inference.settlement(signed) for inference in inferences]
        receipt = self._send(self.contract.functions.settleBatch(batch))
        ids = [int(e.args["inferenceId"]) for e in receipt.events_named("InferenceSettled")]
        return Transacted(ids, receipt)

    # contributors and adapter owners
    def rewards_of(self, account: str) -> Wei:
        """Accrued, unclaimed rewards (``claimable``)."""
        return Wei(int(self._view(self.contract.functions.claimable(account))))

    def earnings_by_datanet(self, account: str, datanet_id: int) -> Wei:
        return Wei(int(self._view(self.contract.functions.earningsByDatanet(account, datanet_id))))

    def earnings_by_adapter(self, account: str, adapter_id: int) -> Wei:
        return Wei(int(self._view(self.contract.functions.earningsByAdapter(account, adapter_id))))

    def claim(self) -> Transacted[Wei]:
        """Pull all of the sender's rewards; the value is the amount paid."""
        receipt = self._send(self.contract.functions.claimRewards())
        return Transacted(Wei(int(receipt.event("RewardsClaimed").args["amount"])), receipt)
