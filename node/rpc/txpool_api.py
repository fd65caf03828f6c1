"""``txpool_status``, ``txpool_content``, ``txpool_contentFrom`` and ``txpool_inspect``.

Shapes are geth's, which tools (blockscout, hardhat, ethers' debug helpers) parse: counts as hex
quantities; content keyed by checksum address, then by the nonce as a *decimal* string; inspect
summarising each transaction in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import to_checksum_address

from node.rpc.codec import parse_address, quantity
from node.rpc.formatting import format_transaction
from node.transactions import AdmittedTransaction, transaction_type
from node.txpool import TransactionPool

POOL_SECTIONS = ("pending", "queued")

TIMES = "\u00d7"
"""geth writes a multiplication sign in ``txpool_inspect`` lines; tools split on it."""


def fee_cap(admitted: AdmittedTransaction) -> int:
    """geth's ``tx.GasPrice()``: the legacy price, or the fee cap of a dynamic-fee transaction."""
    tx = admitted.tx
    return tx.gas_price if transaction_type(tx) in (0, 1) else tx.max_fee_per_gas


def inspect_line(admitted: AdmittedTransaction) -> str:
    """geth's summary: ``"<to>: <value> wei + <gas> gas TIMES <price> wei"``."""
    tx = admitted.tx
    target = to_checksum_address(tx.to) if tx.to else "contract creation"
    return f"{target}: {tx.value} wei + {tx.gas} gas {TIMES} {fee_cap(admitted)} wei"


def _pending_json(admitted: AdmittedTransaction) -> dict[str, Any]:
    return format_transaction(admitted.tx, admitted.sender, None, None)


class TxPoolApi:
    def __init__(self, pool: TransactionPool) -> None:
        self.pool = pool

    def handlers(self) -> dict[str, Any]:
        return {
            "txpool_status": self.status,
            "txpool_content": self.content,
            "txpool_contentFrom": self.content_from,
            "txpool_inspect": self.inspect,
        }

    def status(self) -> dict[str, str]:
        pending, queued = self.pool.status()
        return {"pending": quantity(pending), "queued": quantity(queued)}

    def _sections(self, render: Callable[[AdmittedTransaction], Any]) -> dict[str, Any]:
        content = self.pool.content()
        return {
            section: {
                to_checksum_address(sender): {
                    str(nonce): render(admitted) for nonce, admitted in sorted(by_nonce.items())
                }
                for sender, by_nonce in content.get(section, {}).items()
            }
            for section in POOL_SECTIONS
        }

    def content(self) -> dict[str, Any]:
        return self._sections(_pending_json)

    def content_from(self, address: Any) -> dict[str, Any]:
        """One sender's part of ``txpool_content``: ``{pending: {nonce: tx}, queued: {...}}``."""
        wanted = parse_address(address, "address")
        content = self.pool.content()
        return {
            section: {
                str(nonce): _pending_json(admitted)
                for nonce, admitted in sorted(content.get(section, {}).get(wanted, {}).items())
            }
            for section in POOL_SECTIONS
        }

    def inspect(self) -> dict[str, Any]:
        return self._sections(inspect_line)
