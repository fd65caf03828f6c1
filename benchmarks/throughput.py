"""Transaction throughput side by side: raw py-evm, the node in-process, node and anvil over RPC.

One run applies the same pre-signed transactions (EIP-1559, chain id 901, the 10 dev accounts of
the ``test test ... junk`` mnemonic as senders, nonces interleaved) four ways:

* ``raw``: py-evm alone: an in-memory ``AtomicDB`` and a ``MiningChain`` on ``PragueVM`` with
  the L2's execution rules (``node.state``: deposits, the L1 data fee), one
  ``chain.mine_all(block)`` per block. Transactions are decoded before the clock starts.
* ``inproc``: the node's own path without a server: ``admit`` (decode + one sender recovery),
  ``Chain.open_block``, ``BlockSession.apply`` per transaction, ``seal``, ``Chain.commit`` into
  LevelDB. Reported with its split (admission / execution / seal / commit).
* ``rpc-node``: ``openledger devnet --block-time 0`` in its own process; one concurrent sender per
  dev account posts ``eth_sendRawTransaction`` over HTTP; the clock stops when the last receipt is
  seen.
* ``rpc-anvil``: the same load generator against ``anvil --hardfork prague`` (automine). When
  anvil's automine stalls under this load (it does, see :class:`AutomineRescue`), the run
  switches anvil to ``evm_mine`` on demand and says so.

``raw`` and ``inproc`` cut the transactions into the same blocks (sum of gas limits <= 30M) and use
the node's fee recipient, so their final state roots must agree: the script checks it.

Workloads: ``transfers`` (1 wei each to a fresh address) and ``erc20`` (``transfer(fresh, 1)`` on
the OpenZeppelin ``TestToken`` fixture, compiled with ``contracts/compile.mjs``; the deployer
first hands every other sender a balance, untimed). Over RPC the transactions are signed for
the server's pending nonces, read when it is up (the devnet may have deployed from account 0).

Run from the repository root::

    .venv/bin/python benchmarks/throughput.py --count 2000
    .venv/bin/python benchmarks/throughput.py --only raw,inproc --workloads transfers --json
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import requests
from eth._utils.address import generate_contract_address
from eth.abc import SignedTransactionAPI
from eth.chains.base import MiningChain
from eth.constants import BLANK_ROOT_HASH, ZERO_ADDRESS, ZERO_HASH32
from eth.db.atomic import AtomicDB
from eth.vm.forks.byzantium.constants import EIP658_TRANSACTION_STATUS_CODE_SUCCESS
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from node.block_session import Applied, BlockSession
from node.chain import Chain
from node.genesis import genesis_balances
from node.l1_info import configured_attributes
from node.state import OpenLedgerState
from node.transactions import AdmittedTransaction, admit
from openledger.accounts import DevAccount, dev_accounts
from openledger.config import NetworkConfig
from openledger.contracts.predeploys import L1_BLOCK_ADDRESS, predeploy_code

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENLEDGER_BIN = REPO_ROOT / ".venv" / "bin" / "openledger"
ANVIL_BIN = REPO_ROOT / "node_modules" / ".bin" / "anvil"
COMPILE_SCRIPT = REPO_ROOT / "contracts" / "compile.mjs"
TOKEN_SOURCES = REPO_ROOT / "tests" / "fixtures" / "contracts"
TOKEN_CONTRACT = "TestToken"

T = TypeVar("T")

BACKENDS = ("raw", "inproc", "rpc-node", "rpc-anvil")
WORKLOADS = ("transfers", "erc20")

GWEI = 10**9
MAX_FEE_PER_GAS = 100 * GWEI
"""Far above any base fee these runs reach, so no transaction ever waits for a cheaper block."""
PRIORITY_FEE_PER_GAS = GWEI
TRANSFER_GAS = 21_000
ERC20_TRANSFER_GAS = 60_000
"""A transfer to a fresh holder uses about 51k gas (a zero-to-nonzero balance slot)."""
DEPLOY_GAS = 3_000_000
TOKEN_GRANT = 1_000 * 10**18
"""What the deployer hands each other sender before the timed part."""
TRANSFER_SELECTOR = function_signature_to_4byte_selector("transfer(address,uint256)")

RETRYABLE_ERRORS = ("txpool is full", "account limit exceeded", "future nonce gap too large")
"""Pool back-pressure from our node's mempool: wait and resend, as a wallet would."""
RETRY_DELAY_S = 0.005
RECEIPT_POLL_S = 0.005
RECEIPT_BATCH = 200
READY_TIMEOUT_S = 60.0
SETUP_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0
KEEPALIVE_S = 2.0
"""Client-side idle limit, below uvicorn's 5 s: otherwise the server may close a pooled
connection just as the client reuses it (a connection reset mid-run)."""
STALL_S = 0.1
"""anvil's head standing still this long while transactions wait counts as a stalled automine."""


