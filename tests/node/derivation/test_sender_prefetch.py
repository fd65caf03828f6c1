"""Senders recovered in a worker process: the same admitted transactions, or the same errors."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from node.derivation import sender_prefetch
from node.derivation.sender_prefetch import SenderPrefetch
from node.exceptions import InvalidTransaction
from node.l1_fee import compressed_size
from node.sender_worker import recover_one, signature_fields
from node.transactions import admit, admit_recovered, decode_transaction, signature_of
from tests.helpers.signing import CHAIN_ID, GWEI, sign
from tests.helpers.targets import REPO_ROOT
from tests.helpers.waiting import wait_for


def transactions() -> list[bytes]:
    return [
        sign(0, nonce=0),
        sign(1, nonce=3, value=10**18, data=b"\x01\x02" * 40, gas=60_000),
        sign(2, nonce=1, gasPrice=2 * GWEI),
        sign(3, nonce=7, gasPrice=GWEI, chainId=None),  # pre-EIP-155 legacy
    ]


def test_a_worker_admits_what_admit_admits():
    raws = transactions()
    prefetch = SenderPrefetch(1)
    try:
        prefetch.prefetch(raws)
        for raw in raws:
            ours, local = prefetch.admit(raw, CHAIN_ID), admit(raw, CHAIN_ID)
            assert (ours.sender, ours.hash, ours.raw) == (local.sender, local.hash, local.raw)
            assert compressed_size(ours.tx) == compressed_size(local.tx)
            assert ours.tx.sender == local.sender
    finally:
        prefetch.close()


def test_what_a_worker_cannot_recover_fails_as_admit_fails():
    bad = [sign(0, chainId=CHAIN_ID + 1), b"\x02\xc0"]
    prefetch = SenderPrefetch(1)
    try:
        prefetch.prefetch(bad)
        for raw in bad:
            with pytest.raises(InvalidTransaction) as ours:
                prefetch.admit(raw, CHAIN_ID)
            with pytest.raises(InvalidTransaction) as local:
                admit(raw, CHAIN_ID)
            assert str(ours.value) == str(local.value)
    finally:
        prefetch.close()


def test_after_close_or_without_workers_admission_happens_here():
    raw = sign(0)
    prefetch = SenderPrefetch(1)
    prefetch.prefetch([raw])
    prefetch.close()
    assert prefetch.admit(raw, CHAIN_ID).sender == admit(raw, CHAIN_ID).sender
    none = SenderPrefetch(0)
    none.prefetch([raw])
    assert none.admit(raw, CHAIN_ID).sender == admit(raw, CHAIN_ID).sender


def test_a_sender_counts_only_for_the_signature_it_came_from():
    """A worker result for another signature (or none) is not used: the sender is recovered
    here, from the transaction's own signature."""
    raw, other = sign(0), sign(1)
    tx = decode_transaction(raw)
    elsewhere = (admit(other, CHAIN_ID).sender, (tx.y_parity, tx.r, tx.s + 1), 1)
    assert admit_recovered(raw, CHAIN_ID, elsewhere).sender == admit(raw, CHAIN_ID).sender
    assert admit_recovered(raw, CHAIN_ID, (None, None, 0)).sender == admit(raw, CHAIN_ID).sender


def test_the_worker_reads_the_signature_as_py_evm_decodes_it():
    for raw in transactions():
        assert signature_fields(raw) == signature_of(decode_transaction(raw))
        sender, signature, flz = recover_one(raw)
        assert signature == signature_fields(raw)
        assert sender == admit(raw, CHAIN_ID).sender
        assert flz == compressed_size(decode_transaction(raw))
    assert recover_one(b"\x02\xc3\x01\x02\x03") == (None, None, 0)


WORKER_PARENT = """
import multiprocessing, time
from node.derivation.sender_prefetch import SenderPrefetch
if __name__ == "__main__":
    prefetch = SenderPrefetch(1)  # kept: a collected pool shuts its workers down
    prefetch.start()
    print(*[child.pid for child in multiprocessing.active_children()], flush=True)
    time.sleep(60)
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_end_when_the_node_is_killed(tmp_path):
    """SIGKILL gives the node no chance to shut its pool down; the workers notice and exit."""
    script = tmp_path / "full_node_process.py"
    script.write_text(WORKER_PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True
    )
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers and all(running(pid) for pid in workers)
    finally:
        parent.kill()
        parent.wait()
    wait_for(lambda: not any(running(pid) for pid in workers), 10, "the workers to exit")


def test_workers_that_cannot_start_leave_recovery_here(monkeypatch):
    class Broken(BrokenProcessPool):
        pass

    class NoPool:
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, *args):
            future: Future = Future()
            future.set_exception(Broken("cannot spawn"))
            return future

        def shutdown(self, **kwargs):
            pass

    monkeypatch.setattr(sender_prefetch, "ProcessPoolExecutor", NoPool)
    prefetch = SenderPrefetch(2)
    raw = sign(0)
    prefetch.prefetch([raw])
    assert prefetch.workers == 0
    assert prefetch.admit(raw, CHAIN_ID).sender == admit(raw, CHAIN_ID).sender
