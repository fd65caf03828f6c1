"""``rollup.json``: the one file that ties an L2 to its L1 (docs/rollup.md, "rollup.json").

Written once by ``openledger l1 deploy`` and read by every rollup node: the sequencer (origin
selection, batcher, proposer) and full nodes (derivation). Field names follow OP's rollup.json
where one exists (``block_time``, ``max_sequencer_drift``, ``seq_window_size``,
``channel_timeout``, ``batch_inbox_address``, ``l1_chain_id``/``l2_chain_id``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_utils import to_canonical_address, to_checksum_address

from openledger.config import NetworkConfig, RollupConfig
from openledger.l1.exceptions import RollupFileError
from openledger.types import Address, Wei

ROLLUP_FILE = "rollup.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class L1GenesisOrigin:
    """The L1 block the rollup starts at: the L1 origin of L2 genesis."""

    number: int
    hash: bytes
    timestamp: int
    base_fee: int
    blob_base_fee: int


@dataclass(frozen=True)
class L1Contracts:
    token: str
    system_config: str
    output_oracle: str
    portal: str


@dataclass(frozen=True)
class RollupFile:
    l1_chain_id: int
    l2_chain_id: int
    l1_genesis: L1GenesisOrigin
    l2_genesis_hash: bytes
    l2_genesis_time: int
    block_time: int
    """L2 seconds between blocks as the OutputOracle counts them (at least 1)."""
    max_sequencer_drift: int
    """Most seconds an L2 block's timestamp may run ahead of its L1 origin's."""
    seq_window_size: int
    """L1 blocks within which an origin's batches must land."""
    channel_timeout: int
    """L1 blocks within which a channel's frames must all land."""
    l1_contracts: L1Contracts
    batch_inbox_address: str
    batcher_address: str
    proposer_address: str
    challenger_address: str
    submission_interval: int
    """L2 blocks between two output proposals."""
    finalization_period_seconds: int
    """The challenge window."""
    base_fee_scalar: int
    blob_base_fee_scalar: int

    def to_json(self) -> dict[str, Any]:
        origin = self.l1_genesis
        return {
            "version": SCHEMA_VERSION,
            "l1_chain_id": self.l1_chain_id,
            "l2_chain_id": self.l2_chain_id,
            "genesis": {
                "l1": {
                    "number": origin.number,
                    "hash": "0x" + origin.hash.hex(),
                    "timestamp": origin.timestamp,
                    "base_fee": str(origin.base_fee),
                    "blob_base_fee": str(origin.blob_base_fee),
                },
                "l2": {
                    "number": 0,
                    "hash": "0x" + self.l2_genesis_hash.hex(),
                    "timestamp": self.l2_genesis_time,
                },
            },
            "block_time": self.block_time,
            "max_sequencer_drift": self.max_sequencer_drift,
            "seq_window_size": self.seq_window_size,
            "channel_timeout": self.channel_timeout,
            "l1_contracts": {
                "OpenToken": self.l1_contracts.token,
                "SystemConfig": self.l1_contracts.system_config,
                "OutputOracle": self.l1_contracts.output_oracle,
                "OpenPortal": self.l1_contracts.portal,
            },
            "batch_inbox_address": self.batch_inbox_address,
            "batcher_address": self.batcher_address,
            "proposer_address": self.proposer_address,
            "challenger_address": self.challenger_address,
            "output_oracle": {
                "submission_interval": self.submission_interval,
                "finalization_period_seconds": self.finalization_period_seconds,
            },
            "fee_scalars": {
                "base_fee_scalar": self.base_fee_scalar,
                "blob_base_fee_scalar": self.blob_base_fee_scalar,
            },
        }

    def save(self, path: Path) -> None:
        """Write atomically (temporary file, fsync, rename): a crash never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w") as handle:
            json.dump(self.to_json(), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def node_rollup(self) -> RollupConfig:
        """The node configuration's ``[rollup]`` section this file implies: L2 genesis's L1
        origin and the fee parameters its ``L1Block`` starts with."""
        origin = self.l1_genesis
        return RollupConfig(
            l1_origin_number=origin.number,
            l1_origin_timestamp=origin.timestamp,
            l1_origin_hash=origin.hash,
            l1_base_fee=Wei(origin.base_fee),
            l1_blob_base_fee=Wei(origin.blob_base_fee),
            batcher=Address(to_canonical_address(self.batcher_address)),
            base_fee_scalar=self.base_fee_scalar,
            blob_base_fee_scalar=self.blob_base_fee_scalar,
        )

    def apply_to(self, config: NetworkConfig) -> NetworkConfig:
        """``config`` with this rollup's L1 view; refuses a config of another L2 chain."""
        if config.chain.chain_id != self.l2_chain_id:
            raise RollupFileError(
                f"rollup.json is for L2 chain {self.l2_chain_id}, the config for "
                f"{config.chain.chain_id}"
            )
        if config.genesis.timestamp != self.l2_genesis_time:
            raise RollupFileError(
                f"rollup.json's L2 genesis time {self.l2_genesis_time} differs from the "
                f"config's {config.genesis.timestamp}"
            )
        return replace(config, rollup=self.node_rollup())


