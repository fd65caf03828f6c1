"""The length of FastLZ (level 1) compressed data: the size estimate of OP Fjord's L1 fee.

The node charges each transaction's L1 data fee from this length, and the ``GasPriceOracle``
predeploy computes it on-chain with Solady's ``LibZip.flzCompress``; the two must agree byte for
byte, so this follows that compressor step for step (the same algorithm as op-geth's
``FlzCompressLen``), counting output bytes instead of writing them.
"""

from __future__ import annotations

HASH_LOG = 13
HASH_MASK = (1 << HASH_LOG) - 1
MAX_DISTANCE = 8192
"""A match may reach at most this far back (13-bit distance)."""
MAX_MATCH = 262
"""Longest match one instruction encodes; longer matches take several."""
MAX_LITERAL_RUN = 32


def _literal_bytes(run: int) -> int:
    """Output bytes for ``run`` uncompressed bytes: one marker per run of up to 32."""
    full, rest = divmod(run, MAX_LITERAL_RUN)
    return full * (MAX_LITERAL_RUN + 1) + (rest + 1 if rest else 0)


def flz_compressed_length(data: bytes) -> int:
    """Length of ``LibZip.flzCompress(data)``.

    The hot loop is written out (no helper calls): it runs once per transaction at admission.
    """
    end = len(data) - 4
    limit = end - 9
    table: dict[int, int] = {}
    size = 0
    anchor = 0
    pos = 2
    while pos < limit:
        while True:
            seq = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
            bucket = ((2654435769 * seq) >> 19) & HASH_MASK
            ref = table.get(bucket, 0)
            table[bucket] = pos
            if pos >= limit:
                break
            pos += 1
            if (
                pos - 1 - ref < MAX_DISTANCE
                and seq == data[ref] | data[ref + 1] << 8 | data[ref + 2] << 16
            ):
                break
        if pos >= limit:
            break
        pos -= 1
        if pos > anchor:
            size += _literal_bytes(pos - anchor)
        length = 0
        bound = end - (pos + 3)
        while length < bound:
            if data[ref + 3 + length] != data[pos + 3 + length]:
                bound = 0
            length += 1
        pos += length
        while length > MAX_MATCH:
            size += 3
            length -= MAX_MATCH
        size += 2 if length < 7 else 3
        for _ in range(2):
            seq = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
            table[((2654435769 * seq) >> 19) & HASH_MASK] = pos
            pos += 1
        anchor = pos
    return size + _literal_bytes(end + 4 - anchor)
