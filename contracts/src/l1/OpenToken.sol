// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title OpenToken
/// @notice OPEN, the L1 ERC-20 that the rollup's native gas token is bridged from: a fixed supply
/// of 1,000,000,000 OPEN (18 decimals) minted once, at deployment, to `holder`. There is no mint
/// function, so the supply can never grow. Supports EIP-2612 `permit` (gasless approvals), which
/// lets a user approve and deposit into the portal without a separate approval transaction.
contract OpenToken is ERC20, ERC20Permit {
    /// @notice The whole supply, in wei: 1,000,000,000 * 10^18.
    uint256 public constant TOTAL_SUPPLY = 1_000_000_000 ether;

    /// @param holder Receives the whole supply.
    constructor(address holder) ERC20("OpenLedger", "OPEN") ERC20Permit("OpenLedger") {
        _mint(holder, TOTAL_SUPPLY);
    }
}