def _hash(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise RollupFileError(f"rollup.json: {name} must be a 0x-prefixed 32-byte hex string")
    return bytes.fromhex(value[2:])


def _address(value: Any, name: str) -> str:
    try:
        return to_checksum_address(value)
    except (TypeError, ValueError) as exc:
        raise RollupFileError(f"rollup.json: {name} is not an address: {value!r}") from exc


def parse_rollup_file(raw: Any) -> RollupFile:
    """Check every field of a decoded rollup.json."""
    try:
        if raw["version"] != SCHEMA_VERSION:
            raise RollupFileError(f"rollup.json version {raw['version']!r} is not supported")
        l1 = raw["genesis"]["l1"]
        l2 = raw["genesis"]["l2"]
        contracts = raw["l1_contracts"]
        oracle = raw["output_oracle"]
        scalars = raw["fee_scalars"]
        return RollupFile(
            l1_chain_id=int(raw["l1_chain_id"]),
            l2_chain_id=int(raw["l2_chain_id"]),
            l1_genesis=L1GenesisOrigin(
                number=int(l1["number"]),
                hash=_hash(l1["hash"], "genesis.l1.hash"),
                timestamp=int(l1["timestamp"]),
                base_fee=int(l1["base_fee"]),
                blob_base_fee=int(l1["blob_base_fee"]),
            ),
            l2_genesis_hash=_hash(l2["hash"], "genesis.l2.hash"),
            l2_genesis_time=int(l2["timestamp"]),
            block_time=int(raw["block_time"]),
            max_sequencer_drift=int(raw["max_sequencer_drift"]),
            seq_window_size=int(raw["seq_window_size"]),
            channel_timeout=int(raw["channel_timeout"]),
            l1_contracts=L1Contracts(
                token=_address(contracts["OpenToken"], "OpenToken"),
                system_config=_address(contracts["SystemConfig"], "SystemConfig"),
                output_oracle=_address(contracts["OutputOracle"], "OutputOracle"),
                portal=_address(contracts["OpenPortal"], "OpenPortal"),
            ),
            batch_inbox_address=_address(raw["batch_inbox_address"], "batch_inbox_address"),
            batcher_address=_address(raw["batcher_address"], "batcher_address"),
            proposer_address=_address(raw["proposer_address"], "proposer_address"),
            challenger_address=_address(raw["challenger_address"], "challenger_address"),
            submission_interval=int(oracle["submission_interval"]),
            finalization_period_seconds=int(oracle["finalization_period_seconds"]),
            base_fee_scalar=int(scalars["base_fee_scalar"]),
            blob_base_fee_scalar=int(scalars["blob_base_fee_scalar"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RollupFileError(f"rollup.json is malformed: {exc!r}") from exc


def load_rollup_file(path: Path) -> RollupFile:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RollupFileError(f"no rollup file at {path}") from exc
    except json.JSONDecodeError as exc:
        raise RollupFileError(f"{path} is not valid JSON: {exc}") from exc
    return parse_rollup_file(raw)
