"""Build the records a test needs (datanets, contributions, adapters, operators, sessions)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from tests.contracts.conftest import TOKEN, Chain, Deployment
from tests.contracts.reference import Session, sign_session
from tests.helpers.targets import CHAIN_ID

_content = itertools.count(1)
_requests = itertools.count(1)
ONE_HOUR = 3600


def content_hash() -> bytes:
    """A content hash no test has used before."""
    return keccak(text=f"content {next(_content)}")


def request_hash() -> bytes:
    """A request hash no test has used before."""
    return keccak(text=f"request {next(_requests)}")


def create_datanet(chain: Chain, d: Deployment, owner: LocalAccount, stake: int = 0) -> int:
    receipt = chain.transact(owner, d.datanets.functions.createDatanet("ipfs://meta", stake))
    return int(chain.events(d.datanets, receipt, "DatanetCreated")[0]["datanetId"])


def contribute(
    chain: Chain, d: Deployment, contributor: LocalAccount, datanet_id: int, stake: int = 0
) -> int:
    call = d.datanets.functions.contribute(datanet_id, content_hash(), "ipfs://data", 1234)
    receipt = chain.transact(contributor, call, value=stake)
    return int(chain.events(d.datanets, receipt, "ContributionSubmitted")[0]["contributionId"])


@dataclass(frozen=True)
class ApprovedDatanet:
    datanet_id: int
    owner: LocalAccount
    contributors: tuple[LocalAccount, ...]
    contribution_ids: tuple[int, ...]
    """In leaf order; contribution_ids[i] was submitted by contributors[i]."""
    version: int


def approved_datanet(
    chain: Chain, d: Deployment, contributors: Sequence[LocalAccount], stake: int = 0
) -> ApprovedDatanet:
    """A datanet with one contribution per contributor, all approved as version 1."""
    owner = chain.account()
    datanet_id = create_datanet(chain, d, owner, stake)
    ids = [contribute(chain, d, c, datanet_id, stake) for c in contributors]
    chain.transact(owner, d.datanets.functions.approve(ids))
    return ApprovedDatanet(datanet_id, owner, tuple(contributors), tuple(ids), 1)


def base_model(chain: Chain, d: Deployment, owner: LocalAccount) -> int:
    call = d.models.functions.registerBaseModel("base", keccak(text="base weights"), "ipfs://lic")
    receipt = chain.transact(owner, call)
    return int(chain.events(d.models, receipt, "BaseModelRegistered")[0]["baseModelId"])


def adapter(
    chain: Chain,
    d: Deployment,
    owner: LocalAccount,
    datanet_id: int,
    version: int,
    price: int,
    base_model_id: int | None = None,
) -> int:
    if base_model_id is None:
        base_model_id = base_model(chain, d, owner)
    call = d.models.functions.registerAdapter(
        base_model_id,
        datanet_id,
        version,
        keccak(text="adapter weights"),
        "ipfs://adapter",
        price,
        bytes(32),
    )
    receipt = chain.transact(owner, call)
    return int(chain.events(d.models, receipt, "AdapterRegistered")[0]["adapterId"])


def operator(chain: Chain, d: Deployment, stake: int = TOKEN) -> LocalAccount:
    """A fresh account registered as an operator with ``stake``."""
    account = chain.account()
    chain.transact(account, d.payments.functions.registerOperator(), value=stake)
    return account


def session(
    chain: Chain,
    d: Deployment,
    user: LocalAccount,
    operator_address: str,
    max_total: int,
    nonce: int,
    adapter_id: int = 0,
    expiry: int | None = None,
) -> tuple[Session, bytes]:
    """A session and the user's EIP-712 signature over it."""
    if expiry is None:
        expiry = chain.timestamp() + ONE_HOUR
    s = Session(user.address, operator_address, adapter_id, max_total, expiry, nonce)
    return s, sign_session(user, s, CHAIN_ID, d.payments.address)


def settlement(
    s: Session,
    signature: bytes,
    adapter_id: int,
    contribution_ids: Sequence[int],
    weights: Sequence[int],
    request: bytes | None = None,
) -> tuple[Any, ...]:
    """A ``Settlement`` struct as web3 encodes it."""
    return (
        s.as_tuple(),
        signature,
        adapter_id,
        request or request_hash(),
        keccak(text="output"),
        list(contribution_ids),
        list(weights),
    )