# -- workloads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedTx:
    sender: int
    """Index of the dev account that signed it."""
    raw: bytes
    """EIP-2718 bytes, as ``eth_sendRawTransaction`` takes them."""

    @property
    def hash(self) -> str:
        return "0x" + keccak(self.raw).hex()


@dataclass(frozen=True)
class Workload:
    """Pre-signed transactions: untimed setup stages, then the timed ``txs``."""

    name: str
    setup: list[list[SignedTx]]
    """Each stage is mined before the next one is sent (e.g. deploy, then grant balances)."""
    txs: list[SignedTx]
    """The measured transactions, senders interleaved, each sender's nonces in order."""


class Signer:
    """Signs EIP-1559 transactions for the dev accounts, keeping each account's next nonce."""

    def __init__(
        self, accounts: Sequence[DevAccount], chain_id: int, nonces: Sequence[int]
    ) -> None:
        self.accounts = list(accounts)
        self.chain_id = chain_id
        self._nonces = list(nonces)

    def next_nonce(self, sender: int) -> int:
        return self._nonces[sender]

    def sign(
        self, sender: int, to: bytes | None, gas: int, value: int = 0, data: bytes = b""
    ) -> SignedTx:
        """The next transaction of account ``sender``."""
        fields: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": self._nonces[sender],
            "gas": gas,
            "maxFeePerGas": MAX_FEE_PER_GAS,
            "maxPriorityFeePerGas": PRIORITY_FEE_PER_GAS,
            "value": value,
            "data": data,
        }
        if to is not None:
            fields["to"] = to_checksum_address(to)
        self._nonces[sender] += 1
        signed = Account.sign_transaction(fields, self.accounts[sender].private_key)
        return SignedTx(sender, bytes(signed.raw_transaction))


def fresh_address(index: int) -> bytes:
    """A deterministic address nobody holds: every measured transfer creates a new account."""
    return keccak(b"throughput-recipient" + index.to_bytes(8, "big"))[12:]


def erc20_transfer_data(to: bytes, amount: int) -> bytes:
    return TRANSFER_SELECTOR + abi_encode(["address", "uint256"], [to_checksum_address(to), amount])


def transfer_workload(signer: Signer, count: int) -> Workload:
    """``count`` plain transfers, preceded by one untimed warm-up transfer per sender."""
    accounts = signer.accounts
    senders = range(len(accounts))
    warmup = [signer.sign(s, fresh_address(10**9 + s), TRANSFER_GAS, value=1) for s in senders]
    txs = [
        signer.sign(i % len(accounts), fresh_address(i), TRANSFER_GAS, value=1)
        for i in range(count)
    ]
    return Workload("transfers", [warmup], txs)


def erc20_workload(signer: Signer, count: int, init_code: bytes) -> Workload:
    """Deploy the token from account 0, grant the other senders tokens, then ``count`` transfers."""
    accounts = signer.accounts
    token = generate_contract_address(accounts[0].address, signer.next_nonce(0))
    deploy = signer.sign(0, None, DEPLOY_GAS, data=init_code)
    grants = [
        signer.sign(0, token, ERC20_TRANSFER_GAS, data=erc20_transfer_data(a.address, TOKEN_GRANT))
        for a in accounts[1:]
    ]
    txs = [
        signer.sign(
            i % len(accounts),
            token,
            ERC20_TRANSFER_GAS,
            data=erc20_transfer_data(fresh_address(i), 1),
        )
        for i in range(count)
    ]
    return Workload("erc20", [[deploy], grants], txs)


