// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title L1Block
/// @notice The L2's view of L1, a predeploy at `0x4200000000000000000000000000000000000015`
/// (set in genesis). The first transaction of every L2 block is a deposit from
/// `DEPOSITOR_ACCOUNT` calling `setL1BlockValuesEcotone` with the block's L1 origin and the fee
/// parameters; `GasPriceOracle` and the node's L1 data fee read them from here.
/// @dev Storage layout and calldata follow the OP Stack's Ecotone `L1Block`, so tools that read
/// its slots work unchanged: slot 0 = number | timestamp, 1 = basefee, 2 = hash,
/// 3 = sequenceNumber | blobBaseFeeScalar | baseFeeScalar, 4 = batcherHash, 5-6 = the
/// pre-Ecotone fee slots (unused, kept empty), 7 = blobBaseFee. The node reads slots 1, 3 and 7
/// directly (node/l1_fee.py): do not reorder.
contract L1Block {
    /// @notice The only sender allowed to set the values: the protocol's L1-attributes deposit.
    address public constant DEPOSITOR_ACCOUNT = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @notice L1 origin block number.
    uint64 public number;
    /// @notice L1 origin block timestamp.
    uint64 public timestamp;
    /// @notice L1 origin base fee per gas.
    uint256 public basefee;
    /// @notice L1 origin block hash.
    bytes32 public hash;
    /// @notice How many L2 blocks before this one share its L1 origin.
    uint64 public sequenceNumber;
    /// @notice Weight of the L1 blob base fee in the L1 data fee (6 decimals).
    uint32 public blobBaseFeeScalar;
    /// @notice Weight of the L1 base fee in the L1 data fee (6 decimals).
    uint32 public baseFeeScalar;
    /// @notice The batcher's address, left-padded to 32 bytes.
    bytes32 public batcherHash;
    /// @dev Slots 5 and 6: the pre-Ecotone overhead and scalar, never set on this chain.
    uint256[2] private reservedFeeSlots;
    /// @notice L1 origin blob base fee.
    uint256 public blobBaseFee;

    /// @notice Only `DEPOSITOR_ACCOUNT` may set the L1 values.
    error NotDepositor();

    /// @notice Set every L1 value at once. Packed calldata (164 bytes), after the selector:
    /// baseFeeScalar (uint32), blobBaseFeeScalar (uint32), sequenceNumber (uint64),
    /// timestamp (uint64), number (uint64), basefee (uint256), blobBaseFee (uint256),
    /// hash (bytes32), batcherHash (bytes32).
    function setL1BlockValuesEcotone() external {
        if (msg.sender != DEPOSITOR_ACCOUNT) revert NotDepositor();
        assembly {
            sstore(sequenceNumber.slot, shr(128, calldataload(4)))
            sstore(number.slot, shr(128, calldataload(20)))
            sstore(basefee.slot, calldataload(36))
            sstore(blobBaseFee.slot, calldataload(68))
            sstore(hash.slot, calldataload(100))
            sstore(batcherHash.slot, calldataload(132))
        }
    }
}
