// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RLPReader} from "./RLPReader.sol";

/// @title MerkleTrie
/// @notice Verifies inclusion proofs of Ethereum's hexary Merkle-Patricia trie (the format of
/// `eth_getProof`'s `accountProof` and `storageProof[].proof`).
/// @dev A proof is the list of RLP-encoded nodes on the path from the root to the value, root
/// first. The first node must hash to the root; every later node must hash to the 32-byte
/// reference its parent holds for the next step. Children smaller than 32 bytes are embedded in
/// their parent (as the yellow paper requires) and are followed in place, without a proof
/// element. Nodes: branch (17 items: 16 children + value), extension and leaf (2 items: a
/// hex-prefix encoded path, then the child or the value). Only inclusion is proven: a missing
/// key, an empty value, a node that does not hash to its reference, a path that diverges from the
/// key or proof elements left over all revert.
library MerkleTrie {
    using RLPReader for RLPReader.Item;

    /// @notice The proof does not prove a value for the key under the root.
    error InvalidProof();

    /// @notice The value stored under `key` (raw key bytes, not hashed) in the trie with root
    /// `root`, proven by `proof`; reverts unless `proof` is a valid inclusion proof.
    function get(bytes memory key, bytes[] memory proof, bytes32 root) internal pure returns (bytes memory value) {
        bytes memory nibbles = _nibbles(key, 0);
        uint256 keyPos;
        uint256 next; // index of the next proof element
        bytes32 expected = root;
        bool inline_; // the current node is embedded in its parent, not a proof element
        RLPReader.Item memory node;
        while (true) {
            if (!inline_) {
                if (next == proof.length) revert InvalidProof();
                bytes memory encoded = proof[next++];
                if (keccak256(encoded) != expected) revert InvalidProof();
                node = RLPReader.toItem(encoded);
            }
            RLPReader.Item[] memory items = node.readList();
            RLPReader.Item memory child;
            if (items.length == 17) {
                if (keyPos == nibbles.length) {
                    value = items[16].readBytes();
                    break;
                }
                child = items[uint8(nibbles[keyPos++])];
            } else if (items.length == 2) {
                bytes memory path = _nibbles(items[0].readBytes(), 0);
                if (path.length == 0) revert InvalidProof();
                uint8 flag = uint8(path[0]);
                if (flag > 3) revert InvalidProof();
                // Even-length paths carry a zero padding nibble after the flag.
                uint256 skip = flag % 2 == 0 ? 2 : 1;
                if (path.length < skip || (skip == 2 && uint8(path[1]) != 0)) revert InvalidProof();
                uint256 pathLength = path.length - skip;
                if (keyPos + pathLength > nibbles.length) revert InvalidProof();
                for (uint256 i; i < pathLength; i++) {
                    if (path[skip + i] != nibbles[keyPos + i]) revert InvalidProof();
                }
                keyPos += pathLength;
                if (flag >= 2) {
                    // Leaf: the key must end exactly here.
                    if (keyPos != nibbles.length) revert InvalidProof();
                    value = items[1].readBytes();
                    break;
                }
                if (pathLength == 0) revert InvalidProof();
                child = items[1];
            } else {
                revert InvalidProof();
            }
            if (child.isList()) {
                if (child.length >= 32) revert InvalidProof();
                node = child;
                inline_ = true;
            } else {
                bytes memory ref = child.readBytes();
                if (ref.length != 32) revert InvalidProof(); // empty slot: the key is absent
                expected = bytes32(ref);
                inline_ = false;
            }
        }
        if (value.length == 0 || next != proof.length) revert InvalidProof();
    }

    /// @notice `get` on a "secure" trie (state and storage tries), whose keys are `keccak256(key)`.
    function getSecure(bytes memory key, bytes[] memory proof, bytes32 root) internal pure returns (bytes memory) {
        return get(abi.encodePacked(keccak256(key)), proof, root);
    }

    /// @dev The nibbles (high half first) of `data[from:]`, one per byte.
    function _nibbles(bytes memory data, uint256 from) private pure returns (bytes memory out) {
        out = new bytes((data.length - from) * 2);
        for (uint256 i = from; i < data.length; i++) {
            uint8 b = uint8(data[i]);
            out[(i - from) * 2] = bytes1(b >> 4);
            out[(i - from) * 2 + 1] = bytes1(b & 0x0f);
        }
    }
}