def compile_token_init_code(workdir: Path) -> bytes:
    """Compile the TestToken fixture with the project's pinned solc; return its init code."""
    outdir = workdir / "artifacts"
    done = subprocess.run(
        ["node", str(COMPILE_SCRIPT), str(TOKEN_SOURCES), str(outdir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"compiling {TOKEN_SOURCES} failed:\n{done.stderr.strip()}")
    artifact = json.loads((outdir / f"{TOKEN_CONTRACT}.json").read_text())
    return bytes.fromhex(artifact["bytecode"].removeprefix("0x"))


class WorkloadBuilder:
    """Signs a workload for senders starting at given nonces (untimed), once per nonce set.

    Backends need not start at nonce 0: the devnet may deploy its L2 contracts from dev account
    0 before it opens its port.
    """

    def __init__(self, config: NetworkConfig, count: int, token_init_code: bytes | None) -> None:
        genesis = config.genesis
        self.accounts = dev_accounts(genesis.mnemonic, genesis.dev_accounts)
        self.chain_id = config.chain.chain_id
        self.count = count
        self.token_init_code = token_init_code
        self._built: dict[tuple[str, tuple[int, ...]], Workload] = {}

    def build(self, name: str, nonces: Sequence[int] | None = None) -> Workload:
        """Workload ``name``; ``nonces`` default to a fresh genesis (all zero)."""
        start = tuple(nonces) if nonces is not None else (0,) * len(self.accounts)
        key = (name, start)
        if key not in self._built:
            signer = Signer(self.accounts, self.chain_id, start)
            if name == "transfers":
                self._built[key] = transfer_workload(signer, self.count)
            elif self.token_init_code is not None:
                self._built[key] = erc20_workload(signer, self.count, self.token_init_code)
            else:
                raise BenchmarkError("the erc20 workload needs the compiled token")
        return self._built[key]


WorkloadFor = Callable[[Sequence[int] | None], Workload]
"""One workload, signed for the given starting nonces (``None``: all zero)."""


def split_into_blocks(
    items: Sequence[T], gas_of: Callable[[T], int], gas_limit: int
) -> list[list[T]]:
    """Consecutive runs whose gas limits add up to at most ``gas_limit``: one block each."""
    blocks: list[list[T]] = []
    current: list[T] = []
    used = 0
    for item in items:
        gas = gas_of(item)
        if current and used + gas > gas_limit:
            blocks.append(current)
            current, used = [], 0
        current.append(item)
        used += gas
    if current:
        blocks.append(current)
    return blocks


def tx_gas(tx: SignedTransactionAPI) -> int:
    return tx.gas


def admitted_gas(item: AdmittedTransaction) -> int:
    return item.tx.gas


# -- results ------------------------------------------------------------------------------


@dataclass
class Measurement:
    """One workload on one backend."""

    workload: str
    backend: str
    count: int
    seconds: float
    blocks: int
    details: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def tps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")


class BenchmarkError(RuntimeError):
    """A backend misbehaved (failed transaction, server died): the figures would be wrong."""


# -- (1) raw py-evm -----------------------------------------------------------------------


def raw_chain(config: NetworkConfig) -> MiningChain:
    """py-evm's MiningChain on Prague with the devnet's genesis, in memory.

    Its state class is the node's (every user transaction pays the L1 data fee), so both apply
    the same rules and must reach the same root.
    """
    l2_rules = PragueVM.configure(__name__="L2RulesPragueVM", _state_class=OpenLedgerState)
    chain_class = MiningChain.configure(
        __name__="ThroughputChain",
        vm_configuration=((0, l2_rules),),
        chain_id=config.chain.chain_id,
    )
    genesis = config.genesis
    genesis_params = {
        "coinbase": ZERO_ADDRESS,
        "difficulty": 0,
        "gas_limit": config.chain.gas_limit,
        "timestamp": genesis.timestamp,
        "extra_data": genesis.extra_data,
        "nonce": b"\x00" * 8,
        "mix_hash": ZERO_HASH32,
        "base_fee_per_gas": genesis.base_fee_per_gas,
        "withdrawals_root": BLANK_ROOT_HASH,
        "blob_gas_used": 0,
        "excess_blob_gas": 0,
        "parent_beacon_block_root": ZERO_HASH32,
    }
    # The node's own genesis allocation, so both chains start from the same state root.
    state: dict[bytes, dict[str, Any]] = {
        address: {"balance": balance, "nonce": 0, "code": b"", "storage": {}}
        for address, balance in genesis_balances(config).items()
    }
    for address, code in predeploy_code().items():
        state[address] = {"balance": 0, "nonce": 1, "code": code, "storage": {}}
    state[L1_BLOCK_ADDRESS]["storage"] = configured_attributes(config.rollup).storage()
    return chain_class.from_genesis(AtomicDB(), genesis_params, state)


def mine_raw_blocks(
    chain: MiningChain,
    blocks: Sequence[Sequence[SignedTransactionAPI]],
    config: NetworkConfig,
) -> None:
    """One ``mine_all`` per block, with the node's fee recipient and fixed gas limit.

    py-evm would otherwise move each child's gas limit by parent/1024, which changes the base
    fee and so the state root (and how many transactions fit).
    """
    for block in blocks:
        chain.header = chain.header.copy(gas_limit=config.chain.gas_limit)
        _result, receipts, _computations = chain.mine_all(
            block, coinbase=config.chain.fee_recipient
        )
        failed = sum(r.state_root != EIP658_TRANSACTION_STATUS_CODE_SUCCESS for r in receipts)
        if failed:
            raise BenchmarkError(f"raw py-evm: {failed} transaction(s) failed")


def run_raw(workload_for: WorkloadFor, config: NetworkConfig) -> Measurement:
    """py-evm alone: decoded transactions in, blocks mined into an in-memory database."""
    workload = workload_for(None)
    chain = raw_chain(config)
    gas_limit = config.chain.gas_limit
    for stage in workload.setup:
        decoded = [PragueTransactionBuilder.decode(tx.raw) for tx in stage]
        mine_raw_blocks(chain, split_into_blocks(decoded, tx_gas, gas_limit), config)
    decoded = [PragueTransactionBuilder.decode(tx.raw) for tx in workload.txs]
    blocks = split_into_blocks(decoded, tx_gas, gas_limit)
    start = time.perf_counter()
    mine_raw_blocks(chain, blocks, config)
    seconds = time.perf_counter() - start
    state_root = chain.get_canonical_head().state_root.hex()
    return Measurement(
        workload.name, "raw", len(decoded), seconds, len(blocks), {"state_root": state_root}
    )


# -- (2) node in-process ------------------------------------------------------------------


@dataclass
class BlockTimings:
    """Seconds spent in each phase of building blocks, summed over blocks."""

    execution: float = 0.0
    seal: float = 0.0
    commit: float = 0.0


def build_node_block(
    chain: Chain, admitted: Sequence[AdmittedTransaction], timings: BlockTimings
) -> None:
    """Open, apply each, seal, commit: one block through the node's own API."""
    start = time.perf_counter()
    session: BlockSession = chain.open_block(chain.next_timestamp(time.time()))
    for item in admitted:
        result = session.apply(item.tx, item.sender)
        if not isinstance(result, Applied):
            chain.abandon()
            raise BenchmarkError(f"node in-process: transaction skipped: {result.reason}")
        if result.outcome.receipt.state_root != EIP658_TRANSACTION_STATUS_CODE_SUCCESS:
            chain.abandon()
            raise BenchmarkError("node in-process: a transaction failed")
    executed = time.perf_counter()
    sealed = session.seal()
    sealed_at = time.perf_counter()
    chain.commit(sealed)
    committed = time.perf_counter()
    timings.execution += executed - start
    timings.seal += sealed_at - executed
    timings.commit += committed - sealed_at


def run_inproc(workload_for: WorkloadFor, config: NetworkConfig) -> Measurement:
    """The node's block path on a fresh LevelDB: admission, execution, seal, commit."""
    workload = workload_for(None)
    chain_id = config.chain.chain_id
    gas_limit = config.chain.gas_limit
    with tempfile.TemporaryDirectory(prefix="throughput-inproc-") as tmp:
        chain = Chain.open(config, Path(tmp))
        try:
            for stage in workload.setup:
                admitted = [admit(tx.raw, chain_id) for tx in stage]
                for block in split_into_blocks(admitted, admitted_gas, gas_limit):
                    build_node_block(chain, block, BlockTimings())
            start = time.perf_counter()
            admitted = [admit(tx.raw, chain_id) for tx in workload.txs]
            admission = time.perf_counter() - start
            blocks = split_into_blocks(admitted, admitted_gas, gas_limit)
            timings = BlockTimings()
            for block in blocks:
                build_node_block(chain, block, timings)
            seconds = time.perf_counter() - start
            state_root = chain.head.state_root.hex()
        finally:
            chain.close()
    details: dict[str, float | int | str] = {"admission_s": admission}
    details.update({f"{phase}_s": value for phase, value in asdict(timings).items()})
    details["state_root"] = state_root
    return Measurement(workload.name, "inproc", len(admitted), seconds, len(blocks), details)


# -- (3) JSON-RPC servers -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rpc_call(url: str, method: str, params: list[Any], timeout: float = 5.0) -> Any:
    """A blocking JSON-RPC call (readiness checks only; the load uses aiohttp)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    reply = requests.post(url, json=body, timeout=timeout).json()
    if "error" in reply:
        raise BenchmarkError(f"{method}: {reply['error']}")
    return reply["result"]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll ``eth_chainId`` until it answers; fail early if the server process exits."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise BenchmarkError(f"server exited with {process.returncode}:\n{tail}")
        try:
            rpc_call(url, "eth_chainId", [], timeout=1.0)
            return
        except (requests.RequestException, ValueError):
            time.sleep(0.1)
    raise BenchmarkError(f"server at {url} did not answer within {READY_TIMEOUT_S:.0f}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL if it does not exit in 10 s.

    The group matters for anvil: ``node_modules/.bin/anvil`` is a Node.js launcher whose child is
    the real binary.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running_server(command: list[str], port: int, workdir: Path) -> Iterator[str]:
    """Start ``command`` (logging to ``workdir/server.log``), yield its URL once it answers."""
    log_path = workdir / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until_ready(url, process, log_path)
            yield url
        finally:
            stop_process(process)


def node_command(datadir: Path, port: int) -> list[str]:
    return [
        str(OPENLEDGER_BIN),
        "devnet",
        "--datadir",
        str(datadir),
        "--rpc-port",
        str(port),
        "--block-time",
        "0",
        "--no-ai",
        "--no-l1",
    ]


def anvil_command(port: int, chain_id: int) -> list[str]:
    return [
        str(ANVIL_BIN),
        "--chain-id",
        str(chain_id),
        "--hardfork",
        "prague",
        "--port",
        str(port),
        "--silent",
    ]


# -- (3) the load generator ---------------------------------------------------------------


class RpcClient:
    """JSON-RPC over one pooled aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self._next_id = 0

    async def call(self, method: str, params: list[Any]) -> Any:
        """The result, or :class:`RpcFailure` carrying the error object."""
        self._next_id += 1
        body = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        async with self.session.post(self.url, json=body) as response:
            reply = await response.json(content_type=None)
        if "error" in reply:
            raise RpcFailure(method, reply["error"])
        return reply["result"]

    async def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """One JSON-RPC batch of ``(method, params)``; results in order (``None`` for errors)."""
        body = [
            {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
            for index, (method, params) in enumerate(calls)
        ]
        async with self.session.post(self.url, json=body) as response:
            replies = await response.json(content_type=None)
        by_id = {reply["id"]: reply.get("result") for reply in replies}
        return [by_id.get(index) for index in range(len(calls))]


class RpcFailure(BenchmarkError):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message', error)}")
        self.message = str(error.get("message", ""))


@dataclass
class LoadResult:
    hashes: list[str]
    """One per transaction, in workload order."""
    send_seconds: float
    """First send to the last accepted send."""
    seconds: float
    """First send to the last receipt seen."""
    retries: int
    rescue_mines: int
    """``evm_mine`` calls made because anvil's automine stalled (:class:`AutomineRescue`)."""


def by_sender(txs: Sequence[SignedTx]) -> list[list[SignedTx]]:
    """``txs`` grouped by sender, each group in the original (nonce) order."""
    groups: dict[int, list[SignedTx]] = {}
    for tx in txs:
        groups.setdefault(tx.sender, []).append(tx)
    return list(groups.values())


async def send_in_order(client: RpcClient, txs: Sequence[SignedTx]) -> int:
    """One sender: post its transactions in nonce order, resending on pool back-pressure."""
    retries = 0
    for tx in txs:
        payload = ["0x" + tx.raw.hex()]
        while True:
            try:
                await client.call("eth_sendRawTransaction", payload)
                break
            except RpcFailure as failure:
                if not any(text in failure.message for text in RETRYABLE_ERRORS):
                    raise
                retries += 1
                await asyncio.sleep(RETRY_DELAY_S)
    return retries


class AutomineRescue:
    """anvil's automine can stop picking up ready transactions under concurrent submission.

    Seen with anvil 1.7.1 and 10 concurrent senders: after a few hundred blocks the head stops
    while the pool holds over a thousand pending transactions (foundry-rs/foundry#10122).
    ``evm_mine`` alone makes it worse: racing the automine task, it lost transactions and left
    anvil mining empty blocks. So on the first stall this switches anvil to on-demand mining
    (``evm_setAutomine false``) and from then on mines with ``evm_mine`` whenever transactions
    wait; the report counts those calls.
    """

    def __init__(self) -> None:
        self.on_demand = False
        self.mines = 0

    def should_mine(self, stalled_for: float) -> bool:
        return self.on_demand or stalled_for > STALL_S

    async def mine(self, client: RpcClient) -> None:
        if not self.on_demand:
            await client.call("evm_setAutomine", [False])
            self.on_demand = True
        await client.call("evm_mine", [])
        self.mines += 1


async def wait_for_receipts(
    client: RpcClient, hashes: Sequence[str], timeout: float, rescue: AutomineRescue | None
) -> None:
    """Poll until every hash has a receipt.

    Each poll is one batch: ``eth_blockNumber`` plus the receipts still missing. With a
    ``rescue``, a head that stands still while transactions wait gets blocks mined on demand.
    """
    pending = list(hashes)
    deadline = time.monotonic() + timeout
    head, moved_at = None, time.monotonic()
    while True:
        calls = [("eth_blockNumber", []), *(("eth_getTransactionReceipt", [h]) for h in pending)]
        latest, *found = await client.batch(calls)
        pending = [h for h, receipt in zip(pending, found, strict=True) if receipt is None]
        if not pending:
            return
        now = time.monotonic()
        if now > deadline:
            raise BenchmarkError(f"{len(pending)} transaction(s) not mined after {timeout:.0f}s")
        if latest != head:
            head, moved_at = latest, now
        if rescue is not None and rescue.should_mine(now - moved_at):
            await rescue.mine(client)
            continue
        await asyncio.sleep(RECEIPT_POLL_S)


async def send_load(
    client: RpcClient, txs: Sequence[SignedTx], rescue: AutomineRescue | None
) -> LoadResult:
    """All senders concurrently; done when the last transaction of every sender has a receipt.

    A sender's transactions are mined in nonce order, so its last one having a receipt means all
    of its transactions do (checked afterwards by :func:`check_receipts`).
    """
    groups = by_sender(txs)
    start = time.perf_counter()
    retries = await asyncio.gather(*(send_in_order(client, group) for group in groups))
    sent = time.perf_counter()
    lasts = [group[-1].hash for group in groups]
    mines_before = rescue.mines if rescue else 0
    await wait_for_receipts(client, lasts, LOAD_TIMEOUT_S, rescue)
    done = time.perf_counter()
    hashes = [tx.hash for tx in txs]
    rescue_mines = (rescue.mines if rescue else 0) - mines_before
    return LoadResult(hashes, sent - start, done - start, sum(retries), rescue_mines)


async def check_receipts(client: RpcClient, hashes: Sequence[str]) -> int:
    """Every transaction mined and successful; returns the number of blocks they span."""
    blocks: set[str] = set()
    for offset in range(0, len(hashes), RECEIPT_BATCH):
        chunk = hashes[offset : offset + RECEIPT_BATCH]
        receipts = await client.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
        for tx_hash_, receipt in zip(chunk, receipts, strict=True):
            if receipt is None:
                raise BenchmarkError(f"{tx_hash_} has no receipt")
            if int(receipt["status"], 16) != 1:
                raise BenchmarkError(f"{tx_hash_} failed (status 0)")
            blocks.add(receipt["blockHash"])
    return len(blocks)


async def run_setup(
    client: RpcClient, stages: Sequence[Sequence[SignedTx]], rescue: AutomineRescue | None
) -> None:
    """Each stage sent and mined before the next (untimed)."""
    for stage in stages:
        result = await send_load(client, stage, rescue)
        await wait_for_receipts(client, result.hashes, SETUP_TIMEOUT_S, rescue)
        await check_receipts(client, result.hashes)


async def pending_nonces(client: RpcClient, accounts: Sequence[DevAccount]) -> list[int]:
    """Each account's next nonce on the server (``pending``: counts its pool too)."""
    calls = [("eth_getTransactionCount", [a.checksum_address, "pending"]) for a in accounts]
    return [int(count, 16) for count in await client.batch(calls)]


async def drive_rpc(
    url: str,
    workload_for: WorkloadFor,
    accounts: Sequence[DevAccount],
    backend: str,
    rescue: AutomineRescue | None = None,
) -> Measurement:
    """Sign for the server's nonces, run the setup, time the load, check every receipt."""
    connector = aiohttp.TCPConnector(limit=len(accounts) + 2, keepalive_timeout=KEEPALIVE_S)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            client = RpcClient(session, url)
            workload = workload_for(await pending_nonces(client, accounts))
            await run_setup(client, workload.setup, rescue)
            load = await send_load(client, workload.txs, rescue)
            blocks = await check_receipts(client, load.hashes)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BenchmarkError(f"{backend}: {type(exc).__name__}: {exc}") from exc
    details: dict[str, float | int | str] = {
        "send_s": load.send_seconds,
        "retries": load.retries,
        "rescue_mines": load.rescue_mines,
        "senders": len({tx.sender for tx in workload.txs}),
    }
    return Measurement(workload.name, backend, len(workload.txs), load.seconds, blocks, details)


def run_rpc_node(workload_for: WorkloadFor, config: NetworkConfig) -> Measurement:
    """``openledger devnet --block-time 0`` on a fresh datadir."""
    accounts = dev_accounts(config.genesis.mnemonic, config.genesis.dev_accounts)
    with tempfile.TemporaryDirectory(prefix="throughput-node-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        with running_server(node_command(workdir / "data", port), port, workdir) as url:
            return asyncio.run(drive_rpc(url, workload_for, accounts, "rpc-node"))


def run_rpc_anvil(workload_for: WorkloadFor, config: NetworkConfig) -> Measurement:
    """anvil with Prague rules and its default automine."""
    accounts = dev_accounts(config.genesis.mnemonic, config.genesis.dev_accounts)
    with tempfile.TemporaryDirectory(prefix="throughput-anvil-") as tmp:
        port = free_port()
        command = anvil_command(port, config.chain.chain_id)
        with running_server(command, port, Path(tmp)) as url:
            rescue = AutomineRescue()
            return asyncio.run(drive_rpc(url, workload_for, accounts, "rpc-anvil", rescue))


RUNNERS: dict[str, Callable[[WorkloadFor, NetworkConfig], Measurement]] = {
    "raw": run_raw,
    "inproc": run_inproc,
    "rpc-node": run_rpc_node,
    "rpc-anvil": run_rpc_anvil,
}


# -- reporting ----------------------------------------------------------------------------


def ratio(numerator: Measurement | None, denominator: Measurement | None) -> float | None:
    if numerator is None or denominator is None:
        return None
    return numerator.tps / denominator.tps


def describe(measurement: Measurement) -> str:
    """One progress line per measurement, with the split where there is one."""
    m = measurement
    line = (
        f"  {m.backend:<10} {m.count} txs in {m.seconds:.3f}s = {m.tps:,.0f} tx/s "
        f"({m.blocks} blocks)"
    )
    d = m.details
    if m.backend == "inproc":
        split = ", ".join(
            f"{phase} {float(d[f'{phase}_s']):.3f}s ({float(d[f'{phase}_s']) / m.seconds:.0%})"
            for phase in ("admission", "execution", "seal", "commit")
        )
        line += f"\n             split: {split}"
    elif m.backend.startswith("rpc-"):
        line += f"; sends done at {float(d['send_s']):.3f}s, {d['retries']} pool retries"
        if d["rescue_mines"]:
            line += f", automine stalled: {d['rescue_mines']} evm_mine call(s)"
    return line


def state_root_check(results: dict[str, Measurement]) -> str | None:
    """raw and inproc apply the same blocks with the same coinbase: their roots must agree."""
    raw, inproc = results.get("raw"), results.get("inproc")
    if raw is None or inproc is None:
        return None
    if raw.details["state_root"] == inproc.details["state_root"]:
        return "  state roots agree (raw py-evm == node in-process)"
    raise BenchmarkError(
        f"state roots differ: raw {raw.details['state_root']} "
        f"vs node {inproc.details['state_root']}"
    )


def format_tps(measurement: Measurement | None) -> str:
    return "-" if measurement is None else f"{measurement.tps:,.0f}"


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """First column left-aligned, the numbers right-aligned."""
    first, *rest = zip(cells, widths, strict=True)
    return "  ".join([first[0].ljust(first[1]), *(cell.rjust(width) for cell, width in rest)])


def summary_table(results: dict[str, dict[str, Measurement]], count: int) -> str:
    """Rows = workloads, columns = tx/s per backend and the two ratios."""
    headers = [
        "workload",
        "raw py-evm",
        "node in-process",
        "node RPC",
        "anvil RPC",
        "node RPC / raw",
        "node RPC / anvil",
    ]
    rows = []
    for workload, by_backend in results.items():
        node_rpc = by_backend.get("rpc-node")
        rows.append(
            [
                workload,
                *(format_tps(by_backend.get(backend)) for backend in BACKENDS),
                format_ratio(ratio(node_rpc, by_backend.get("raw"))),
                format_ratio(ratio(node_rpc, by_backend.get("rpc-anvil"))),
            ]
        )
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [f"Throughput in tx/s ({count} transactions per workload)"]
    lines += [format_row(row, widths) for row in [headers, *rows]]
    return "\n".join(lines)


def json_report(results: dict[str, dict[str, Measurement]], count: int) -> str:
    """Every measurement plus the ratios, for scripts and CI dashboards."""
    report: dict[str, Any] = {"count": count, "workloads": {}}
    for workload, by_backend in results.items():
        node_rpc = by_backend.get("rpc-node")
        report["workloads"][workload] = {
            "results": {backend: {**asdict(m), "tps": m.tps} for backend, m in by_backend.items()},
            "node_rpc_over_raw": ratio(node_rpc, by_backend.get("raw")),
            "node_rpc_over_anvil": ratio(node_rpc, by_backend.get("rpc-anvil")),
        }
    return json.dumps(report, indent=2)


# -- command line -------------------------------------------------------------------------


def csv_choice(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated subset of ``allowed``, kept in ``allowed``'s order."""

    def parse(value: str) -> list[str]:
        chosen = {item.strip() for item in value.split(",") if item.strip()}
        unknown = chosen - set(allowed)
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)} (got {value!r})")
        return [item for item in allowed if item in chosen]

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=2000, help="transactions per workload")
    parser.add_argument(
        "--only",
        type=csv_choice(BACKENDS),
        default=list(BACKENDS),
        help=f"backends to run, comma-separated ({','.join(BACKENDS)})",
    )
    parser.add_argument(
        "--workloads",
        type=csv_choice(WORKLOADS),
        default=list(WORKLOADS),
        help=f"workloads to run, comma-separated ({','.join(WORKLOADS)})",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    return args


def check_tools(backends: Sequence[str], workloads: Sequence[str]) -> None:
    """Fail before any work when a needed executable is missing."""
    needed = []
    if "rpc-node" in backends:
        needed.append(OPENLEDGER_BIN)
    if "rpc-anvil" in backends:
        needed.append(ANVIL_BIN)
    missing = [str(path) for path in needed if not path.exists()]
    if "erc20" in workloads and shutil.which("node") is None:
        missing.append("node (for contracts/compile.mjs)")
    if missing:
        raise BenchmarkError(f"missing: {', '.join(missing)}")


def token_init_code(workloads: Sequence[str]) -> bytes | None:
    """Compile the token only when the erc20 workload runs."""
    if "erc20" not in workloads:
        return None
    with tempfile.TemporaryDirectory(prefix="throughput-solc-") as tmp:
        return compile_token_init_code(Path(tmp))


def exit_on_sigterm(signum: int, _frame: object) -> None:
    """Turn SIGTERM into SystemExit so that servers are stopped and temp dirs removed."""
    sys.exit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    config = NetworkConfig()
    try:
        check_tools(args.only, args.workloads)
        builder = WorkloadBuilder(config, args.count, token_init_code(args.workloads))
        results: dict[str, dict[str, Measurement]] = {}
        for name in args.workloads:
            print(f"{name} ({args.count} transactions):", flush=True)
            by_backend = results.setdefault(name, {})
            workload_for: WorkloadFor = functools.partial(builder.build, name)
            for backend in args.only:
                by_backend[backend] = RUNNERS[backend](workload_for, config)
                print(describe(by_backend[backend]), flush=True)
            check = state_root_check(by_backend)
            if check:
                print(check, flush=True)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print()
    print(summary_table(results, args.count))
    if args.json:
        print(json_report(results, args.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
