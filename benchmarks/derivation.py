"""Derivation speed: how fast a full node rebuilds the chain from L1, against how fast the
sequencer built it; and what each transfer costs on L1.

One run, all in this process except anvil (the L1, ``sequencer.anvil.DevL1``):

1. ``openledger l1 deploy``'s code deploys the L1 contracts and gives a rollup.json.
2. The sequencer (the real ``BlockProducer`` with the real ``L1Watcher``) builds ``--blocks``
   blocks of ``--txs`` pre-signed EIP-1559 transfers each, admitted through its mempool: the
   clock covers admission, execution, sealing and commits (how fast its CPU can produce,
   without HTTP). The chain itself caps production at the block gas limit per block time
   (30M gas per 2 s by default: 714 transfers/s); the sequencer's throughput limit is the lower
   of the two, and derivation is compared with that and with each of them.
3. The blocks are posted as the batcher posts them (span-batch channels of about 90 kB
   compressed, calldata to the inbox from dev account 1); L1 bytes and gas are counted against
   the transfers' plain RLP.
4. A fresh chain derives everything with the real pipeline and driver over JSON-RPC; the clock
   runs from the first driver round until the safe head is the sequencer's head. The script
   checks that every block hash matches.

Run from the repository root::

    .venv/bin/python benchmarks/derivation.py --blocks 100 --txs 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import tempfile
import time
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
from node.heads import ChainHeads
from node.l1_info import block_l1_attributes
from openledger.accounts import dev_accounts
from openledger.batch import Batch, ChannelOut
from openledger.config import NetworkConfig
from openledger.l1.deploy import L1DeployConfig, default_batch_inbox
from sequencer.anvil import DevL1
from sequencer.builder import BlockProducer
from sequencer.l1_cli import deploy_rollup
from sequencer.l1_watcher import L1Watcher
from sequencer.mempool import Mempool
from sequencer.pool_adapter import SequencerPool

TRANSFER_GAS = 21_000

CHANNEL_RAW_BYTES = 150_000
"""Raw transaction bytes per channel: about 90 kB compressed, under the batcher's 100 kB.
(``ChannelOut.compressed_size`` encodes the whole channel again on every call, so asking it
after each block, as the batcher does, would make posting quadratic here.)"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign_transfers(config: NetworkConfig, blocks: int, per_block: int) -> list[list[bytes]]:
    """Transfers from dev accounts 3..9 to fresh addresses, nonces interleaved."""
    senders = [Account.from_key(a.private_key) for a in dev_accounts(config.genesis.mnemonic, 10)]
    senders = senders[3:]
    nonces = [0] * len(senders)
    out = []
    for block in range(blocks):
        raws = []
        for index in range(per_block):
            slot = index % len(senders)
            tx = {
                "chainId": config.chain.chain_id,
                "nonce": nonces[slot],
                "to": to_checksum_address((block * per_block + index + 1).to_bytes(20, "big")),
                "value": 10**12 * (index + 1),
                "gas": 21_000,
                "maxFeePerGas": 10 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
            nonces[slot] += 1
            raws.append(bytes(senders[slot].sign_transaction(tx).raw_transaction))
        out.append(raws)
    return out


def as_batch(chain: Chain, number: int) -> Batch:
    header = chain.header_by_number(number)
    outcomes = chain.outcomes(header)
    attributes = block_l1_attributes([outcomes[0].tx])
    assert attributes is not None
    return Batch(
        parent_hash=header.parent_hash,
        epoch_number=attributes.origin.number,
        epoch_hash=attributes.origin.hash,
        timestamp=header.timestamp,
        transactions=tuple(o.tx.encode() for o in outcomes if not is_deposit(o.tx)),
    )


def post(url: str, batcher: Any, inbox: str, chain_id: int, payloads: list[bytes]) -> int:
    """Send every payload from the batcher (anvil automines); return the L1 gas used."""
    session = requests.Session()

    def call(method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return session.post(url, json=body, timeout=60).json()["result"]

    nonce = int(call("eth_getTransactionCount", batcher.address, "pending"), 16)
    hashes = []
    for offset, payload in enumerate(payloads):
        # Calldata's EIP-7623 floor (40 gas per non-zero byte) is above the 16-per-byte cost.
        gas = 21_000 + 40 * len(payload)
        tx = {
            "chainId": chain_id, "nonce": nonce + offset, "to": inbox, "value": 0,
            "data": payload, "gas": gas, "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }  # fmt: skip
        hashes.append(
            call(
                "eth_sendRawTransaction",
                "0x" + bytes(batcher.sign_transaction(tx).raw_transaction).hex(),
            )
        )
    used = 0
    for tx_hash in hashes:
        receipt = None
        deadline = time.monotonic() + 30
        while receipt is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"batch transaction {tx_hash} not mined in 30 s")
            receipt = call("eth_getTransactionReceipt", tx_hash)
        used += int(receipt["gasUsed"], 16)
    return used


def run(blocks: int, per_block: int, sender_workers: int, workdir: Path) -> dict[str, Any]:
    base = NetworkConfig()
    accounts = [Account.from_key(a.private_key) for a in dev_accounts(base.genesis.mnemonic, 3)]
    anvil = DevL1(workdir / "l1", free_port(), 0)
    client = anvil.start()
    try:
        rollup = deploy_rollup(
            client.url,
            accounts[0],
            base,
            L1DeployConfig(
                l2_chain_id=base.chain.chain_id,
                l2_genesis_time=base.genesis.timestamp,
                l2_block_time=1,
                batcher=accounts[1].address,
                proposer=accounts[2].address,
                challenger=accounts[0].address,
                batch_inbox=default_batch_inbox(base.chain.chain_id),
            ),
        )
        config = rollup.apply_to(base)
        transfers = sign_transfers(config, blocks, per_block)

        chain = Chain.open(config, workdir / "sequencer")
        mempool = Mempool(
            config.mempool, config.chain.chain_id, config.chain.gas_limit,
            chain.state_at(chain.head), chain.store.level,
        )  # fmt: skip
        watcher = L1Watcher(client, chain, rollup)
        producer = BlockProducer(chain, mempool, 0, l1_origins=watcher)
        pool = SequencerPool(chain, mempool, lambda: None)
        watcher.poll()
        started = time.perf_counter()
        for raws in transfers:
            for raw in raws:
                pool.submit(raw)
            producer.produce()
        produced_s = time.perf_counter() - started
        assert chain.head.block_number == blocks

        out = ChannelOut(config.chain.chain_id)
        payloads: list[bytes] = []
        raw_in_channel = 0
        for number in range(1, blocks + 1):
            batch = as_batch(chain, number)
            out.add_block(batch)
            raw_in_channel += sum(len(raw) for raw in batch.transactions)
            if raw_in_channel >= CHANNEL_RAW_BYTES:
                payloads += out.payloads()
                out = ChannelOut(config.chain.chain_id)
                raw_in_channel = 0
        if out.blocks:
            payloads += out.payloads()
        l1_gas = post(
            client.url, accounts[1], rollup.batch_inbox_address, client.chain_id(), payloads
        )
        total = blocks * per_block
        rlp_bytes = sum(len(raw) for raws in transfers for raw in raws)
        l1_bytes = sum(len(p) for p in payloads)

        verifier = Chain.open(config, workdir / "verifier")
        heads = ChainHeads(verifier)
        source = RpcL1Source(
            JsonRpcClient(client.url), bytes.fromhex(rollup.l1_contracts.portal[2:])
        )
        senders = SenderPrefetch(sender_workers)
        senders.start()  # a node starts its workers once, at start-up
        driver = Driver(Pipeline(verifier, heads, source, rollup, senders), source)

        async def derive() -> None:
            while await driver.round():
                pass

        started = time.perf_counter()
        asyncio.run(derive())
        derived_s = time.perf_counter() - started
        assert heads.safe.block_number == blocks, heads.safe.block_number
        for number in range(blocks + 1):
            assert verifier.header_by_number(number).hash == chain.header_by_number(number).hash
        senders.close()
        verifier.close()
        chain.close()
    finally:
        anvil.stop()
    chain_limit = base.chain.gas_limit / base.chain.block_time / TRANSFER_GAS
    sequencer_rate = total / produced_s
    derive_rate = total / derived_s
    return {
        "blocks": blocks,
        "sender_workers": sender_workers,
        "transfers": total,
        "sequencer_blocks_per_s": round(blocks / produced_s, 1),
        "sequencer_tx_per_s": round(sequencer_rate, 1),
        "chain_limit_tx_per_s": round(chain_limit, 1),
        "derive_blocks_per_s": round(blocks / derived_s, 1),
        "derive_tx_per_s": round(derive_rate, 1),
        "derive_vs_sequencer_cpu": round(derive_rate / sequencer_rate, 2),
        "derive_vs_chain_limit": round(derive_rate / chain_limit, 2),
        "derive_vs_throughput_limit": round(derive_rate / min(sequencer_rate, chain_limit), 2),
        "l1_payloads": len(payloads),
        "l1_bytes_per_transfer": round(l1_bytes / total, 1),
        "rlp_bytes_per_transfer": round(rlp_bytes / total, 1),
        "l1_bytes_vs_rlp": round(l1_bytes / rlp_bytes, 2),
        "l1_gas_per_transfer": round(l1_gas / total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--txs", type=int, default=100, help="transfers per block")
    parser.add_argument(
        "--sender-workers", type=int, default=1, help="the full node's sender-recovery processes"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(args.blocks, args.txs, args.sender_workers, Path(tmp))
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>26}  {value}")


if __name__ == "__main__":
    main()
