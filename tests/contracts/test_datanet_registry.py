"""DatanetRegistry: every function, view and revert path, on the node and on anvil."""

from __future__ import annotations

import pytest

from tests.contracts.builders import (
    approved_datanet,
    content_hash,
    contribute,
    create_datanet,
)
from tests.contracts.conftest import TOKEN, Chain, Deployment, deploy_all
from tests.contracts.reference import MERKLE_DEPTH, leaf_hash, merkle_proof, merkle_root
from tests.helpers.fees import fee_paid

pytestmark = pytest.mark.slow

STAKE = TOKEN // 10
PENDING, APPROVED, REJECTED = 1, 2, 3
ZERO_ADDRESS = "0x" + "00" * 20


def test_create_datanet_records_owner_as_curator(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    owner = chain.account()
    receipt = chain.transact(owner, d.datanets.functions.createDatanet("ipfs://m", STAKE))
    (created,) = chain.events(d.datanets, receipt, "DatanetCreated")
    datanet_id = created["datanetId"]
    assert created["owner"] == owner.address
    assert created["contributionStake"] == STAKE
    assert chain.events(d.datanets, receipt, "CuratorAdded")[0]["curator"] == owner.address
    record = d.datanets.functions.getDatanet(datanet_id).call()
    assert record == (owner.address, 0, 0, STAKE, "ipfs://m")
    assert d.datanets.functions.datanetCount().call() >= datanet_id
    assert d.datanets.functions.isCurator(datanet_id, owner.address).call()
    assert d.datanets.functions.latestVersion(datanet_id).call() == 0
    assert d.datanets.functions.contributionsOf(datanet_id).call() == []


def test_unknown_ids_revert(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    a = chain.account(fund=0)
    missing = 10**9
    chain.expect_revert(a, d.datanets.functions.getDatanet(missing), "UnknownDatanet", missing)
    chain.expect_revert(
        a, d.datanets.functions.getContribution(missing), "UnknownContribution", missing
    )
    chain.expect_revert(a, d.datanets.functions.leafOf(missing), "UnknownContribution")
    chain.expect_revert(a, d.datanets.functions.contributionsOf(missing), "UnknownDatanet")
    chain.expect_revert(a, d.datanets.functions.approvedContributionsOf(missing), "UnknownDatanet")
    chain.expect_revert(a, d.datanets.functions.getVersion(missing, 1), "UnknownDatanet")
    chain.expect_revert(
        a, d.datanets.functions.contribute(missing, content_hash(), "u", 1), "UnknownDatanet"
    )
    chain.expect_revert(a, d.datanets.functions.addCurator(missing, a.address), "UnknownDatanet")
    chain.expect_revert(a, d.datanets.functions.reject(missing, "no"), "UnknownContribution")
    chain.expect_revert(a, d.datanets.functions.approve([missing]), "UnknownContribution")
    assert d.datanets.functions.latestVersion(missing).call() == 0


def test_curators(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    owner, curator, stranger = chain.account(), chain.account(), chain.account()
    datanet_id = create_datanet(chain, d, owner)
    fns = d.datanets.functions

    chain.expect_revert(
        stranger,
        fns.addCurator(datanet_id, curator.address),
        "NotDatanetOwner",
        datanet_id,
        stranger.address,
    )
    chain.expect_revert(owner, fns.addCurator(datanet_id, ZERO_ADDRESS), "ZeroAddress")
    chain.expect_revert(owner, fns.addCurator(datanet_id, owner.address), "AlreadyCurator")
    receipt = chain.transact(owner, fns.addCurator(datanet_id, curator.address))
    assert chain.events(d.datanets, receipt, "CuratorAdded")[0]["curator"] == curator.address
    assert fns.isCurator(datanet_id, curator.address).call()

    # The new curator can approve; a stranger cannot.
    cid = contribute(chain, d, stranger, datanet_id)
    chain.expect_revert(stranger, fns.approve([cid]), "NotCurator", datanet_id, stranger.address)
    chain.expect_revert(stranger, fns.reject(cid, "x"), "NotCurator", datanet_id, stranger.address)
    chain.transact(curator, fns.approve([cid]))

    chain.expect_revert(curator, fns.removeCurator(datanet_id, curator.address), "NotDatanetOwner")
    chain.expect_revert(owner, fns.removeCurator(datanet_id, stranger.address), "NotACurator")
    receipt = chain.transact(owner, fns.removeCurator(datanet_id, curator.address))
    assert chain.events(d.datanets, receipt, "CuratorRemoved")[0]["curator"] == curator.address
    assert not fns.isCurator(datanet_id, curator.address).call()
    cid2 = contribute(chain, d, stranger, datanet_id)
    chain.expect_revert(curator, fns.approve([cid2]), "NotCurator")
    # The owner may remove itself too.
    chain.transact(owner, fns.removeCurator(datanet_id, owner.address))
    chain.expect_revert(owner, fns.approve([cid2]), "NotCurator")


def test_contribute_and_its_reverts(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.datanets.functions
    owner, contributor = chain.account(), chain.account()
    datanet_id = create_datanet(chain, d, owner, STAKE)
    h = content_hash()

    chain.expect_revert(contributor, fns.contribute(datanet_id, h, "u", 5), "WrongStake", STAKE, 0)
    chain.expect_revert(
        contributor,
        fns.contribute(datanet_id, h, "u", 5),
        "WrongStake",
        STAKE,
        STAKE + 1,
        value=STAKE + 1,
    )
    chain.expect_revert(
        contributor, fns.contribute(datanet_id, bytes(32), "u", 5), "EmptyContentHash", value=STAKE
    )
    chain.expect_revert(
        contributor, fns.contribute(datanet_id, h, "u", 0), "EmptyContent", value=STAKE
    )

    before = chain.balance(d.datanets.address)
    receipt = chain.transact(contributor, fns.contribute(datanet_id, h, "ipfs://x", 5), STAKE)
    (event,) = chain.events(d.datanets, receipt, "ContributionSubmitted")
    cid = event["contributionId"]
    assert event["datanetId"] == datanet_id
    assert event["contributor"] == contributor.address
    assert event["contentHash"] == h
    assert event["size"] == 5
    assert event["stake"] == STAKE
    assert event["uri"] == "ipfs://x"
    assert chain.balance(d.datanets.address) == before + STAKE
    assert fns.getContribution(cid).call() == (
        datanet_id,
        contributor.address,
        PENDING,
        5,
        0,
        0,
        STAKE,
        h,
        "ipfs://x",
    )
    assert fns.contributionsOf(datanet_id).call() == [cid]
    assert fns.contributionsByContributor(contributor.address).call() == [cid]
    assert fns.contributionCount().call() >= cid

    # Same content in the same datanet: refused, even from someone else.
    chain.expect_revert(
        owner,
        fns.contribute(datanet_id, h, "u", 5),
        "DuplicateContent",
        datanet_id,
        h,
        cid,
        value=STAKE,
    )
    # ...but another datanet may hold it.
    other = create_datanet(chain, d, owner)
    chain.transact(contributor, fns.contribute(other, h, "u", 5))


def test_approve_publishes_versions_with_merkle_roots(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.datanets.functions
    owner = chain.account()
    contributors = [chain.account() for _ in range(3)]
    datanet_id = create_datanet(chain, d, owner, STAKE)
    ids = [contribute(chain, d, c, datanet_id, STAKE) for c in contributors]

    chain.expect_revert(owner, fns.approve([]), "EmptyBatch")
    receipt = chain.transact(owner, fns.approve(ids[:2]))
    approved = chain.events(d.datanets, receipt, "ContributionApproved")
    assert [(e["contributionId"], e["version"], e["leafIndex"]) for e in approved] == [
        (ids[0], 1, 0),
        (ids[1], 1, 1),
    ]
    assert all(e["stakeReturned"] == STAKE for e in approved)
    leaves = [
        leaf_hash(datanet_id, cid, c.address, fns.getContribution(cid).call()[7])
        for cid, c in zip(ids, contributors, strict=True)
    ]
    (published,) = chain.events(d.datanets, receipt, "VersionPublished")
    assert published["version"] == 1
    assert published["contributionCount"] == 2
    assert published["merkleRoot"] == merkle_root(leaves[:2])
    version = fns.getVersion(datanet_id, 1).call()
    assert version[:2] == (merkle_root(leaves[:2]), 2)
    assert version[2] == receipt["blockNumber"]

    chain.expect_revert(owner, fns.approve([ids[0]]), "NotPending", ids[0], APPROVED)
    receipt = chain.transact(owner, fns.approve([ids[2]]))
    (published,) = chain.events(d.datanets, receipt, "VersionPublished")
    assert (published["version"], published["contributionCount"]) == (2, 3)
    assert published["merkleRoot"] == merkle_root(leaves)
    assert fns.getDatanet(datanet_id).call()[1:3] == (2, 3)
    assert fns.latestVersion(datanet_id).call() == 2
    assert fns.approvedContributionsOf(datanet_id).call() == ids
    assert fns.getContribution(ids[2]).call()[2:6] == (APPROVED, 1234, 2, 2)
    chain.expect_revert(owner, fns.getVersion(datanet_id, 0), "UnknownVersion", datanet_id, 0)
    chain.expect_revert(owner, fns.getVersion(datanet_id, 3), "UnknownVersion", datanet_id, 3)

    # Proofs: every contribution of version 2, and the first two of version 1.
    for index, cid in enumerate(ids):
        assert fns.leafOf(cid).call() == leaves[index]
        proof = merkle_proof(leaves, index)
        assert len(proof) == MERKLE_DEPTH
        assert fns.verifyContribution(datanet_id, 2, cid, proof).call()
    for index in range(2):
        assert fns.verifyContribution(
            datanet_id, 1, ids[index], merkle_proof(leaves[:2], index)
        ).call()
    # ids[2] is not in version 1; a proof for version 2 does not verify against version 1.
    assert not fns.verifyContribution(datanet_id, 1, ids[2], merkle_proof(leaves, 2)).call()
    assert not fns.verifyContribution(datanet_id, 2, ids[0], merkle_proof(leaves, 1)).call()
    chain.expect_revert(owner, fns.verifyContribution(datanet_id, 9, ids[0], []), "UnknownVersion")

    # Stakes came back as withdrawable balances.
    for c in contributors:
        assert fns.withdrawable(c.address).call() == STAKE


def test_approve_refuses_mixed_datanets(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    owner, contributor = chain.account(), chain.account()
    first = create_datanet(chain, d, owner)
    second = create_datanet(chain, d, owner)
    a = contribute(chain, d, contributor, first)
    b = contribute(chain, d, contributor, second)
    chain.expect_revert(owner, d.datanets.functions.approve([a, b]), "MixedDatanets", first, second)


def test_reject_slashes_to_treasury_and_withdraw(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.datanets.functions
    owner, good, bad = chain.account(), chain.account(), chain.account()
    datanet_id = create_datanet(chain, d, owner, STAKE)
    good_id = contribute(chain, d, good, datanet_id, STAKE)
    bad_id = contribute(chain, d, bad, datanet_id, STAKE)
    treasury_before = fns.withdrawable(d.treasury.address).call()

    receipt = chain.transact(owner, fns.reject(bad_id, "spam"))
    (event,) = chain.events(d.datanets, receipt, "ContributionRejected")
    assert event["contributionId"] == bad_id
    assert event["curator"] == owner.address
    assert event["treasury"] == d.treasury.address
    assert event["stakeSlashed"] == STAKE
    assert event["reason"] == "spam"
    assert fns.getContribution(bad_id).call()[2] == REJECTED
    assert fns.withdrawable(d.treasury.address).call() == treasury_before + STAKE
    chain.expect_revert(owner, fns.reject(bad_id, "again"), "NotPending", bad_id, REJECTED)
    chain.expect_revert(owner, fns.approve([bad_id]), "NotPending", bad_id, REJECTED)
    # A rejected hash stays taken.
    content = fns.getContribution(bad_id).call()[7]
    chain.expect_revert(
        bad, fns.contribute(datanet_id, content, "u", 1), "DuplicateContent", value=STAKE
    )

    chain.transact(owner, fns.approve([good_id]))
    chain.expect_revert(owner, fns.reject(good_id, "late"), "NotPending", good_id, APPROVED)

    # Pull payments: the bad contributor has nothing, the good one gets its stake back.
    chain.expect_revert(bad, fns.withdraw(), "NothingToWithdraw", bad.address)
    before = chain.balance(good.address)
    receipt = chain.transact(good, fns.withdraw())
    gas_cost = fee_paid(receipt)
    assert chain.balance(good.address) == before + STAKE - gas_cost
    assert chain.events(d.datanets, receipt, "Withdrawn")[0]["amount"] == STAKE
    assert fns.withdrawable(good.address).call() == 0
    chain.expect_revert(good, fns.withdraw(), "NothingToWithdraw", good.address)


def test_treasury_governance(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.datanets.functions
    stranger, new_treasury = chain.account(), chain.account(fund=0)
    assert fns.owner().call() == d.governance.address
    chain.expect_revert(
        stranger,
        fns.setTreasury(new_treasury.address),
        "OwnableUnauthorizedAccount",
        stranger.address,
    )
    chain.expect_revert(d.governance, fns.setTreasury(ZERO_ADDRESS), "ZeroAddress")
    receipt = chain.transact(d.governance, fns.setTreasury(new_treasury.address))
    (event,) = chain.events(d.datanets, receipt, "TreasuryChanged")
    assert event["newTreasury"] == new_treasury.address
    assert fns.treasury().call() == new_treasury.address

    owner, contributor = chain.account(), chain.account()
    datanet_id = create_datanet(chain, d, owner, STAKE)
    cid = contribute(chain, d, contributor, datanet_id, STAKE)
    chain.transact(owner, fns.reject(cid, "x"))
    assert fns.withdrawable(new_treasury.address).call() == STAKE
    chain.transact(d.governance, fns.setTreasury(d.treasury.address))


def test_registry_holds_exactly_the_unwithdrawn_stakes(
    chain: Chain, deployment: Deployment
) -> None:
    """A fresh registry's balance is always pending stakes plus withdrawable balances."""
    d = deploy_all(chain)
    fns = d.datanets.functions
    contributors = [chain.account() for _ in range(3)]
    world = approved_datanet(chain, d, contributors[:2], stake=STAKE)
    pending = contribute(chain, d, contributors[2], world.datanet_id, STAKE)
    balance = chain.balance(d.datanets.address)
    owed = sum(fns.withdrawable(c.address).call() for c in contributors)
    assert balance == owed + STAKE  # the pending one
    chain.transact(world.owner, fns.reject(pending, "no"))
    owed = sum(
        fns.withdrawable(a).call() for a in [*(c.address for c in contributors), d.treasury.address]
    )
    assert chain.balance(d.datanets.address) == owed


def test_approve_is_all_or_nothing(chain: Chain, deployment: Deployment) -> None:
    """An id named twice, or an unknown id after good ones, refuses the whole batch: no stake
    is credited twice and no version is published."""
    d = deployment
    fns = d.datanets.functions
    owner, contributor = chain.account(), chain.account()
    datanet_id = create_datanet(chain, d, owner, STAKE)
    cid = contribute(chain, d, contributor, datanet_id, STAKE)
    chain.expect_revert(owner, fns.approve([cid, cid]), "NotPending", cid, APPROVED)
    missing = 10**9
    chain.expect_revert(owner, fns.approve([cid, missing]), "UnknownContribution", missing)
    assert fns.withdrawable(contributor.address).call() == 0
    assert fns.latestVersion(datanet_id).call() == 0
    chain.transact(owner, fns.approve([cid]))
    assert fns.withdrawable(contributor.address).call() == STAKE


def test_unknown_ids_in_owner_and_proof_calls(chain: Chain, deployment: Deployment) -> None:
    d = deployment
    fns = d.datanets.functions
    world = approved_datanet(chain, d, [chain.account()])
    missing = 10**9
    chain.expect_revert(
        world.owner, fns.removeCurator(missing, world.owner.address), "UnknownDatanet", missing
    )
    chain.expect_revert(
        world.owner,
        fns.verifyContribution(missing, 1, world.contribution_ids[0], []),
        "UnknownDatanet",
    )
    chain.expect_revert(
        world.owner,
        fns.verifyContribution(world.datanet_id, 1, missing, []),
        "UnknownContribution",
        missing,
    )


def test_constructor_and_ownership_reverts(chain: Chain, deployment: Deployment) -> None:
    revert = chain.constructor_revert("DatanetRegistry", ZERO_ADDRESS)
    assert revert.name == "ZeroAddress"
    fns = deployment.datanets.functions
    stranger = chain.account(fund=0)
    chain.expect_revert(
        stranger,
        fns.transferOwnership(stranger.address),
        "OwnableUnauthorizedAccount",
        stranger.address,
    )
    # Two-step: only the pending owner may accept (there is none yet).
    chain.expect_revert(
        stranger, fns.acceptOwnership(), "OwnableUnauthorizedAccount", stranger.address
    )
