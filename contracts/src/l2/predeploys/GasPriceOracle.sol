// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LibZip} from "solady/src/utils/LibZip.sol";

/// @notice The L1 values `GasPriceOracle` prices with.
interface IL1BlockFees {
    function basefee() external view returns (uint256);
    function blobBaseFee() external view returns (uint256);
    function baseFeeScalar() external view returns (uint32);
    function blobBaseFeeScalar() external view returns (uint32);
}

/// @title GasPriceOracle
/// @notice The L1 data fee of L2 transactions, a predeploy at
/// `0x420000000000000000000000000000000000000F` (set in genesis). Every non-deposit transaction
/// pays, on top of its gas, an L1 fee for the bytes the batcher posts to L1, computed as OP
/// Fjord does from the FastLZ-compressed size of the transaction and the L1 fees in `L1Block`:
///
///     estimatedSize = max(100e6, -42_585_600 + 836_500 * flzLen(tx))
///     l1Fee = estimatedSize * (16 * baseFeeScalar * l1BaseFee + blobBaseFeeScalar * blobBaseFee) / 1e12
///
/// @dev Unlike the OP Stack's oracle, `getL1Fee` and `getL1GasUsed` take the *signed*
/// transaction (its EIP-2718 bytes, exactly what the node compresses), not an unsigned one plus
/// a 68-byte allowance, so the answer is exactly what the node charges (docs/rollup.md).
contract GasPriceOracle {
    /// @notice Decimals of the scalars.
    uint256 public constant DECIMALS = 6;
    /// @notice Intercept of Fjord's linear size estimate (scaled by 1e6).
    int256 public constant COST_INTERCEPT = -42_585_600;
    /// @notice Slope of Fjord's linear size estimate per compressed byte (scaled by 1e6).
    uint256 public constant COST_FASTLZ_COEF = 836_500;
    /// @notice The smallest size any transaction is charged for, in bytes.
    uint256 public constant MIN_TRANSACTION_SIZE = 100;

    IL1BlockFees private constant L1_BLOCK = IL1BlockFees(0x4200000000000000000000000000000000000015);

    /// @notice True: the Ecotone fee parameters are in use.
    function isEcotone() external pure returns (bool) {
        return true;
    }

    /// @notice True: the Fjord (FastLZ) size estimate is in use.
    function isFjord() external pure returns (bool) {
        return true;
    }

    /// @notice Decimals of the scalars (6).
    function decimals() external pure returns (uint256) {
        return DECIMALS;
    }

    /// @notice The L2 base fee (what `gasPrice` meant before EIP-1559).
    function gasPrice() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice The L2 base fee.
    function baseFee() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice The L1 origin's base fee.
    function l1BaseFee() public view returns (uint256) {
        return L1_BLOCK.basefee();
    }

    /// @notice The L1 origin's blob base fee.
    function blobBaseFee() public view returns (uint256) {
        return L1_BLOCK.blobBaseFee();
    }

    /// @notice Weight of the L1 base fee (6 decimals).
    function baseFeeScalar() public view returns (uint32) {
        return L1_BLOCK.baseFeeScalar();
    }

    /// @notice Weight of the L1 blob base fee (6 decimals).
    function blobBaseFeeScalar() public view returns (uint32) {
        return L1_BLOCK.blobBaseFeeScalar();
    }

    /// @notice The L1 data fee of the signed transaction `_data`: what the node charges.
    function getL1Fee(bytes memory _data) external view returns (uint256) {
        return _l1Cost(LibZip.flzCompress(_data).length);
    }

    /// @notice L1 gas the signed transaction `_data` is estimated to use (16 per estimated byte).
    function getL1GasUsed(bytes memory _data) external pure returns (uint256) {
        return _estimatedSize(LibZip.flzCompress(_data).length) * 16 / (10 ** DECIMALS);
    }

    /// @notice An upper bound of the L1 fee of a transaction whose *unsigned* encoding is
    /// `_unsignedTxSize` bytes (68 added for the signature; FastLZ's practical worst case
    /// `size + size / 255 + 16`), without compressing anything.
    function getL1FeeUpperBound(uint256 _unsignedTxSize) external view returns (uint256) {
        uint256 txSize = _unsignedTxSize + 68;
        return _l1Cost(txSize + txSize / 255 + 16);
    }

    function _estimatedSize(uint256 _fastLzSize) internal pure returns (uint256) {
        int256 estimate = COST_INTERCEPT + int256(COST_FASTLZ_COEF * _fastLzSize);
        int256 floor = int256(MIN_TRANSACTION_SIZE * 10 ** DECIMALS);
        return uint256(estimate < floor ? floor : estimate);
    }

    function _l1Cost(uint256 _fastLzSize) internal view returns (uint256) {
        uint256 feeScaled =
            uint256(baseFeeScalar()) * 16 * l1BaseFee() + uint256(blobBaseFeeScalar()) * blobBaseFee();
        return _estimatedSize(_fastLzSize) * feeScaled / (10 ** (DECIMALS * 2));
    }
}
