// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable2Step, Ownable} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title SystemConfig
/// @notice The rollup's L1-side configuration that derivation reads: which account may post
/// batches (`batcher`) and where they are posted (`batchInbox`). A full node accepts a batch
/// transaction only when it is sent by the batcher, as of that L1 block, to the batch inbox.
/// @dev Changes take effect from the L1 block that emits the event; derivation replays the events
/// to know the batcher at every L1 block.
contract SystemConfig is Ownable2Step {
    /// @notice The account whose transactions to `batchInbox` carry L2 batches.
    address public batcher;
    /// @notice The address batch transactions are sent to (no code is expected there).
    address public batchInbox;

    /// @notice The batcher changed.
    event BatcherUpdated(address indexed previousBatcher, address indexed newBatcher);
    /// @notice The batch inbox changed.
    event BatchInboxUpdated(address indexed previousInbox, address indexed newInbox);

    /// @notice The address is the zero address where one is required.
    error ZeroAddress();

    /// @param owner_ May change the batcher and the inbox (two-step ownership transfer).
    constructor(address owner_, address batcher_, address batchInbox_) Ownable(owner_) {
        _setBatcher(batcher_);
        _setBatchInbox(batchInbox_);
    }

    /// @notice Make `newBatcher` the only account whose batches are accepted.
    function setBatcher(address newBatcher) external onlyOwner {
        _setBatcher(newBatcher);
    }

    /// @notice Batches are read from transactions to `newInbox` from now on.
    function setBatchInbox(address newInbox) external onlyOwner {
        _setBatchInbox(newInbox);
    }

    function _setBatcher(address newBatcher) private {
        if (newBatcher == address(0)) revert ZeroAddress();
        emit BatcherUpdated(batcher, newBatcher);
        batcher = newBatcher;
    }

    function _setBatchInbox(address newInbox) private {
        if (newInbox == address(0)) revert ZeroAddress();
        emit BatchInboxUpdated(batchInbox, newInbox);
        batchInbox = newInbox;
    }
}
