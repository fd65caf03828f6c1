"""A full node's transaction pool: it keeps nothing and forwards to the sequencer.

``eth_sendRawTransaction`` is checked here without state (decoding, chain id, signature, as
the sequencer's admission starts) and sent on to ``--sequencer-rpc``; its error is the
caller's error. Without a sequencer the node refuses transactions. Pending nonces are the
sequencer's. The forward is a short blocking call on the RPC loop, like any local read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.chain import Chain
from node.derivation.exceptions import RpcRejected, RpcUnavailable
from node.derivation.jsonrpc import JsonRpcClient
from node.exceptions import InvalidTransaction
from node.transactions import AdmittedTransaction, admit


class ForwardingPool:
    def __init__(self, chain: Chain, sequencer: JsonRpcClient | None) -> None:
        self.chain = chain
        self.sequencer = sequencer
        self._listeners: list[Callable[[AdmittedTransaction], Any]] = []

    def submit(self, raw: bytes) -> AdmittedTransaction:
        admitted = admit(raw, self.chain.config.chain.chain_id)
        if self.sequencer is None:
            raise InvalidTransaction("this node has no sequencer to send transactions to")
        try:
            self.sequencer.call("eth_sendRawTransaction", ["0x" + raw.hex()])
        except RpcRejected as exc:
            raise InvalidTransaction(str(exc.error.get("message", exc))) from exc
        except RpcUnavailable as exc:
            raise InvalidTransaction(f"sequencer unreachable: {exc}") from exc
        for listener in self._listeners:
            listener(admitted)
        return admitted

    def pending_nonce(self, address: bytes) -> int:
        if self.sequencer is not None:
            try:
                count = self.sequencer.call(
                    "eth_getTransactionCount", ["0x" + address.hex(), "pending"]
                )
                return int(count, 16)
            except RpcUnavailable:
                pass  # the sequencer is down: our head's nonce is the best answer left
        return self.chain.state_at(self.chain.head).get_nonce(address)

    def get(self, tx_hash: bytes) -> AdmittedTransaction | None:
        return None

    def status(self) -> tuple[int, int]:
        return (0, 0)

    def content(self) -> dict[str, dict[bytes, dict[int, AdmittedTransaction]]]:
        return {"pending": {}, "queued": {}}

    def subscribe(self, listener: Callable[[AdmittedTransaction], Any]) -> None:
        self._listeners.append(listener)
