// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title RLPReader
/// @notice A minimal, strict decoder for Recursive Length Prefix data held in memory: just what a
/// Merkle-Patricia proof needs (lists of byte strings, and a node's raw encoding).
/// @dev Items are views (memory pointer + length) into the input; nothing is copied until
/// `readBytes`/`readRaw`. Every length is bounds-checked against the enclosing item and
/// non-canonical encodings (a single byte below 0x80 wrapped in a header, long forms for short
/// payloads, length prefixes with leading zeros) are rejected, so each value has exactly one
/// accepted encoding.
library RLPReader {
    /// @notice A view of one RLP item: `length` bytes starting at memory address `ptr`.
    struct Item {
        uint256 ptr;
        uint256 length;
    }

    /// @notice The data is not valid, canonical RLP of the expected shape.
    error InvalidRLP();

    /// @notice A view covering all of `data`.
    function toItem(bytes memory data) internal pure returns (Item memory item) {
        uint256 ptr;
        assembly ("memory-safe") {
            ptr := add(data, 32)
        }
        item = Item(ptr, data.length);
    }

    /// @notice Whether `item` is a list (its first byte is 0xc0 or above).
    function isList(Item memory item) internal pure returns (bool) {
        if (item.length == 0) revert InvalidRLP();
        return _byteAt(item.ptr) >= 0xc0;
    }

    /// @notice The elements of the list `item`; the header must cover `item` exactly.
    function readList(Item memory item) internal pure returns (Item[] memory items) {
        (uint256 offset, uint256 payload, bool list) = _header(item);
        if (!list || offset + payload != item.length) revert InvalidRLP();
        uint256 start = item.ptr + offset;
        uint256 end = start + payload;
        uint256 count;
        for (uint256 p = start; p < end; count++) {
            p += _itemSize(p, end - p);
        }
        items = new Item[](count);
        uint256 ptr = start;
        for (uint256 i; i < count; i++) {
            uint256 size = _itemSize(ptr, end - ptr);
            items[i] = Item(ptr, size);
            ptr += size;
        }
    }

    /// @notice The payload of the byte string `item`; the header must cover `item` exactly.
    function readBytes(Item memory item) internal pure returns (bytes memory out) {
        (uint256 offset, uint256 payload, bool list) = _header(item);
        if (list || offset + payload != item.length) revert InvalidRLP();
        out = _copy(item.ptr + offset, payload);
    }

    /// @notice The whole encoding of `item`, header included.
    function readRaw(Item memory item) internal pure returns (bytes memory) {
        return _copy(item.ptr, item.length);
    }

    /// @dev Size (header + payload) of the item starting at `ptr`, which must fit in `available`.
    function _itemSize(uint256 ptr, uint256 available) private pure returns (uint256 size) {
        (uint256 offset, uint256 payload,) = _header(Item(ptr, available));
        size = offset + payload;
        if (size > available) revert InvalidRLP();
    }

    /// @dev Header of the item at `item.ptr`: payload offset, payload length, list or string.
    function _header(Item memory item) private pure returns (uint256 offset, uint256 payload, bool list) {
        if (item.length == 0) revert InvalidRLP();
        uint256 prefix = _byteAt(item.ptr);
        if (prefix < 0x80) return (0, 1, false);
        if (prefix < 0xb8) {
            payload = prefix - 0x80;
            // One byte below 0x80 must be encoded as itself.
            if (payload == 1 && (item.length < 2 || _byteAt(item.ptr + 1) < 0x80)) revert InvalidRLP();
            return (1, payload, false);
        }
        if (prefix < 0xc0) {
            (offset, payload) = _longHeader(item, prefix - 0xb7);
            return (offset, payload, false);
        }
        if (prefix < 0xf8) return (1, prefix - 0xc0, true);
        (offset, payload) = _longHeader(item, prefix - 0xf7);
        return (offset, payload, true);
    }

    /// @dev Long form: `lengthOfLength` big-endian bytes after the prefix give a payload length > 55.
    function _longHeader(Item memory item, uint256 lengthOfLength)
        private
        pure
        returns (uint256 offset, uint256 payload)
    {
        if (lengthOfLength > 8 || item.length <= lengthOfLength) revert InvalidRLP();
        if (_byteAt(item.ptr + 1) == 0) revert InvalidRLP();
        for (uint256 i = 1; i <= lengthOfLength; i++) {
            payload = (payload << 8) | _byteAt(item.ptr + i);
        }
        if (payload <= 55) revert InvalidRLP();
        offset = 1 + lengthOfLength;
    }

    function _byteAt(uint256 ptr) private pure returns (uint256 b) {
        assembly ("memory-safe") {
            b := byte(0, mload(ptr))
        }
    }

    function _copy(uint256 src, uint256 length) private pure returns (bytes memory out) {
        out = new bytes(length);
        assembly ("memory-safe") {
            mcopy(add(out, 32), src, length)
        }
    }
}
