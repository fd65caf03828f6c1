// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleTrie} from "./lib/MerkleTrie.sol";
import {OutputOracle} from "./OutputOracle.sol";

/// @title OpenPortal
/// @notice The L1 end of the OPEN bridge.
///
/// Deposits: a user locks OPEN here with `depositERC20`; the `TransactionDeposited` event is what
/// the L2 derives a deposit transaction from, which mints the same amount of native OPEN on L2
/// and sends it (with an optional call) to the recipient. Locked OPEN stays in this contract.
///
/// Withdrawals: a withdrawal initiated on L2 is recorded by the L2 message passer
/// (`sentMessages[withdrawalHash] = true`). Anyone proves it here against an output root from the
/// `OutputOracle` (`proveWithdrawalTransaction`) and, once the challenge window has passed since
/// the proof, finalizes it (`finalizeWithdrawalTransaction`), which releases `value` OPEN from
/// this contract to `target`. Each withdrawal is finalized at most once.
/// @dev Encodings of the deposit event, the withdrawal hash and the output root are specified in
/// docs/rollup.md and must not change without a new `DEPOSIT_VERSION`.
contract OpenPortal is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A withdrawal as the L2 message passer hashed it.
    struct WithdrawalTransaction {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// @notice The preimage of an output root (version 0).
    struct OutputRootProof {
        bytes32 version;
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 latestBlockhash;
    }

    /// @notice A proven withdrawal: the output root it was proven against, when, and its index.
    struct ProvenWithdrawal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2OutputIndex;
    }

    /// @notice Version of the `opaqueData` encoding in `TransactionDeposited`.
    uint256 public constant DEPOSIT_VERSION = 0;
    /// @notice Version of the output root preimage accepted by `proveWithdrawalTransaction`.
    bytes32 public constant OUTPUT_VERSION = bytes32(0);
    /// @notice Storage slot of `sentMessages` (a `mapping(bytes32 => bool)`) in the L2 message passer.
    uint256 public constant SENT_MESSAGES_SLOT = 0;
    /// @notice Largest `gasLimit` a deposit may ask for on L2.
    uint64 public constant MAX_DEPOSIT_GAS_LIMIT = 20_000_000;
    /// @notice Largest call data a deposit may carry (bounds what the L2 must process per log).
    uint256 public constant MAX_DEPOSIT_DATA = 120_000;
    /// @notice Added to a contract depositor's address on L2, so that an L1 contract cannot pose as
    /// the L2 account with the same address (as in the OP Stack).
    uint160 public constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);

    /// @notice The OPEN token locked by deposits and released by withdrawals.
    IERC20 public immutable TOKEN;
    /// @notice Where output roots and the challenge window come from.
    OutputOracle public immutable ORACLE;

    /// @notice Proven withdrawals, by withdrawal hash.
    mapping(bytes32 withdrawalHash => ProvenWithdrawal) public provenWithdrawals;
    /// @notice Whether a withdrawal was finalized (its OPEN released).
    mapping(bytes32 withdrawalHash => bool) public finalizedWithdrawals;

    /// @notice A deposit; the L2 turns it into a deposit transaction (see docs/rollup.md).
    /// @param from The depositor, aliased when it is a contract.
    /// @param opaqueData `abi.encodePacked(uint256 mint, uint256 value, uint64 gasLimit, bool isCreation, bytes data)`.
    event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);
    /// @notice A withdrawal was proven against the output at `l2OutputIndex`.
    event WithdrawalProven(
        bytes32 indexed withdrawalHash, address indexed from, address indexed to, uint256 l2OutputIndex
    );
    /// @notice A withdrawal was finalized: `value` OPEN went to `to`.
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, address indexed to, uint256 value);

    /// @notice The address is the zero address where one is required.
    error ZeroAddress();
    /// @notice The deposit's gas limit is below what its data costs or above the maximum.
    error InvalidGasLimit(uint64 gasLimit, uint64 minimum, uint64 maximum);
    /// @notice The deposit's call data is larger than `MAX_DEPOSIT_DATA`.
    error DataTooLarge(uint256 length);
    /// @notice The output root proof's version is not `OUTPUT_VERSION`.
    error UnsupportedOutputVersion(bytes32 version);
    /// @notice The output root proof does not hash to the oracle's root at that index.
    error OutputRootMismatch(uint256 l2OutputIndex);
    /// @notice The withdrawal was already proven against an output that still stands.
    error AlreadyProven(bytes32 withdrawalHash);
    /// @notice The withdrawal was never proven.
    error NotProven(bytes32 withdrawalHash);
    /// @notice The challenge window has not passed yet; finalization opens at `readyAt`.
    error ChallengeWindowOpen(bytes32 withdrawalHash, uint256 readyAt);
    /// @notice The output the withdrawal was proven against was deleted or replaced; prove again.
    error OutputRootChanged(bytes32 withdrawalHash);
    /// @notice The withdrawal was already finalized.
    error AlreadyFinalized(bytes32 withdrawalHash);
    /// @notice A withdrawal cannot target the portal itself.
    error InvalidTarget(address target);

    constructor(IERC20 token, OutputOracle oracle) {
        if (address(token) == address(0) || address(oracle) == address(0)) revert ZeroAddress();
        TOKEN = token;
        ORACLE = oracle;
    }

    /// @notice Lock `amount` OPEN (pulled with `transferFrom`; approve or `permit` first) and
    /// deposit it to `to` on L2, calling `to` with `data` there under `gasLimit`.
    function depositERC20(address to, uint256 amount, uint64 gasLimit, bytes calldata data) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (data.length > MAX_DEPOSIT_DATA) revert DataTooLarge(data.length);
        uint64 minimum = minimumGasLimit(uint64(data.length));
        if (gasLimit < minimum || gasLimit > MAX_DEPOSIT_GAS_LIMIT) {
            revert InvalidGasLimit(gasLimit, minimum, MAX_DEPOSIT_GAS_LIMIT);
        }
        if (amount != 0) TOKEN.safeTransferFrom(msg.sender, address(this), amount);
        address from = msg.sender;
        // A contract (anything but the transaction's signer) is aliased on L2.
        if (msg.sender != tx.origin) from = applyAlias(msg.sender);
        bytes memory opaqueData = abi.encodePacked(amount, amount, gasLimit, false, data);
        emit TransactionDeposited(from, to, DEPOSIT_VERSION, opaqueData);
    }

    /// @notice Prove that the L2 message passer recorded `withdrawal` in the output at
    /// `l2OutputIndex`: `outputRootProof` must hash to that output root and `withdrawalProof` must
    /// be a storage proof (`eth_getProof`'s `storageProof[0].proof`) that
    /// `sentMessages[hashWithdrawal(withdrawal)]` is `true` under its `messagePasserStorageRoot`.
    function proveWithdrawalTransaction(
        WithdrawalTransaction calldata withdrawal,
        uint256 l2OutputIndex,
        OutputRootProof calldata outputRootProof,
        bytes[] calldata withdrawalProof
    ) external {
        if (withdrawal.target == address(this)) revert InvalidTarget(withdrawal.target);
        if (outputRootProof.version != OUTPUT_VERSION) revert UnsupportedOutputVersion(outputRootProof.version);
        bytes32 outputRoot = ORACLE.getL2Output(l2OutputIndex).outputRoot;
        if (hashOutputRootProof(outputRootProof) != outputRoot) revert OutputRootMismatch(l2OutputIndex);

        bytes32 withdrawalHash = hashWithdrawal(withdrawal);
        if (finalizedWithdrawals[withdrawalHash]) revert AlreadyFinalized(withdrawalHash);
        ProvenWithdrawal memory existing = provenWithdrawals[withdrawalHash];
        // Proving again is only allowed once the output it was proven against is gone.
        if (existing.timestamp != 0 && _outputRootAt(existing.l2OutputIndex) == existing.outputRoot) {
            revert AlreadyProven(withdrawalHash);
        }

        bytes memory value =
            MerkleTrie.getSecure(abi.encode(sentMessageSlot(withdrawalHash)), withdrawalProof, outputRootProof.messagePasserStorageRoot);
        // `true` is stored as 1, whose RLP encoding is the single byte 0x01.
        if (value.length != 1 || value[0] != 0x01) revert MerkleTrie.InvalidProof();

        provenWithdrawals[withdrawalHash] =
            ProvenWithdrawal(outputRoot, uint128(block.timestamp), uint128(l2OutputIndex));
        emit WithdrawalProven(withdrawalHash, withdrawal.sender, withdrawal.target, l2OutputIndex);
    }

    /// @notice Release a proven withdrawal's `value` OPEN to its `target`, once
    /// `FINALIZATION_PERIOD_SECONDS` have passed since it was proven (and since its output was
    /// proposed), and only if that output still stands. At most once per withdrawal.
    function finalizeWithdrawalTransaction(WithdrawalTransaction calldata withdrawal) external nonReentrant {
        bytes32 withdrawalHash = hashWithdrawal(withdrawal);
        if (finalizedWithdrawals[withdrawalHash]) revert AlreadyFinalized(withdrawalHash);
        ProvenWithdrawal memory proven = provenWithdrawals[withdrawalHash];
        if (proven.timestamp == 0) revert NotProven(withdrawalHash);
        uint256 period = ORACLE.FINALIZATION_PERIOD_SECONDS();
        uint256 readyAt = uint256(proven.timestamp) + period;
        if (block.timestamp <= readyAt) revert ChallengeWindowOpen(withdrawalHash, readyAt + 1);
        if (_outputRootAt(proven.l2OutputIndex) != proven.outputRoot) revert OutputRootChanged(withdrawalHash);
        OutputOracle.OutputProposal memory output = ORACLE.getL2Output(proven.l2OutputIndex);
        if (block.timestamp <= uint256(output.timestamp) + period) {
            revert ChallengeWindowOpen(withdrawalHash, uint256(output.timestamp) + period + 1);
        }

        finalizedWithdrawals[withdrawalHash] = true;
        if (withdrawal.value != 0) TOKEN.safeTransfer(withdrawal.target, withdrawal.value);
        emit WithdrawalFinalized(withdrawalHash, withdrawal.target, withdrawal.value);
    }

    /// @notice The withdrawal hash: `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`.
    function hashWithdrawal(WithdrawalTransaction calldata w) public pure returns (bytes32) {
        return keccak256(abi.encode(w.nonce, w.sender, w.target, w.value, w.gasLimit, w.data));
    }

    /// @notice The output root: `keccak256(abi.encode(version, stateRoot, messagePasserStorageRoot, latestBlockhash))`.
    function hashOutputRootProof(OutputRootProof calldata p) public pure returns (bytes32) {
        return keccak256(abi.encode(p.version, p.stateRoot, p.messagePasserStorageRoot, p.latestBlockhash));
    }

    /// @notice The message passer storage slot of `sentMessages[withdrawalHash]`.
    function sentMessageSlot(bytes32 withdrawalHash) public pure returns (bytes32) {
        return keccak256(abi.encode(withdrawalHash, SENT_MESSAGES_SLOT));
    }

    /// @notice The least gas limit a deposit with `dataLength` bytes of call data may ask for.
    function minimumGasLimit(uint64 dataLength) public pure returns (uint64) {
        return 21_000 + dataLength * 16;
    }

    /// @notice The L2 address an L1 contract at `l1Address` acts as.
    function applyAlias(address l1Address) public pure returns (address) {
        unchecked {
            return address(uint160(l1Address) + ALIAS_OFFSET);
        }
    }

    function _outputRootAt(uint256 index) private view returns (bytes32) {
        if (index >= ORACLE.nextOutputIndex()) return bytes32(0);
        return ORACLE.getL2Output(index).outputRoot;
    }
}
