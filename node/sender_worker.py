"""The work a sender-recovery process does for derivation: signatures and FastLZ lengths.

Runs in a child process (``node.derivation.sender_prefetch``), so it imports only what it needs:
no py-evm, no database. A transaction it cannot recover is reported as ``None``; the node then
admits that one itself, which raises the error a client would see.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from node.fastlz import flz_compressed_length
from node.signer import SIGNATURE_FIELDS, SignatureError, item_starts, recover_address

Signature = tuple[int, int, int]
"""v (legacy) or y parity (typed), r, s."""

Recovered = tuple[bytes | None, Signature | None, int]
"""(sender and the signature it was recovered from, or ``None`` for both when it does not
recover; FastLZ length of the bytes). The node checks the signature against its own decoding
before it trusts the sender."""


def signature_fields(raw: bytes) -> Signature:
    """v (legacy) or y parity (typed), r and s: the last three items of the signed list."""
    encoded = raw if raw[0] >= 0xC0 else raw[1:]
    starts = item_starts(encoded)
    if len(starts) <= SIGNATURE_FIELDS:
        raise SignatureError("a signed transaction has fields before its signature")
    values = []
    for index in range(-SIGNATURE_FIELDS, 0):
        start = starts[index]
        end = starts[index + 1] if index < -1 else len(encoded)
        item = encoded[start:end]
        if item[0] < 0x80:
            values.append(item[0])
        else:
            values.append(int.from_bytes(item[1 : 1 + item[0] - 0x80], "big"))
    return values[0], values[1], values[2]


def recover_one(raw: bytes) -> Recovered:
    try:
        signature = signature_fields(raw)
        return recover_address(raw, *signature), signature, flz_compressed_length(raw)
    except (SignatureError, IndexError, ValueError):
        return None, None, 0


def recover_chunk(raws: Sequence[bytes]) -> list[Recovered]:
    """What the node's ``admit`` would recover and compress, for each of ``raws``."""
    return [recover_one(raw) for raw in raws]


def exit_with_parent() -> None:
    """Pool initializer: end this worker once the node that started it is gone. A node killed
    with SIGKILL cannot shut its pool down, and the worker would wait on its queue forever."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
