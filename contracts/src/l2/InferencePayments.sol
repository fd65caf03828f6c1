// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable2Step, Ownable} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {DatanetRegistry} from "./DatanetRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";

/// @title InferencePayments
/// @notice Paid inference and attribution rewards in one contract. Users prepay native OPEN and
/// sign EIP-712 spending sessions; staked serving operators settle inferences against those
/// sessions (one or many per transaction); each fee is split exactly between the adapter owner,
/// the contributors named by the attribution (pro rata to integer weights) and the treasury.
/// Everyone withdraws what they are owed (pull payments).
/// @dev One contract rather than two (payments + rewards): a settlement moves OPEN from a user's
/// prepaid balance to the recipients' claimable balances, and keeping both ledgers in one
/// storage makes that a pair of SSTOREs instead of a value-carrying external call per inference,
/// and keeps the solvency invariant in one place:
/// `address(this).balance == sum(balanceOf) + sum(claimable) + sum(operator stakes)`.
contract InferencePayments is Ownable2Step, EIP712, ReentrancyGuardTransient {
    /// @notice Denominator of the fee split.
    uint256 public constant BPS = 10_000;

    /// @notice EIP-712 type hash of `SpendingSession`.
    bytes32 public constant SESSION_TYPEHASH = keccak256(
        "SpendingSession(address user,address operator,uint256 adapterId,uint256 maxTotal,uint64 expiry,uint256 nonce)"
    );

    /// @notice A user's permission for one operator to charge it, signed with EIP-712
    /// (domain: name "OpenLedger InferencePayments", version "1", chain id, this contract).
    struct SpendingSession {
        address user;
        /// The only account that may settle against this session.
        address operator;
        /// 0: any adapter; otherwise only this one.
        uint256 adapterId;
        /// The most the session may ever be charged in total, in wei.
        uint256 maxTotal;
        /// Unix time from which the session is expired (settlement needs `block.timestamp < expiry`).
        uint64 expiry;
        /// Chosen by the user; identifies the session among the user's sessions.
        uint256 nonce;
    }

    /// @notice One served inference to settle.
    struct Settlement {
        SpendingSession session;
        /// The user's signature over the session (65-byte ECDSA, or ERC-1271 for contract
        /// wallets); may be empty once the session has been used once.
        bytes signature;
        uint256 adapterId;
        /// Hash of the request; each request hash can be settled once.
        bytes32 requestHash;
        bytes32 outputHash;
        /// Rewarded contributions, strictly ascending, of the adapter's datanet version.
        uint256[] contributionIds;
        /// One positive integer weight per contribution.
        uint64[] weights;
    }

    /// @notice The fee split in basis points; the three parts sum to BPS.
    struct FeeSplit {
        uint16 ownerBps;
        uint16 contributorsBps;
        uint16 treasuryBps;
    }

    /// @notice A serving operator as returned by `operatorInfo`.
    struct Operator {
        uint256 stake;
        bool registered;
        bool exiting;
        uint64 exitAvailableAt;
    }

    /// @notice Per (user, nonce): which session the nonce is bound to, its spending, revocation.
    struct SessionState {
        bytes32 digest;
        uint256 spent;
        bool revoked;
    }

    /// @notice What one settlement pays, carried between its internal steps.
    struct Payout {
        uint256 inferenceId;
        uint256 adapterId;
        address adapterOwner;
        uint256 fee;
        uint256 datanetId;
        uint64 datanetVersion;
    }

    /// @notice Who a reward was credited to, as recorded in `RewardCredited`.
    enum RewardKind {
        Owner,
        Contributor,
        Treasury
    }

    /// @notice Where adapters (owner, price, datanet version) are read from.
    ModelRegistry public immutable models;
    /// @notice Where contributions (contributor, datanet, version) are read from.
    DatanetRegistry public immutable datanets;
    /// @notice Credited with the treasury share and with slashed operator stakes.
    address public treasury;
    /// @notice Current fee split.
    FeeSplit public feeSplit;
    /// @notice Stake an operator needs to register and to settle.
    uint256 public minOperatorStake;
    /// @notice Seconds between `requestExit` and `withdrawStake`, so governance can still slash.
    uint64 public unbondingPeriod;
    /// @notice Inferences settled so far; their ids are 1..inferenceCount.
    uint256 public inferenceCount;

    mapping(address user => uint256) private _balances;
    mapping(address account => uint256) private _claimable;
    mapping(address account => mapping(uint256 datanetId => uint256)) private _earnedByDatanet;
    mapping(address account => mapping(uint256 adapterId => uint256)) private _earnedByAdapter;
    mapping(address operator => Operator) private _operators;
    mapping(address user => mapping(uint256 nonce => SessionState)) private _sessions;
    mapping(bytes32 requestHash => uint256 inferenceId) private _inferenceByRequest;

    /// @notice `from` added `amount` to `user`'s prepaid balance.
    event Deposited(address indexed user, address indexed from, uint256 amount);
    /// @notice `user` took `amount` of its unspent prepaid balance back.
    event Withdrawn(address indexed user, uint256 amount);
    /// @notice A session was used for the first time (its signature checked and its nonce bound).
    event SessionOpened(
        address indexed user,
        uint256 indexed nonce,
        address indexed operator,
        uint256 adapterId,
        uint256 maxTotal,
        uint64 expiry,
        bytes32 digest
    );
    /// @notice `user` revoked its session `nonce`: it can never be charged again.
    event SessionRevoked(address indexed user, uint256 indexed nonce);
    /// @notice An inference was settled: `fee` left `user`'s balance; the attribution is
    /// `contributionIds` with `weights`. The credits follow as `RewardCredited` events.
    event InferenceSettled(
        uint256 indexed inferenceId,
        address indexed user,
        address indexed operator,
        uint256 adapterId,
        uint256 sessionNonce,
        uint256 fee,
        bytes32 requestHash,
        bytes32 outputHash,
        uint256[] contributionIds,
        uint64[] weights
    );
    /// @notice `amount` was added to `account`'s claimable balance for inference `inferenceId`
    /// (`contributionId` is 0 for the owner and treasury shares).
    event RewardCredited(
        address indexed account,
        uint256 indexed inferenceId,
        uint256 indexed adapterId,
        RewardKind kind,
        uint256 contributionId,
        uint256 datanetId,
        uint256 amount
    );
    /// @notice `account` withdrew its claimable balance.
    event RewardsClaimed(address indexed account, uint256 amount);
    /// @notice `operator` registered with `stake`.
    event OperatorRegistered(address indexed operator, uint256 stake);
    /// @notice `operator` added `amount`; its stake is now `stake`.
    event StakeAdded(address indexed operator, uint256 amount, uint256 stake);
    /// @notice `operator` stopped settling; it can withdraw its stake from `availableAt`.
    event ExitRequested(address indexed operator, uint64 availableAt);
    /// @notice `operator` left and took its remaining stake.
    event StakeWithdrawn(address indexed operator, uint256 amount);
    /// @notice Governance moved `amount` of `operator`'s stake to `treasury`'s claimable balance.
    event OperatorSlashed(address indexed operator, address indexed treasury, uint256 amount, string reason);
    /// @notice New fee split.
    event FeeSplitChanged(uint16 ownerBps, uint16 contributorsBps, uint16 treasuryBps);
    /// @notice New treasury for future credits.
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);
    /// @notice New minimum operator stake.
    event MinOperatorStakeChanged(uint256 minOperatorStake);
    /// @notice New unbonding period.
    event UnbondingPeriodChanged(uint64 unbondingPeriod);

    /// @notice The address is the zero address where one is required.
    error ZeroAddress();
    /// @notice The amount must not be zero.
    error ZeroAmount();
    /// @notice The prepaid balance is smaller than what is asked.
    error InsufficientBalance(uint256 available, uint256 required);
    /// @notice There are no rewards to claim.
    error NothingToClaim(address account);
    /// @notice Sending OPEN to the account failed.
    error TransferFailed(address to, uint256 amount);
    /// @notice The three parts do not sum to BPS.
    error InvalidSplit(uint256 ownerBps, uint256 contributorsBps, uint256 treasuryBps);
    /// @notice The account is already a registered operator.
    error AlreadyRegistered(address operator);
    /// @notice The account is not a registered operator.
    error NotOperator(address account);
    /// @notice The stake is below the minimum.
    error InsufficientStake(uint256 required, uint256 stake);
    /// @notice The operator has requested its exit: it can no longer settle or add stake.
    error OperatorExiting(address operator);
    /// @notice `withdrawStake` needs `requestExit` first.
    error ExitNotRequested(address operator);
    /// @notice The unbonding period is not over yet.
    error UnbondingNotOver(uint64 availableAt);
    /// @notice Governance tried to slash more than the stake.
    error SlashExceedsStake(uint256 stake, uint256 amount);
    /// @notice The session names another operator than the caller.
    error WrongOperator(address sessionOperator, address caller);
    /// @notice The session has expired.
    error SessionExpired(uint64 expiry);
    /// @notice The session is restricted to another adapter.
    error WrongAdapter(uint256 sessionAdapterId, uint256 adapterId);
    /// @notice The user revoked this session nonce.
    error SessionIsRevoked(address user, uint256 nonce);
    /// @notice The session nonce was already revoked.
    error AlreadyRevoked(address user, uint256 nonce);
    /// @notice The signature is not the user's over this session.
    error InvalidSignature(address user);
    /// @notice The nonce is already bound to a different session of this user.
    error NonceAlreadyUsed(address user, uint256 nonce);
    /// @notice Charging would exceed the session's maximum total.
    error SessionLimitExceeded(uint256 maxTotal, uint256 wouldSpend);
    /// @notice The request hash must not be zero.
    error EmptyRequestHash();
    /// @notice The request hash was already settled.
    error DuplicateRequest(bytes32 requestHash, uint256 inferenceId);
    /// @notice No adapter has this id.
    error UnknownAdapter(uint256 adapterId);
    /// @notice The adapter is deprecated.
    error AdapterIsDeprecated(uint256 adapterId);
    /// @notice The attribution must name at least one contribution.
    error EmptyAttribution();
    /// @notice `contributionIds` and `weights` differ in length.
    error LengthMismatch(uint256 contributions, uint256 weights);
    /// @notice Weights must be positive.
    error ZeroWeight(uint256 index);
    /// @notice Contribution ids must be strictly ascending (so none is named twice).
    error UnsortedContributions(uint256 index);
    /// @notice The contribution is not an approved contribution of the adapter's datanet
    /// version (or earlier).
    error ContributionNotRewardable(uint256 contributionId, uint256 adapterId);
    /// @notice `settleBatch` needs at least one settlement.
    error EmptyBatch();

    /// @param models_ The ModelRegistry.
    /// @param datanets_ The DatanetRegistry.
    /// @param treasury_ Receives the treasury share and slashed stakes.
    /// @param governance Owner: sets the split, stake rules and treasury, and slashes operators.
    constructor(ModelRegistry models_, DatanetRegistry datanets_, address treasury_, address governance)
        Ownable(governance)
        EIP712("OpenLedger InferencePayments", "1")
    {
        if (address(models_) == address(0) || address(datanets_) == address(0) || treasury_ == address(0)) {
            revert ZeroAddress();
        }
        models = models_;
        datanets = datanets_;
        treasury = treasury_;
        emit TreasuryChanged(address(0), treasury_);
        _setFeeSplit(4_000, 5_000, 1_000);
        minOperatorStake = 1 ether;
        emit MinOperatorStakeChanged(1 ether);
        unbondingPeriod = 7 days;
        emit UnbondingPeriodChanged(7 days);
    }

    // --- prepaid balances ----------------------------------------------------------------

    /// @notice Add `msg.value` to the caller's prepaid balance.
    function deposit() external payable {
        _deposit(msg.sender);
    }

    /// @notice Add `msg.value` to `user`'s prepaid balance (e.g. a dApp topping up its users).
    /// @param user Whose balance grows.
    function depositFor(address user) external payable {
        if (user == address(0)) revert ZeroAddress();
        _deposit(user);
    }

    /// @notice Take unspent prepaid OPEN back.
    /// @param amount Wei to withdraw (at most `balanceOf(msg.sender)`).
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _balances[msg.sender];
        if (available < amount) revert InsufficientBalance(available, amount);
        _balances[msg.sender] = available - amount;
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Withdraw every reward (and, for the treasury, slashed stake) credited to the caller.
    /// @return amount What was sent.
    function claimRewards() external nonReentrant returns (uint256 amount) {
        amount = _claimable[msg.sender];
        if (amount == 0) revert NothingToClaim(msg.sender);
        _claimable[msg.sender] = 0;
        emit RewardsClaimed(msg.sender, amount);
        _send(msg.sender, amount);
    }

    // --- sessions ------------------------------------------------------------------------

    /// @notice Revoke the caller's session `nonce` for good, used or not: no operator can charge
    /// it again, and no other session with this nonce can ever be used.
    /// @param nonce The session nonce.
    function revokeSession(uint256 nonce) external {
        SessionState storage st = _sessions[msg.sender][nonce];
        if (st.revoked) revert AlreadyRevoked(msg.sender, nonce);
        st.revoked = true;
        emit SessionRevoked(msg.sender, nonce);
    }

    // --- operators -----------------------------------------------------------------------

    /// @notice Register the caller as a serving operator with `msg.value` as stake.
    function registerOperator() external payable {
        Operator storage op = _operators[msg.sender];
        if (op.registered) revert AlreadyRegistered(msg.sender);
        if (msg.value < minOperatorStake) revert InsufficientStake(minOperatorStake, msg.value);
        op.registered = true;
        op.stake = msg.value;
        emit OperatorRegistered(msg.sender, msg.value);
    }

    /// @notice Add `msg.value` to the caller's stake (e.g. after a slash or a higher minimum).
    function addStake() external payable {
        Operator storage op = _operator(msg.sender);
        if (op.exiting) revert OperatorExiting(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        op.stake += msg.value;
        emit StakeAdded(msg.sender, msg.value, op.stake);
    }

    /// @notice Stop settling and start the unbonding period.
    function requestExit() external {
        Operator storage op = _operator(msg.sender);
        if (op.exiting) revert OperatorExiting(msg.sender);
        op.exiting = true;
        op.exitAvailableAt = uint64(block.timestamp) + unbondingPeriod;
        emit ExitRequested(msg.sender, op.exitAvailableAt);
    }

    /// @notice After the unbonding period, leave and take the remaining stake.
    /// @return amount What was sent.
    function withdrawStake() external nonReentrant returns (uint256 amount) {
        Operator storage op = _operator(msg.sender);
        if (!op.exiting) revert ExitNotRequested(msg.sender);
        if (block.timestamp < op.exitAvailableAt) revert UnbondingNotOver(op.exitAvailableAt);
        amount = op.stake;
        delete _operators[msg.sender];
        emit StakeWithdrawn(msg.sender, amount);
        if (amount != 0) _send(msg.sender, amount);
    }

    // --- settlement ----------------------------------------------------------------------

    /// @notice Charge one inference to a user's session and split its fee (active operators only).
    /// @param s The settlement.
    /// @return inferenceId The new inference id.
    function settle(Settlement calldata s) external returns (uint256 inferenceId) {
        _onlyActiveOperator();
        inferenceId = inferenceCount + 1;
        _settle(s, inferenceId);
        inferenceCount = inferenceId;
    }

    /// @notice Settle many inferences atomically (all or none), for throughput.
    /// @param batch The settlements, charged in order.
    /// @return firstInferenceId The id of the first; the others follow consecutively.
    function settleBatch(Settlement[] calldata batch) external returns (uint256 firstInferenceId) {
        if (batch.length == 0) revert EmptyBatch();
        _onlyActiveOperator();
        firstInferenceId = inferenceCount + 1;
        for (uint256 i = 0; i < batch.length; ++i) {
            _settle(batch[i], firstInferenceId + i);
        }
        inferenceCount = firstInferenceId + batch.length - 1;
    }

    // --- governance ----------------------------------------------------------------------

    /// @notice Set the fee split (governance only); the parts must sum to BPS.
    /// @param ownerBps Share of the adapter owner.
    /// @param contributorsBps Share of the attributed contributors, split by weight.
    /// @param treasuryBps Share of the protocol treasury.
    function setFeeSplit(uint16 ownerBps, uint16 contributorsBps, uint16 treasuryBps) external onlyOwner {
        _setFeeSplit(ownerBps, contributorsBps, treasuryBps);
    }

    /// @notice Credit future treasury shares and slashes to `newTreasury` (governance only).
    /// @param newTreasury The new treasury.
    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, newTreasury);
        treasury = newTreasury;
    }

    /// @notice Set the stake needed to register and to settle (governance only).
    /// @param newMinimum Wei.
    function setMinOperatorStake(uint256 newMinimum) external onlyOwner {
        minOperatorStake = newMinimum;
        emit MinOperatorStakeChanged(newMinimum);
    }

    /// @notice Set the delay between `requestExit` and `withdrawStake` (governance only); applies
    /// to exits requested afterwards.
    /// @param newPeriod Seconds.
    function setUnbondingPeriod(uint64 newPeriod) external onlyOwner {
        unbondingPeriod = newPeriod;
        emit UnbondingPeriodChanged(newPeriod);
    }

    /// @notice Move part of an operator's stake to the treasury (governance only), e.g. for a
    /// settlement it could not justify. Works until the operator has withdrawn its stake.
    /// @param operator The operator.
    /// @param amount Wei to slash (positive, at most its stake).
    /// @param reason Kept in the event.
    function slash(address operator, uint256 amount, string calldata reason) external onlyOwner {
        Operator storage op = _operator(operator);
        if (amount == 0) revert ZeroAmount();
        if (amount > op.stake) revert SlashExceedsStake(op.stake, amount);
        op.stake -= amount;
        address to = treasury;
        _claimable[to] += amount;
        emit OperatorSlashed(operator, to, amount, reason);
    }

    // --- views ---------------------------------------------------------------------------

    /// @notice A user's unspent prepaid balance.
    /// @param user The user.
    /// @return Wei.
    function balanceOf(address user) external view returns (uint256) {
        return _balances[user];
    }

    /// @notice What `account` can withdraw with `claimRewards`.
    /// @param account The account.
    /// @return Wei.
    function claimable(address account) external view returns (uint256) {
        return _claimable[account];
    }

    /// @notice Total contributor rewards ever credited to `account` for contributions of `datanetId`.
    /// @param account The contributor.
    /// @param datanetId The datanet.
    /// @return Wei.
    function earningsByDatanet(address account, uint256 datanetId) external view returns (uint256) {
        return _earnedByDatanet[account][datanetId];
    }

    /// @notice Total ever credited to `account` (as owner, contributor or treasury) from
    /// inferences of `adapterId`.
    /// @param account The account.
    /// @param adapterId The adapter.
    /// @return Wei.
    function earningsByAdapter(address account, uint256 adapterId) external view returns (uint256) {
        return _earnedByAdapter[account][adapterId];
    }

    /// @notice An operator's record (all zero if it never registered or has left).
    /// @param operator The account.
    /// @return The record.
    function operatorInfo(address operator) external view returns (Operator memory) {
        return _operators[operator];
    }

    /// @notice Whether `operator` may settle now (registered, not exiting, stake at the minimum).
    /// @param operator The account.
    /// @return True if it may.
    function isActiveOperator(address operator) public view returns (bool) {
        Operator storage op = _operators[operator];
        return op.registered && !op.exiting && op.stake >= minOperatorStake;
    }

    /// @notice The state of `user`'s session `nonce`.
    /// @param user The user.
    /// @param nonce The nonce.
    /// @return The bound digest (zero before first use), the amount spent and whether revoked.
    function sessionState(address user, uint256 nonce) external view returns (SessionState memory) {
        return _sessions[user][nonce];
    }

    /// @notice The EIP-712 digest a user signs for `session` (and the session's identity).
    /// @param session The session.
    /// @return The digest.
    function hashSession(SpendingSession calldata session) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SESSION_TYPEHASH,
                    session.user,
                    session.operator,
                    session.adapterId,
                    session.maxTotal,
                    session.expiry,
                    session.nonce
                )
            )
        );
    }

    /// @notice The inference that settled `requestHash` (0 if none).
    /// @param requestHash The request hash.
    /// @return The inference id.
    function inferenceIdOf(bytes32 requestHash) external view returns (uint256) {
        return _inferenceByRequest[requestHash];
    }

    /// @notice How a fee would be split now: `ownerAmount = fee * ownerBps / BPS` and
    /// `treasuryAmount = fee * treasuryBps / BPS` (both rounded down); the rest is the
    /// contributors' pool, `shares[i] = pool * weights[i] / sum(weights)` rounded down, and the
    /// pool's rounding remainder goes to the largest weight (the first one on a tie).
    /// The parts always sum to `fee` exactly.
    /// @param fee Wei.
    /// @param weights Positive weights.
    /// @return ownerAmount The adapter owner's part.
    /// @return treasuryAmount The treasury's part.
    /// @return shares Each contributor's part, in the order of `weights`.
    function splitFee(uint256 fee, uint64[] calldata weights)
        public
        view
        returns (uint256 ownerAmount, uint256 treasuryAmount, uint256[] memory shares)
    {
        if (weights.length == 0) revert EmptyAttribution();
        FeeSplit memory f = feeSplit;
        ownerAmount = fee * f.ownerBps / BPS;
        treasuryAmount = fee * f.treasuryBps / BPS;
        uint256 pool = fee - ownerAmount - treasuryAmount;
        uint256 total;
        uint256 largest;
        for (uint256 i = 0; i < weights.length; ++i) {
            if (weights[i] == 0) revert ZeroWeight(i);
            total += weights[i];
            if (weights[i] > weights[largest]) largest = i;
        }
        shares = new uint256[](weights.length);
        uint256 distributed;
        for (uint256 i = 0; i < weights.length; ++i) {
            shares[i] = pool * weights[i] / total;
            distributed += shares[i];
        }
        shares[largest] += pool - distributed;
    }

    // --- internals -----------------------------------------------------------------------

    function _deposit(address user) private {
        if (msg.value == 0) revert ZeroAmount();
        _balances[user] += msg.value;
        emit Deposited(user, msg.sender, msg.value);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    function _setFeeSplit(uint16 ownerBps, uint16 contributorsBps, uint16 treasuryBps) private {
        if (uint256(ownerBps) + contributorsBps + treasuryBps != BPS) {
            revert InvalidSplit(ownerBps, contributorsBps, treasuryBps);
        }
        feeSplit = FeeSplit(ownerBps, contributorsBps, treasuryBps);
        emit FeeSplitChanged(ownerBps, contributorsBps, treasuryBps);
    }

    function _operator(address account) private view returns (Operator storage op) {
        op = _operators[account];
        if (!op.registered) revert NotOperator(account);
    }

    function _onlyActiveOperator() private view {
        Operator storage op = _operator(msg.sender);
        if (op.exiting) revert OperatorExiting(msg.sender);
        if (op.stake < minOperatorStake) revert InsufficientStake(minOperatorStake, op.stake);
    }

    /// Charge one inference to its session, record it, then split its fee.
    function _settle(Settlement calldata s, uint256 inferenceId) private {
        if (s.requestHash == bytes32(0)) revert EmptyRequestHash();
        uint256 previous = _inferenceByRequest[s.requestHash];
        if (previous != 0) revert DuplicateRequest(s.requestHash, previous);
        _inferenceByRequest[s.requestHash] = inferenceId;
        Payout memory p = _charge(s);
        p.inferenceId = inferenceId;
        emit InferenceSettled(
            inferenceId,
            s.session.user,
            msg.sender,
            p.adapterId,
            s.session.nonce,
            p.fee,
            s.requestHash,
            s.outputHash,
            s.contributionIds,
            s.weights
        );
        _distribute(s, p);
    }

    /// Check the session (binding its nonce on first use) and the adapter, and move the fee
    /// out of the user's prepaid balance.
    function _charge(Settlement calldata s) private returns (Payout memory p) {
        SpendingSession calldata session = s.session;
        if (session.operator != msg.sender) revert WrongOperator(session.operator, msg.sender);
        if (block.timestamp >= session.expiry) revert SessionExpired(session.expiry);
        if (session.adapterId != 0 && session.adapterId != s.adapterId) {
            revert WrongAdapter(session.adapterId, s.adapterId);
        }
        SessionState storage st = _sessions[session.user][session.nonce];
        if (st.revoked) revert SessionIsRevoked(session.user, session.nonce);
        bytes32 digest = hashSession(session);
        if (st.digest == bytes32(0)) {
            if (!SignatureChecker.isValidSignatureNowCalldata(session.user, digest, s.signature)) {
                revert InvalidSignature(session.user);
            }
            st.digest = digest;
            emit SessionOpened(
                session.user,
                session.nonce,
                session.operator,
                session.adapterId,
                session.maxTotal,
                session.expiry,
                digest
            );
        } else if (st.digest != digest) {
            revert NonceAlreadyUsed(session.user, session.nonce);
        }

        p.adapterId = s.adapterId;
        bool deprecated;
        (p.adapterOwner, p.fee, p.datanetId, p.datanetVersion, deprecated) = models.settlementInfo(p.adapterId);
        if (p.adapterOwner == address(0)) revert UnknownAdapter(p.adapterId);
        if (deprecated) revert AdapterIsDeprecated(p.adapterId);
        uint256 spent = st.spent + p.fee;
        if (spent > session.maxTotal) revert SessionLimitExceeded(session.maxTotal, spent);
        uint256 available = _balances[session.user];
        if (available < p.fee) revert InsufficientBalance(available, p.fee);
        st.spent = spent;
        _balances[session.user] = available - p.fee;
    }

    /// Credit the owner, contributors and treasury their parts of the fee.
    function _distribute(Settlement calldata s, Payout memory p) private {
        uint256 n = s.contributionIds.length;
        if (n != s.weights.length) revert LengthMismatch(n, s.weights.length);
        (uint256 ownerAmount, uint256 treasuryAmount, uint256[] memory shares) = splitFee(p.fee, s.weights);
        uint256 previousId;
        for (uint256 i = 0; i < n; ++i) {
            uint256 contributionId = s.contributionIds[i];
            if (contributionId <= previousId) revert UnsortedContributions(i);
            previousId = contributionId;
            (address contributor, uint256 datanetId, uint64 approvedIn) = datanets.attributionInfo(contributionId);
            if (datanetId != p.datanetId || approvedIn == 0 || approvedIn > p.datanetVersion) {
                revert ContributionNotRewardable(contributionId, p.adapterId);
            }
            if (shares[i] != 0) {
                _earnedByDatanet[contributor][datanetId] += shares[i];
                _credit(contributor, p, RewardKind.Contributor, contributionId, shares[i]);
            }
        }
        if (ownerAmount != 0) _credit(p.adapterOwner, p, RewardKind.Owner, 0, ownerAmount);
        if (treasuryAmount != 0) _credit(treasury, p, RewardKind.Treasury, 0, treasuryAmount);
    }

    function _credit(address account, Payout memory p, RewardKind kind, uint256 contributionId, uint256 amount)
        private
    {
        _claimable[account] += amount;
        _earnedByAdapter[account][p.adapterId] += amount;
        emit RewardCredited(account, p.inferenceId, p.adapterId, kind, contributionId, p.datanetId, amount);
    }
}
