"""The web3 boundary against a real devnet: deploy, send, decode events, translate reverts.

Uses the TestToken fixture, whose ``Denied(address,uint256)`` custom error and ``require``
string are the two revert shapes every binding has to turn into a readable error.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from openledger.contracts.artifacts import Artifact
from openledger.contracts.exceptions import (
    ContractReverted,
    RpcFailed,
    TransactionFailed,
)
from openledger.contracts.transactor import Transactor, connect
from tests.helpers.devnet import Devnet, free_port

pytestmark = pytest.mark.slow

SENDER = 7
"""Dev account of this module (0 deploys the L2 contracts; the bindings tests use 1-5)."""


@pytest.fixture(scope="module")
def transactor(
    devnet: Devnet, dev_keys: list[LocalAccount], token_artifact: Artifact
) -> Transactor:
    return Transactor(connect(devnet.url), dev_keys[SENDER], (token_artifact,))


@pytest.fixture(scope="module")
def token_address(transactor: Transactor, token_artifact: Artifact) -> str:
    return transactor.deploy(token_artifact).address


def test_deploy_and_transact_decode_events(
    transactor: Transactor, token_artifact: Artifact, token_address: str
) -> None:
    token = transactor.contract(token_artifact, token_address)
    receipt = transactor.transact("TestToken.transfer", token.functions.transfer(token_address, 5))
    transfer = receipt.event("Transfer")
    assert transfer.args == {"from": transactor.sender, "to": token_address, "value": 5}
    assert receipt.gas_used > 21_000
    # The node is an OP-style L2: the sender pays the L1 data fee on top of gas.
    assert receipt.l1_fee > 0
    assert receipt.fee == receipt.gas_used * receipt.effective_gas_price + receipt.l1_fee
    assert transactor.call("balanceOf", token.functions.balanceOf(token_address)) == 5


def test_custom_error_is_decoded_from_the_abi(
    transactor: Transactor, token_artifact: Artifact, token_address: str
) -> None:
    token = transactor.contract(token_artifact, token_address)
    with pytest.raises(ContractReverted) as caught:
        transactor.transact(
            "TestToken.failWithCustomError", token.functions.failWithCustomError(42)
        )
    assert caught.value.error_name == "Denied"
    assert caught.value.revert is not None
    assert dict(caught.value.revert.args) == {"who": transactor.sender, "code": 42}
    assert str(caught.value) == (
        f"TestToken.failWithCustomError reverted: Denied(who={transactor.sender}, code=42)"
    )


def test_openzeppelin_error_from_a_view(
    transactor: Transactor,
    token_artifact: Artifact,
    token_address: str,
    dev_keys: list[LocalAccount],
) -> None:
    """A revert inside eth_call (here OZ's ERC20InsufficientBalance via a transfer estimate)."""
    token = transactor.contract(token_artifact, token_address)
    poor = Transactor(transactor.w3, dev_keys[8], (token_artifact,))
    with pytest.raises(ContractReverted, match="ERC20InsufficientBalance") as caught:
        poor.transact("TestToken.transfer", token.functions.transfer(token_address, 1))
    assert caught.value.revert is not None
    assert dict(caught.value.revert.args)["needed"] == 1


def test_require_string(
    transactor: Transactor, token_artifact: Artifact, token_address: str
) -> None:
    token = transactor.contract(token_artifact, token_address)
    with pytest.raises(ContractReverted, match=r"reverted: Error\(reason='nope'\)"):
        transactor.transact("TestToken.failWithReason", token.functions.failWithReason())


def test_read_only_transactor_refuses_to_send(
    devnet: Devnet, token_artifact: Artifact, token_address: str
) -> None:
    reader = Transactor(connect(devnet.url), None)
    token = reader.contract(token_artifact, token_address)
    with pytest.raises(TransactionFailed, match="read-only"):
        reader.transact("TestToken.note", token.functions.note(1, b"\x00" * 32, "x"))


def test_unreachable_node_is_an_rpc_failure() -> None:
    reader = Transactor(connect(f"http://127.0.0.1:{free_port()}", timeout=2), None)
    with pytest.raises(RpcFailed, match="cannot reach the node"):
        reader.chain_id()
