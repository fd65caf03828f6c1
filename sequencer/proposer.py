"""The proposer: every ``submission_interval`` L2 blocks, the output root goes to the OutputOracle.

The oracle says which block is next (``nextBlockNumber()``); the proposer waits until that
block is batched and confirmed on L1 (``safe_head``, the batcher's progress: an output of a
block a verifier cannot yet derive could not be checked by a challenger), computes its output
root from the L2 JSON-RPC (:func:`openledger.output_root.output_at_block`) and sends
``proposeL2Output`` through the :class:`~openledger.l1.tx_manager.TxManager`. Progress lives
on L1 itself, so a restart needs no state of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from web3 import Web3

from openledger.contracts.artifacts import load_artifact
from openledger.l1.client import L1Client
from openledger.l1.deploy import L1_ARTIFACTS_DIR, OUTPUT_ORACLE
from openledger.l1.tx_manager import TxManager
from openledger.output_root import output_at_block
from sequencer.step_loop import StepLoop

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.0


class Proposer:
    def __init__(
        self,
        l2: Web3,
        client: L1Client,
        tx: TxManager,
        oracle_address: str,
        safe_head: Callable[[], int],
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.l2 = l2
        self.client = client
        self.tx = tx
        self.safe_head = safe_head
        self.poll_s = poll_s
        self.oracle = client.w3.eth.contract(
            address=Web3.to_checksum_address(oracle_address),
            abi=load_artifact(OUTPUT_ORACLE, L1_ARTIFACTS_DIR).abi_list(),
        )
        self._stop = tx.stop
        self._loop = StepLoop("proposer", self.step, self._stop, self.poll_s)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def next_block_number(self) -> int:
        return int(self.client.view(self.oracle.functions.nextBlockNumber()))

    def step(self) -> bool:
        """Propose the next output if its block is safe; return whether one was proposed."""
        number = self.next_block_number()
        if number > self.safe_head():
            return False
        output = output_at_block(self.l2, number)
        data = self.oracle.encode_abi("proposeL2Output", args=[output.root, number])
        receipt = self.tx.send(self.oracle.address, bytes.fromhex(data[2:]))
        log.info(
            "proposed output 0x%s of L2 block %d in L1 block %d",
            output.root.hex(),
            number,
            receipt.block_number,
        )
        return True
