// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title OutputOracle
/// @notice Where the proposer commits to the L2 chain: every `SUBMISSION_INTERVAL` L2 blocks it
/// posts the output root of that block,
/// `keccak256(abi.encode(version, stateRoot, messagePasserStorageRoot, latestBlockhash))` with
/// version `bytes32(0)` (see docs/rollup.md). Withdrawals are proven against these roots. During
/// `FINALIZATION_PERIOD_SECONDS` after a proposal the challenger may delete it (and every later
/// one) if it is wrong; after that it is final.
/// @dev Outputs are stored in order of L2 block number; index `i` covers L2 block
/// `STARTING_BLOCK_NUMBER + (i + 1) * SUBMISSION_INTERVAL` until a deletion rewinds the list.
contract OutputOracle {
    /// @notice One proposal: the output root, when it was posted (L1 time) and the L2 block it covers.
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// @notice L2 blocks between two proposals.
    uint256 public immutable SUBMISSION_INTERVAL;
    /// @notice Seconds between two L2 blocks.
    uint256 public immutable L2_BLOCK_TIME;
    /// @notice L2 block the outputs count from (normally genesis, 0).
    uint256 public immutable STARTING_BLOCK_NUMBER;
    /// @notice L2 timestamp of `STARTING_BLOCK_NUMBER`.
    uint256 public immutable STARTING_TIMESTAMP;
    /// @notice The challenge window, in seconds: how long a proposal can be deleted, and how long a
    /// proven withdrawal waits before it can be finalized.
    uint256 public immutable FINALIZATION_PERIOD_SECONDS;
    /// @notice The only account that may propose outputs.
    address public immutable PROPOSER;
    /// @notice The only account that may delete outputs still inside the challenge window.
    address public immutable CHALLENGER;

    OutputProposal[] private _outputs;

    /// @notice `outputRoot` was proposed for `l2BlockNumber` at index `l2OutputIndex`.
    event OutputProposed(
        bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp
    );
    /// @notice The outputs from index `newNextOutputIndex` on were deleted.
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    /// @notice A constructor argument is out of range.
    error InvalidConfig();
    /// @notice Only the proposer may propose.
    error NotProposer(address account);
    /// @notice Only the challenger may delete outputs.
    error NotChallenger(address account);
    /// @notice The next output must be for block `expected`.
    error UnexpectedBlockNumber(uint256 expected, uint256 given);
    /// @notice The L2 block's timestamp is not in the past yet.
    error BlockInFuture(uint256 l2BlockNumber, uint256 l2Timestamp);
    /// @notice The output root must not be zero.
    error EmptyOutputRoot();
    /// @notice No output at this index.
    error OutputNotFound(uint256 index);
    /// @notice No output covers this L2 block yet.
    error NoOutputAfter(uint256 l2BlockNumber);
    /// @notice The output is past its challenge window and can no longer be deleted.
    error OutputFinalized(uint256 index);

    constructor(
        uint256 submissionInterval,
        uint256 l2BlockTime,
        uint256 startingBlockNumber,
        uint256 startingTimestamp,
        uint256 finalizationPeriodSeconds,
        address proposer,
        address challenger
    ) {
        if (submissionInterval == 0 || l2BlockTime == 0 || startingTimestamp > block.timestamp) {
            revert InvalidConfig();
        }
        if (proposer == address(0) || challenger == address(0)) revert InvalidConfig();
        SUBMISSION_INTERVAL = submissionInterval;
        L2_BLOCK_TIME = l2BlockTime;
        STARTING_BLOCK_NUMBER = startingBlockNumber;
        STARTING_TIMESTAMP = startingTimestamp;
        FINALIZATION_PERIOD_SECONDS = finalizationPeriodSeconds;
        PROPOSER = proposer;
        CHALLENGER = challenger;
    }

    /// @notice Post the output root of L2 block `l2BlockNumber`, which must be exactly
    /// `nextBlockNumber()` and already in the past by L2 time.
    function proposeL2Output(bytes32 outputRoot, uint256 l2BlockNumber) external {
        if (msg.sender != PROPOSER) revert NotProposer(msg.sender);
        uint256 expected = nextBlockNumber();
        if (l2BlockNumber != expected) revert UnexpectedBlockNumber(expected, l2BlockNumber);
        uint256 l2Timestamp = computeL2Timestamp(l2BlockNumber);
        if (l2Timestamp >= block.timestamp) revert BlockInFuture(l2BlockNumber, l2Timestamp);
        if (outputRoot == bytes32(0)) revert EmptyOutputRoot();
        emit OutputProposed(outputRoot, _outputs.length, l2BlockNumber, block.timestamp);
        _outputs.push(OutputProposal(outputRoot, uint128(block.timestamp), uint128(l2BlockNumber)));
    }

    /// @notice Delete the output at `index` and every later one (the challenger found it wrong).
    /// Only outputs still inside the challenge window can be deleted.
    function deleteL2Outputs(uint256 index) external {
        if (msg.sender != CHALLENGER) revert NotChallenger(msg.sender);
        if (index >= _outputs.length) revert OutputNotFound(index);
        if (block.timestamp - _outputs[index].timestamp >= FINALIZATION_PERIOD_SECONDS) {
            revert OutputFinalized(index);
        }
        uint256 previous = _outputs.length;
        while (_outputs.length > index) _outputs.pop();
        emit OutputsDeleted(previous, index);
    }

    /// @notice The output at `index`.
    function getL2Output(uint256 index) external view returns (OutputProposal memory) {
        if (index >= _outputs.length) revert OutputNotFound(index);
        return _outputs[index];
    }

    /// @notice Index of the first output whose L2 block is at or after `l2BlockNumber`: the
    /// output a withdrawal made in that block is proven against.
    function getL2OutputIndexAfter(uint256 l2BlockNumber) public view returns (uint256) {
        uint256 count = _outputs.length;
        if (count == 0 || _outputs[count - 1].l2BlockNumber < l2BlockNumber) revert NoOutputAfter(l2BlockNumber);
        uint256 lo;
        uint256 hi = count - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_outputs[mid].l2BlockNumber < l2BlockNumber) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// @notice The first output at or after `l2BlockNumber`.
    function getL2OutputAfter(uint256 l2BlockNumber) external view returns (OutputProposal memory) {
        return _outputs[getL2OutputIndexAfter(l2BlockNumber)];
    }

    /// @notice How many outputs are stored (the index the next proposal gets).
    function nextOutputIndex() external view returns (uint256) {
        return _outputs.length;
    }

    /// @notice The L2 block of the latest output, `STARTING_BLOCK_NUMBER` when there is none.
    function latestBlockNumber() public view returns (uint256) {
        uint256 count = _outputs.length;
        return count == 0 ? STARTING_BLOCK_NUMBER : _outputs[count - 1].l2BlockNumber;
    }

    /// @notice The L2 block the next proposal must be for.
    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + SUBMISSION_INTERVAL;
    }

    /// @notice The timestamp of L2 block `l2BlockNumber` (blocks are exactly `L2_BLOCK_TIME` apart).
    function computeL2Timestamp(uint256 l2BlockNumber) public view returns (uint256) {
        return STARTING_TIMESTAMP + (l2BlockNumber - STARTING_BLOCK_NUMBER) * L2_BLOCK_TIME;
    }
}
