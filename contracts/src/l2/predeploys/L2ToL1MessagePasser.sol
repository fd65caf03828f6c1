// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title L2ToL1MessagePasser
/// @notice The L2 end of withdrawals, a predeploy at `0x4200000000000000000000000000000000000016`
/// (set in genesis). `initiateWithdrawal` records `sentMessages[withdrawalHash] = true`; an output
/// root proposed to L1 commits to this contract's storage root, and the L1 `OpenPortal` proves a
/// withdrawal with a storage proof of that entry (`eth_getProof`) and, after the challenge window,
/// releases `value` OPEN to `target` on L1.
///
/// The OPEN sent with a withdrawal stays in this contract: it has left L2 circulation as far as
/// L1 is concerned, and nothing here can move it out again.
/// @dev `sentMessages` must stay the first state variable (storage slot 0) and the hash must stay
/// `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`: both are what
/// `OpenPortal` verifies (docs/rollup.md).
contract L2ToL1MessagePasser {
    /// @notice Withdrawals initiated here, by withdrawal hash. Storage slot 0.
    mapping(bytes32 withdrawalHash => bool) public sentMessages;

    /// @notice The nonce of the next withdrawal; every withdrawal hash is unique through it.
    uint256 public messageNonce;

    /// @notice A withdrawal was initiated; its fields are the `WithdrawalTransaction` that
    /// `OpenPortal` proves and finalizes.
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Withdraw `msg.value` OPEN to `target` on L1. `gasLimit` and `data` are committed to
    /// by the withdrawal hash (the L1 portal currently makes no call with them).
    /// @return withdrawalHash The hash recorded in `sentMessages`.
    function initiateWithdrawal(address target, uint256 gasLimit, bytes calldata data)
        external
        payable
        returns (bytes32 withdrawalHash)
    {
        uint256 nonce = messageNonce;
        withdrawalHash = hashWithdrawal(nonce, msg.sender, target, msg.value, gasLimit, data);
        sentMessages[withdrawalHash] = true;
        messageNonce = nonce + 1;
        emit MessagePassed(nonce, msg.sender, target, msg.value, gasLimit, data, withdrawalHash);
    }

    /// @notice The withdrawal hash: `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`.
    function hashWithdrawal(
        uint256 nonce,
        address sender,
        address target,
        uint256 value,
        uint256 gasLimit,
        bytes calldata data
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(nonce, sender, target, value, gasLimit, data));
    }
}
