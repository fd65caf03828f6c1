// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable2Step, Ownable} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title DatanetRegistry
/// @notice Community datasets ("datanets") curated on-chain. Contributors submit a content hash
/// (the bytes live off-chain, content-addressed) with a stake; curators approve or reject.
/// Approval returns the stake, rejection slashes it to the treasury (both as pull payments).
/// Every approval call publishes a new version of the datanet whose Merkle root covers all
/// contributions approved so far, so anyone can prove that a contribution belongs to version N.
/// @dev The version root is the root of an incremental, fixed-depth (MERKLE_DEPTH) binary tree
/// whose leaves are the approved contributions in approval order, padded with zero leaves, and
/// whose inner nodes are `Hashes.commutativeKeccak256` (sorted pairs): proofs verify with
/// OpenZeppelin's `MerkleProof.verify`. Leaf encoding: see `leafHash`. docs/contracts.md shows
/// how to build the tree and proofs off-chain.
contract DatanetRegistry is Ownable2Step, ReentrancyGuardTransient {
    /// @notice Depth of every datanet's Merkle tree: proofs have exactly this many siblings.
    uint256 public constant MERKLE_DEPTH = 32;

    /// @notice Life cycle of a contribution; only Pending ones can be approved or rejected.
    enum Status {
        None,
        Pending,
        Approved,
        Rejected
    }

    /// @notice A datanet as returned by `getDatanet`.
    struct Datanet {
        address owner;
        uint64 latestVersion;
        uint64 approvedCount;
        uint256 contributionStake;
        string metadataURI;
    }

    /// @notice A contribution as returned by `getContribution`.
    struct Contribution {
        uint256 datanetId;
        address contributor;
        Status status;
        uint64 size;
        uint64 approvedInVersion;
        uint64 leafIndex;
        uint256 stake;
        bytes32 contentHash;
        string uri;
    }

    /// @notice A published version as returned by `getVersion`.
    struct Version {
        bytes32 merkleRoot;
        uint64 contributionCount;
        uint64 blockNumber;
    }

    /// @notice Where slashed stakes are credited.
    address public treasury;

    uint256 private _datanetCount;
    uint256 private _contributionCount;
    mapping(uint256 datanetId => Datanet) private _datanets;
    mapping(uint256 contributionId => Contribution) private _contributions;
    mapping(uint256 datanetId => mapping(address account => bool)) private _curators;
    mapping(uint256 datanetId => mapping(bytes32 contentHash => uint256 contributionId))
        private _byContent;
    mapping(uint256 datanetId => uint256[]) private _datanetContributions;
    mapping(uint256 datanetId => uint256[]) private _approvedContributions;
    mapping(address contributor => uint256[]) private _contributorContributions;
    mapping(uint256 datanetId => mapping(uint256 version => Version)) private _versions;
    /// Incremental Merkle tree: the left sibling waiting at each level (deposit-contract style).
    mapping(uint256 datanetId => bytes32[MERKLE_DEPTH]) private _branches;
    mapping(address account => uint256) private _withdrawable;

    /// @notice A datanet was created; its owner is its first curator.
    event DatanetCreated(
        uint256 indexed datanetId, address indexed owner, uint256 contributionStake, string metadataURI
    );
    /// @notice `curator` may now approve and reject contributions of `datanetId`.
    event CuratorAdded(uint256 indexed datanetId, address indexed curator);
    /// @notice `curator` may no longer approve or reject contributions of `datanetId`.
    event CuratorRemoved(uint256 indexed datanetId, address indexed curator);
    /// @notice A contribution was submitted; `stake` is now held by the contract.
    event ContributionSubmitted(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed contributor,
        bytes32 contentHash,
        uint64 size,
        uint256 stake,
        string uri
    );
    /// @notice A contribution was approved into `version` at `leafIndex`; its stake was credited
    /// back to the contributor's withdrawable balance.
    event ContributionApproved(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed contributor,
        uint64 version,
        uint64 leafIndex,
        uint256 stakeReturned
    );
    /// @notice A contribution was rejected; its stake was credited to `treasury`.
    event ContributionRejected(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed curator,
        address treasury,
        uint256 stakeSlashed,
        string reason
    );
    /// @notice Version `version` of `datanetId` now holds `contributionCount` contributions
    /// under `merkleRoot`.
    event VersionPublished(
        uint256 indexed datanetId, uint64 indexed version, bytes32 merkleRoot, uint64 contributionCount
    );
    /// @notice `account` pulled `amount` of returned or slashed stakes.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice Slashed stakes are credited to `treasury` from now on.
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);

    /// @notice The address is the zero address where one is required.
    error ZeroAddress();
    /// @notice No datanet has this id.
    error UnknownDatanet(uint256 datanetId);
    /// @notice No contribution has this id.
    error UnknownContribution(uint256 contributionId);
    /// @notice Only the datanet's owner may do this.
    error NotDatanetOwner(uint256 datanetId, address account);
    /// @notice Only a curator of the datanet may do this.
    error NotCurator(uint256 datanetId, address account);
    /// @notice The account already is a curator of the datanet.
    error AlreadyCurator(uint256 datanetId, address account);
    /// @notice The account is not a curator of the datanet, so it cannot be removed.
    error NotACurator(uint256 datanetId, address account);
    /// @notice `msg.value` must equal the datanet's contribution stake exactly.
    error WrongStake(uint256 required, uint256 sent);
    /// @notice The content hash must not be zero.
    error EmptyContentHash();
    /// @notice The content size must not be zero.
    error EmptyContent();
    /// @notice This content hash was already submitted to the datanet (whatever its outcome).
    error DuplicateContent(uint256 datanetId, bytes32 contentHash, uint256 existingContributionId);
    /// @notice `approve` needs at least one contribution id.
    error EmptyBatch();
    /// @notice All ids of one `approve` call must belong to the same datanet.
    error MixedDatanets(uint256 datanetId, uint256 otherDatanetId);
    /// @notice Only pending contributions can be approved or rejected.
    error NotPending(uint256 contributionId, Status status);
    /// @notice The datanet has no such version.
    error UnknownVersion(uint256 datanetId, uint256 version);
    /// @notice The datanet's tree is full (2**MERKLE_DEPTH - 1 approved contributions).
    error DatanetFull(uint256 datanetId);
    /// @notice There is nothing to withdraw.
    error NothingToWithdraw(address account);
    /// @notice Sending OPEN to the account failed.
    error TransferFailed(address to, uint256 amount);

    /// @param treasury_ Receives slashed stakes; the deployer governs (can change the treasury).
    constructor(address treasury_) Ownable(msg.sender) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryChanged(address(0), treasury_);
    }

    // --- datanets ------------------------------------------------------------------------

    /// @notice Create a datanet owned (and curated) by the caller.
    /// @param metadataURI Where the datanet's description lives (name, schema, licence...).
    /// @param contributionStake What every contribution must send along (may be zero).
    /// @return datanetId The new datanet's id (ids start at 1).
    function createDatanet(string calldata metadataURI, uint256 contributionStake)
        external
        returns (uint256 datanetId)
    {
        datanetId = ++_datanetCount;
        Datanet storage d = _datanets[datanetId];
        d.owner = msg.sender;
        d.contributionStake = contributionStake;
        d.metadataURI = metadataURI;
        emit DatanetCreated(datanetId, msg.sender, contributionStake, metadataURI);
        _curators[datanetId][msg.sender] = true;
        emit CuratorAdded(datanetId, msg.sender);
    }

    /// @notice Let `curator` approve and reject contributions (datanet owner only).
    /// @param datanetId The datanet.
    /// @param curator The account to add.
    function addCurator(uint256 datanetId, address curator) external {
        _onlyDatanetOwner(datanetId);
        if (curator == address(0)) revert ZeroAddress();
        if (_curators[datanetId][curator]) revert AlreadyCurator(datanetId, curator);
        _curators[datanetId][curator] = true;
        emit CuratorAdded(datanetId, curator);
    }

    /// @notice Withdraw `curator`'s right to curate (datanet owner only; the owner may remove itself).
    /// @param datanetId The datanet.
    /// @param curator The account to remove.
    function removeCurator(uint256 datanetId, address curator) external {
        _onlyDatanetOwner(datanetId);
        if (!_curators[datanetId][curator]) revert NotACurator(datanetId, curator);
        _curators[datanetId][curator] = false;
        emit CuratorRemoved(datanetId, curator);
    }

    // --- contributions -------------------------------------------------------------------

    /// @notice Submit content to a datanet; `msg.value` must be the datanet's contribution stake.
    /// @param datanetId The datanet.
    /// @param contentHash Hash identifying the off-chain content (non-zero, unique per datanet).
    /// @param uri Where the content can be fetched.
    /// @param size Content size in bytes (non-zero).
    /// @return contributionId The new contribution's id (ids start at 1, global across datanets).
    function contribute(uint256 datanetId, bytes32 contentHash, string calldata uri, uint64 size)
        external
        payable
        returns (uint256 contributionId)
    {
        Datanet storage d = _datanet(datanetId);
        if (msg.value != d.contributionStake) revert WrongStake(d.contributionStake, msg.value);
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        if (size == 0) revert EmptyContent();
        uint256 existing = _byContent[datanetId][contentHash];
        if (existing != 0) revert DuplicateContent(datanetId, contentHash, existing);

        contributionId = ++_contributionCount;
        Contribution storage c = _contributions[contributionId];
        c.datanetId = datanetId;
        c.contributor = msg.sender;
        c.status = Status.Pending;
        c.size = size;
        c.stake = msg.value;
        c.contentHash = contentHash;
        c.uri = uri;
        _byContent[datanetId][contentHash] = contributionId;
        _datanetContributions[datanetId].push(contributionId);
        _contributorContributions[msg.sender].push(contributionId);
        emit ContributionSubmitted(
            contributionId, datanetId, msg.sender, contentHash, size, msg.value, uri
        );
    }

    /// @notice Approve pending contributions of one datanet (its curators only) and publish the
    /// datanet's next version. Each stake is credited back to its contributor (see `withdraw`).
    /// @param contributionIds Pending contributions of one datanet; they become leaves in this order.
    /// @return version The version published by this call.
    function approve(uint256[] calldata contributionIds) external returns (uint64 version) {
        if (contributionIds.length == 0) revert EmptyBatch();
        uint256 datanetId = _contribution(contributionIds[0]).datanetId;
        _onlyCurator(datanetId);
        Datanet storage d = _datanets[datanetId];
        version = d.latestVersion + 1;
        uint64 count = d.approvedCount;
        for (uint256 i = 0; i < contributionIds.length; ++i) {
            uint256 id = contributionIds[i];
            Contribution storage c = _contribution(id);
            if (c.datanetId != datanetId) revert MixedDatanets(datanetId, c.datanetId);
            if (c.status != Status.Pending) revert NotPending(id, c.status);
            c.status = Status.Approved;
            c.approvedInVersion = version;
            c.leafIndex = count;
            _insertLeaf(datanetId, count, leafHash(datanetId, id, c.contributor, c.contentHash));
            _approvedContributions[datanetId].push(id);
            _withdrawable[c.contributor] += c.stake;
            emit ContributionApproved(id, datanetId, c.contributor, version, count, c.stake);
            ++count;
        }
        bytes32 root = _root(datanetId, count);
        d.latestVersion = version;
        d.approvedCount = count;
        _versions[datanetId][version] = Version(root, count, uint64(block.number));
        emit VersionPublished(datanetId, version, root, count);
    }

    /// @notice Reject a pending contribution (its datanet's curators only); its stake is credited
    /// to the treasury.
    /// @param contributionId The contribution.
    /// @param reason Free text for the contributor, kept in the event only.
    function reject(uint256 contributionId, string calldata reason) external {
        Contribution storage c = _contribution(contributionId);
        uint256 datanetId = c.datanetId;
        _onlyCurator(datanetId);
        if (c.status != Status.Pending) revert NotPending(contributionId, c.status);
        c.status = Status.Rejected;
        address to = treasury;
        _withdrawable[to] += c.stake;
        emit ContributionRejected(contributionId, datanetId, msg.sender, to, c.stake, reason);
    }

    /// @notice Pull every returned stake (contributors) or slashed stake (treasury) owed to the caller.
    /// @return amount What was sent.
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Credit slashed stakes to `newTreasury` from now on (governance only); what the old
    /// treasury was already credited stays its own.
    /// @param newTreasury The new treasury.
    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, newTreasury);
        treasury = newTreasury;
    }

    // --- views ---------------------------------------------------------------------------

    /// @notice The Merkle leaf of an approved contribution:
    /// `keccak256(bytes.concat(keccak256(abi.encode(datanetId, contributionId, contributor, contentHash))))`
    /// (double hashing, as OpenZeppelin's StandardMerkleTree, so a leaf is never a valid inner node).
    /// @param datanetId The contribution's datanet.
    /// @param contributionId The contribution.
    /// @param contributor Who submitted it.
    /// @param contentHash Its content hash.
    /// @return The leaf hash.
    function leafHash(uint256 datanetId, uint256 contributionId, address contributor, bytes32 contentHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(
            bytes.concat(keccak256(abi.encode(datanetId, contributionId, contributor, contentHash)))
        );
    }

    /// @notice The leaf of a contribution as it is (or would be) placed in its datanet's tree.
    /// @param contributionId The contribution.
    /// @return The leaf hash.
    function leafOf(uint256 contributionId) external view returns (bytes32) {
        Contribution storage c = _contribution(contributionId);
        return leafHash(c.datanetId, contributionId, c.contributor, c.contentHash);
    }

    /// @notice Whether `proof` shows that `contributionId` belongs to `version` of `datanetId`.
    /// @param datanetId The datanet.
    /// @param version The version whose root is checked.
    /// @param contributionId The contribution.
    /// @param proof MERKLE_DEPTH sibling hashes from the leaf up (sorted-pair tree).
    /// @return True iff the contribution's leaf and proof lead to the version's root.
    function verifyContribution(
        uint256 datanetId,
        uint64 version,
        uint256 contributionId,
        bytes32[] calldata proof
    ) external view returns (bool) {
        Version storage v = _version(datanetId, version);
        Contribution storage c = _contribution(contributionId);
        bytes32 leaf = leafHash(datanetId, contributionId, c.contributor, c.contentHash);
        return MerkleProof.verifyCalldata(proof, v.merkleRoot, leaf);
    }

    /// @notice How many datanets exist; their ids are 1..datanetCount.
    /// @return The count.
    function datanetCount() external view returns (uint256) {
        return _datanetCount;
    }

    /// @notice How many contributions exist (all datanets); their ids are 1..contributionCount.
    /// @return The count.
    function contributionCount() external view returns (uint256) {
        return _contributionCount;
    }

    /// @notice One datanet.
    /// @param datanetId The datanet.
    /// @return The datanet record.
    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        return _datanet(datanetId);
    }

    /// @notice One contribution.
    /// @param contributionId The contribution.
    /// @return The contribution record.
    function getContribution(uint256 contributionId) external view returns (Contribution memory) {
        return _contribution(contributionId);
    }

    /// @notice One published version of a datanet (versions are 1..latestVersion).
    /// @param datanetId The datanet.
    /// @param version The version.
    /// @return The version record.
    function getVersion(uint256 datanetId, uint64 version) external view returns (Version memory) {
        return _version(datanetId, version);
    }

    /// @notice Every contribution submitted to a datanet, in submission order, whatever its status.
    /// @param datanetId The datanet.
    /// @return The contribution ids.
    function contributionsOf(uint256 datanetId) external view returns (uint256[] memory) {
        _datanet(datanetId);
        return _datanetContributions[datanetId];
    }

    /// @notice The approved contributions of a datanet in leaf order: the first `contributionCount`
    /// of them are the leaves of a version.
    /// @param datanetId The datanet.
    /// @return The contribution ids.
    function approvedContributionsOf(uint256 datanetId) external view returns (uint256[] memory) {
        _datanet(datanetId);
        return _approvedContributions[datanetId];
    }

    /// @notice Every contribution submitted by `contributor`, in submission order.
    /// @param contributor The account.
    /// @return The contribution ids.
    function contributionsByContributor(address contributor) external view returns (uint256[] memory) {
        return _contributorContributions[contributor];
    }

    /// @notice Whether `account` may approve and reject contributions of `datanetId`.
    /// @param datanetId The datanet.
    /// @param account The account.
    /// @return True for curators.
    function isCurator(uint256 datanetId, address account) external view returns (bool) {
        return _curators[datanetId][account];
    }

    /// @notice Stakes (returned or slashed) that `account` can pull with `withdraw`.
    /// @param account The account.
    /// @return The amount in wei.
    function withdrawable(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @notice What a settlement needs to know about a contribution, in one call.
    /// @param contributionId The contribution.
    /// @return contributor Who is rewarded for it.
    /// @return datanetId Its datanet.
    /// @return approvedInVersion The version that first contained it (0 if not approved).
    function attributionInfo(uint256 contributionId)
        external
        view
        returns (address contributor, uint256 datanetId, uint64 approvedInVersion)
    {
        Contribution storage c = _contributions[contributionId];
        return (c.contributor, c.datanetId, c.approvedInVersion);
    }

    /// @notice The latest version of a datanet: 0 before the first approval and for unknown ids
    /// (never reverts, so other contracts can check a version with one call).
    /// @param datanetId The datanet.
    /// @return The version number.
    function latestVersion(uint256 datanetId) external view returns (uint64) {
        return _datanets[datanetId].latestVersion;
    }

    // --- internals -----------------------------------------------------------------------

    function _datanet(uint256 datanetId) private view returns (Datanet storage d) {
        d = _datanets[datanetId];
        if (d.owner == address(0)) revert UnknownDatanet(datanetId);
    }

    function _contribution(uint256 contributionId) private view returns (Contribution storage c) {
        c = _contributions[contributionId];
        if (c.status == Status.None) revert UnknownContribution(contributionId);
    }

    function _version(uint256 datanetId, uint64 version) private view returns (Version storage v) {
        Datanet storage d = _datanet(datanetId);
        if (version == 0 || version > d.latestVersion) revert UnknownVersion(datanetId, version);
        v = _versions[datanetId][version];
    }

    function _onlyDatanetOwner(uint256 datanetId) private view {
        if (_datanet(datanetId).owner != msg.sender) revert NotDatanetOwner(datanetId, msg.sender);
    }

    function _onlyCurator(uint256 datanetId) private view {
        if (!_curators[datanetId][msg.sender]) revert NotCurator(datanetId, msg.sender);
    }

    /// Insert the leaf at position `index` (== number of leaves before it).
    function _insertLeaf(uint256 datanetId, uint256 index, bytes32 leaf) private {
        if (index + 1 >= 1 << MERKLE_DEPTH) revert DatanetFull(datanetId);
        bytes32[MERKLE_DEPTH] storage branch = _branches[datanetId];
        bytes32 node = leaf;
        uint256 size = index + 1;
        for (uint256 level = 0; level < MERKLE_DEPTH; ++level) {
            if (size & 1 == 1) {
                branch[level] = node;
                return;
            }
            node = Hashes.commutativeKeccak256(branch[level], node);
            size >>= 1;
        }
    }

    /// Root of the tree holding the first `size` leaves, zero-padded to 2**MERKLE_DEPTH leaves.
    function _root(uint256 datanetId, uint256 size) private view returns (bytes32 node) {
        bytes32[MERKLE_DEPTH] storage branch = _branches[datanetId];
        bytes32 zero = bytes32(0);
        for (uint256 level = 0; level < MERKLE_DEPTH; ++level) {
            if (size & 1 == 1) node = Hashes.commutativeKeccak256(branch[level], node);
            else node = Hashes.commutativeKeccak256(node, zero);
            zero = Hashes.commutativeKeccak256(zero, zero);
            size >>= 1;
        }
    }
}
