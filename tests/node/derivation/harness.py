"""An L1 (anvil), a sequencer in this process, and a verifier deriving from that L1.

The sequencer is the real block producer with the real L1 watcher (origins and deposits from
anvil); batches are posted the way the batcher posts them (``ChannelOut`` payloads as calldata
from the batcher account to the inbox), or corrupted on purpose. The verifier is a fresh chain
with the real pipeline and driver on the same anvil, run round by round.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import to_checksum_address

from node.chain import Chain
from node.deposit_tx import is_deposit
from node.derivation.driver import Driver
from node.derivation.jsonrpc import JsonRpcClient
from node.derivation.l1_rpc import RpcL1Source
from node.derivation.pipeline import Pipeline
from node.derivation.sender_prefetch import SenderPrefetch
from node.derivation.system_config import SystemConfigTracker
from node.heads import ChainHeads
from node.l1_info import block_l1_attributes
from openledger.batch import Batch, ChannelOut
from openledger.config import NetworkConfig
from openledger.l1.client import L1Client
from openledger.l1.rollup_file import L1Contracts, L1GenesisOrigin, RollupFile
from openledger.l1.system_config import SystemConfig
from sequencer.builder import BlockProducer
from sequencer.l1_watcher import L1Watcher
from sequencer.l2_genesis import l2_genesis_hash
from sequencer.mempool import Mempool
from sequencer.pool_adapter import SequencerPool
from tests.helpers.signing import DEV, sign

BATCHER = DEV[1]
BATCH_INBOX = "0xff00000000000000000000000000000000000901"
PORTAL = "0x00000000000000000000000000000000000000aa"
"""No portal is deployed on this L1: these tests have no deposits."""


class L1:
    """Anvil as the L1: raw calls, mining, batch posting from the batcher account."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.client = L1Client(url)

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        payload = self.session.post(self.url, json=body, timeout=30).json()
        if "error" in payload:
            raise RuntimeError(f"{method}: {payload['error']}")
        return payload["result"]

    def number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.call("evm_mine")

    def send_calldata(self, data: bytes, sender: Any = BATCHER, to: str = BATCH_INBOX) -> int:
        """One calldata transaction (mined at once by anvil); returns its L1 block number."""
        return int(self.transact(data, sender, to)["blockNumber"], 16)

    def transact(self, data: bytes, sender: Any, to: str | None) -> dict[str, Any]:
        """One successful transaction (``to`` None: a contract creation); its receipt."""
        nonce = int(
            self.call("eth_getTransactionCount", to_checksum_address(sender.address), "pending"), 16
        )
        tx = {
            "chainId": int(self.call("eth_chainId"), 16),
            "nonce": nonce,
            **({} if to is None else {"to": to_checksum_address(to)}),
            "value": 0,
            "data": data,
            "gas": 30_000_000,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        raw = Account.sign_transaction(tx, sender.private_key).raw_transaction
        tx_hash = self.call("eth_sendRawTransaction", "0x" + bytes(raw).hex())
        receipt = None
        deadline = time.monotonic() + 10
        while receipt is None and time.monotonic() < deadline:
            receipt = self.call("eth_getTransactionReceipt", tx_hash)
            time.sleep(0 if receipt else 0.01)
        assert receipt is not None and receipt["status"] == "0x1", receipt
        return receipt

    def post(
        self, batches: list[Batch], chain_id: int = 901, span: bool = True, sender: Any = BATCHER
    ) -> list[int]:
        """The batches in one channel, posted as the batcher does; L1 block of each payload."""
        out = ChannelOut(chain_id, span=span)
        for batch in batches:
            out.add_block(batch)
        return [self.send_calldata(payload, sender) for payload in out.payloads()]


def make_rollup(
    l1: L1, config: NetworkConfig, system_config: str = PORTAL, **settings: int
) -> RollupFile:
    """A rollup.json anchored at the L1's current head, for ``config``'s L2 genesis
    (``system_config``: a deployed SystemConfig; by default an address without code)."""
    head = l1.client.head()
    sender = to_checksum_address(BATCHER.address)
    draft = RollupFile(
        l1_chain_id=l1.client.chain_id(),
        l2_chain_id=config.chain.chain_id,
        l1_genesis=L1GenesisOrigin(
            head.number, head.hash, head.timestamp, head.base_fee, head.blob_base_fee
        ),
        l2_genesis_hash=bytes(32),
        l2_genesis_time=config.genesis.timestamp,
        block_time=1,
        max_sequencer_drift=settings.get("max_sequencer_drift", 600),
        seq_window_size=settings.get("seq_window_size", 100),
        channel_timeout=settings.get("channel_timeout", 10),
        l1_contracts=L1Contracts(
            token=PORTAL,
            system_config=to_checksum_address(system_config),
            output_oracle=PORTAL,
            portal=to_checksum_address(PORTAL),
        ),
        batch_inbox_address=to_checksum_address(BATCH_INBOX),
        batcher_address=sender,
        proposer_address=sender,
        challenger_address=sender,
        submission_interval=10,
        finalization_period_seconds=12,
        base_fee_scalar=config.rollup.base_fee_scalar,
        blob_base_fee_scalar=config.rollup.blob_base_fee_scalar,
    )
    return replace(draft, l2_genesis_hash=l2_genesis_hash(draft.apply_to(config)))


@dataclass
class Sequencer:
    chain: Chain
    mempool: Mempool
    pool: SequencerPool
    producer: BlockProducer
    watcher: L1Watcher
    nonces: dict[int, int]

    def block(self, transfers: int = 0) -> None:
        """Build one block with ``transfers`` transfers from dev accounts 3..9."""
        for index in range(transfers):
            account = 3 + index % 7
            nonce = self.nonces.get(account, 0)
            self.pool.submit(sign(account, nonce=nonce, value=1 + index))
            self.nonces[account] = nonce + 1
        self.watcher.poll()
        self.producer.produce()

    def batch(self, number: int) -> Batch:
        """Block ``number`` as the batcher would post it."""
        header = self.chain.header_by_number(number)
        outcomes = self.chain.outcomes(header)
        attributes = block_l1_attributes([outcomes[0].tx])
        assert attributes is not None
        return Batch(
            parent_hash=header.parent_hash,
            epoch_number=attributes.origin.number,
            epoch_hash=attributes.origin.hash,
            timestamp=header.timestamp,
            transactions=tuple(o.tx.encode() for o in outcomes if not is_deposit(o.tx)),
        )

    def batches(self, first: int, last: int) -> list[Batch]:
        return [self.batch(n) for n in range(first, last + 1)]

    def close(self) -> None:
        self.chain.close()


def start_sequencer(path: Path, l1: L1, rollup: RollupFile, config: NetworkConfig) -> Sequencer:
    config = rollup.apply_to(config)
    chain = Chain.open(config, path)
    mempool = Mempool(
        config.mempool,
        config.chain.chain_id,
        config.chain.gas_limit,
        chain.state_at(chain.head),
        chain.store.level,
    )
    watcher = L1Watcher(L1Client(l1.url), chain, rollup)
    producer = BlockProducer(chain, mempool, 0, l1_origins=watcher)
    pool = SequencerPool(chain, mempool, lambda: None)
    return Sequencer(chain, mempool, pool, producer, watcher, {})


class Verifier:
    """A full node's chain and derivation driver on ``l1``, stepped by the test."""

    def __init__(
        self,
        path: Path,
        l1: L1,
        rollup: RollupFile,
        config: NetworkConfig,
        sender_workers: int = 0,
    ) -> None:
        self.chain = Chain.open(rollup.apply_to(config), path)
        assert self.chain.genesis_hash == rollup.l2_genesis_hash
        self.heads = ChainHeads(self.chain)
        client = JsonRpcClient(l1.url)
        tracker = SystemConfigTracker(
            client,
            bytes.fromhex(rollup.l1_contracts.system_config[2:]),
            SystemConfig.from_rollup(rollup),
            rollup.l1_genesis.number,
        )
        self.source = RpcL1Source(client, bytes.fromhex(PORTAL[2:]), tracker)
        self.pipeline = Pipeline(
            self.chain, self.heads, self.source, rollup, SenderPrefetch(sender_workers)
        )
        self.driver = Driver(self.pipeline, self.source)

    def sync(self, max_rounds: int = 100) -> None:
        """Run driver rounds until one makes no progress."""

        async def rounds() -> None:
            for _ in range(max_rounds):
                if not await self.driver.round():
                    return
            raise AssertionError(f"derivation still progressing after {max_rounds} rounds")

        asyncio.run(rounds())

    @property
    def safe(self) -> int:
        return self.heads.safe.block_number

    def close(self) -> None:
        self.pipeline.senders.close()
        self.chain.close()
