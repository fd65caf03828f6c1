"""L1 OpenToken (fixed supply, EIP-2612 permit) and SystemConfig, on anvil."""

from __future__ import annotations

import pytest
from eth_account import Account

from tests.contracts.conftest import TOKEN, Chain

pytestmark = pytest.mark.slow

SUPPLY = 1_000_000_000 * TOKEN


def test_fixed_supply_minted_once_to_holder(l1: Chain) -> None:
    deployer, holder = l1.account(), l1.account(fund=0)
    token = l1.deploy("OpenToken", deployer, holder.address)
    assert token.functions.totalSupply().call() == SUPPLY
    assert token.functions.balanceOf(holder.address).call() == SUPPLY
    assert token.functions.balanceOf(deployer.address).call() == 0
    assert token.functions.symbol().call() == "OPEN"
    assert token.functions.decimals().call() == 18
    functions = {e["name"] for e in token.abi if e["type"] == "function"}
    assert not {"mint", "burn"} & functions


def test_permit_then_transfer_from(l1: Chain) -> None:
    owner, spender, recipient = l1.account(), l1.account(), l1.account(fund=0)
    token = l1.deploy("OpenToken", owner, owner.address)
    amount, deadline = 7 * TOKEN, l1.timestamp() + 3600
    nonce = token.functions.nonces(owner.address).call()
    signed = Account.sign_typed_data(
        owner.key,
        domain_data={
            "name": "OpenLedger",
            "version": "1",
            "chainId": l1.w3.eth.chain_id,
            "verifyingContract": token.address,
        },
        message_types={
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ]
        },
        message_data={
            "owner": owner.address,
            "spender": spender.address,
            "value": amount,
            "nonce": nonce,
            "deadline": deadline,
        },
    )
    permit = token.functions.permit(
        owner.address,
        spender.address,
        amount,
        deadline,
        signed.v,
        signed.r.to_bytes(32, "big"),
        signed.s.to_bytes(32, "big"),
    )
    l1.transact(spender, permit)  # anyone may submit the signed permit
    assert token.functions.allowance(owner.address, spender.address).call() == amount
    assert token.functions.nonces(owner.address).call() == nonce + 1
    l1.expect_revert(spender, permit, "ERC2612InvalidSigner")  # replay: nonce moved on
    l1.transact(spender, token.functions.transferFrom(owner.address, recipient.address, amount))
    assert token.functions.balanceOf(recipient.address).call() == amount


def test_system_config_owner_sets_batcher_and_inbox(l1: Chain) -> None:
    owner, stranger = l1.account(), l1.account()
    batcher, inbox = l1.account(fund=0).address, l1.account(fund=0).address
    config = l1.deploy("SystemConfig", owner, owner.address, batcher, inbox)
    assert config.functions.batcher().call() == batcher
    assert config.functions.batchInbox().call() == inbox
    assert config.functions.owner().call() == owner.address

    new_batcher, new_inbox = l1.account(fund=0).address, l1.account(fund=0).address
    receipt = l1.transact(owner, config.functions.setBatcher(new_batcher))
    assert l1.events(config, receipt, "BatcherUpdated") == [
        {"previousBatcher": batcher, "newBatcher": new_batcher}
    ]
    receipt = l1.transact(owner, config.functions.setBatchInbox(new_inbox))
    assert l1.events(config, receipt, "BatchInboxUpdated") == [
        {"previousInbox": inbox, "newInbox": new_inbox}
    ]
    assert config.functions.batcher().call() == new_batcher
    assert config.functions.batchInbox().call() == new_inbox

    l1.expect_revert(
        stranger,
        config.functions.setBatcher(stranger.address),
        "OwnableUnauthorizedAccount",
        stranger.address,
    )
    l1.expect_revert(
        stranger, config.functions.setBatchInbox(stranger.address), "OwnableUnauthorizedAccount"
    )
    zero = "0x" + "00" * 20
    l1.expect_revert(owner, config.functions.setBatcher(zero), "ZeroAddress")
    l1.expect_revert(owner, config.functions.setBatchInbox(zero), "ZeroAddress")
