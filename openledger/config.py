"""Network configuration: one frozen dataclass per section, loaded from TOML and passed in.

Nothing deep in the code reads the environment or a file: services receive a :class:`NetworkConfig`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils import to_canonical_address

from openledger.errors import OpenLedgerError
from openledger.types import Address, Wei

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The mnemonic every Ethereum dev tool funds (anvil, Hardhat)."""


SEQUENCER_FEE_VAULT = Address(bytes.fromhex("4200000000000000000000000000000000000011"))
"""OP Stack's SequencerFeeVault predeploy: the coinbase of every L2 block."""

ONE_GWEI = Wei(10**9)
DEV_BALANCE = Wei(10_000 * 10**18)
"""What anvil and Hardhat give each dev account."""
ONE_WEI = Wei(1)
NO_BATCHER = Address(bytes(20))


class ConfigError(OpenLedgerError):
    """A configuration file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int = 901
    """EIP-155 chain id; the devnet L2 is 901."""
    gas_limit: int = 30_000_000
    """Gas limit of every block."""
    block_time: float = 2.0
    """Seconds between blocks; 0 means a block as soon as transactions wait."""
    fee_recipient: Address = SEQUENCER_FEE_VAULT
    """Coinbase of every block: receives the priority fees."""
    fsync: bool = False
    """fsync each block's write batch. Off, a killed process still loses nothing (the batch is
    in the OS before the block is announced); on, a power cut loses nothing either, at the
    cost of one disk flush per block."""


@dataclass(frozen=True)
class GenesisConfig:
    timestamp: int = 1_767_225_600
    """Fixed genesis time so that every node derives the same genesis hash."""
    base_fee_per_gas: Wei = ONE_GWEI
    extra_data: bytes = b"OpenLedger"
    mnemonic: str = DEV_MNEMONIC
    dev_accounts: int = 10
    """How many accounts of ``mnemonic`` to fund."""
    dev_balance: Wei = DEV_BALANCE
    alloc: dict[Address, Wei] = field(default_factory=dict)
    """Further balances funded at genesis."""


@dataclass(frozen=True)
class MempoolConfig:
    max_per_sender: int = 64
    """Executable (gap-free) transactions kept per sender."""
    max_future_per_sender: int = 64
    """Transactions with a nonce gap kept per sender."""
    max_total: int = 8192
    price_bump_percent: int = 10
    """A replacement must raise both fee caps by at least this much (geth's default)."""
    max_tx_bytes: int = 128 * 1024
    """geth's txMaxSize: larger transactions are refused as ``oversized data``."""


@dataclass(frozen=True)
class RpcConfig:
    host: str = "127.0.0.1"
    port: int = 8545
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_size: int = 1000
    gas_cap: int = 50_000_000
    """Most gas an ``eth_call`` or ``eth_estimateGas`` may use (geth's RPCGasCap)."""


DEVNET_L1_GENESIS_HASH = bytes.fromhex(
    "b874cd4e84f6d32cccfa1829288ea1b82a0178c6ab54ece9da8b92f60888a895"
)
"""keccak256("openledger devnet L1 genesis"): a stand-in until the L1 watcher supplies origins."""


@dataclass(frozen=True)
class RollupConfig:
    """The L2's view of L1 until the L1 watcher exists, and the L1 data fee's scalars.

    Every L2 block names an L1 origin (the block it is derived from) in its L1-attributes
    deposit. Without a watcher every block uses this fixed origin; the scalars are what OP's
    SystemConfig sets (OP mainnet's Ecotone values by default).
    """

    l1_origin_number: int = 0
    l1_origin_timestamp: int = 1_767_225_600
    l1_origin_hash: bytes = DEVNET_L1_GENESIS_HASH
    l1_base_fee: Wei = ONE_GWEI
    l1_blob_base_fee: Wei = ONE_WEI
    batcher: Address = NO_BATCHER
    """The batcher's L1 address; ``L1Block.batcherHash`` is it left-padded to 32 bytes."""
    base_fee_scalar: int = 1368
    """Weight of the L1 base fee in the L1 data fee (6 decimals)."""
    blob_base_fee_scalar: int = 810_949
    """Weight of the L1 blob base fee in the L1 data fee (6 decimals)."""


@dataclass(frozen=True)
class NetworkConfig:
    chain: ChainConfig = field(default_factory=ChainConfig)
    genesis: GenesisConfig = field(default_factory=GenesisConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    rpc: RpcConfig = field(default_factory=RpcConfig)
    rollup: RollupConfig = field(default_factory=RollupConfig)

    def with_overrides(
        self, *, block_time: float | None = None, rpc_port: int | None = None
    ) -> NetworkConfig:
        """Apply command-line flags on top of the file."""
        config = self
        if block_time is not None:
            config = replace(config, chain=replace(config.chain, block_time=block_time))
        if rpc_port is not None:
            config = replace(config, rpc=replace(config.rpc, port=rpc_port))
        return config


def _parse_bytes(value: str) -> bytes:
    if not value.startswith("0x"):
        raise ConfigError(f"expected 0x-prefixed hex, got {value!r}")
    return bytes.fromhex(value[2:])


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] must be a table")
    return section


def _build(cls: type, values: dict[str, Any], section: str) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown keys in [{section}]: {', '.join(sorted(unknown))}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"bad [{section}]: {exc}") from exc


def parse_config(raw: dict[str, Any]) -> NetworkConfig:
    """Turn a parsed TOML document into a :class:`NetworkConfig`, checking every key."""
    chain = dict(_section(raw, "chain"))
    if "fee_recipient" in chain:
        chain["fee_recipient"] = Address(to_canonical_address(chain["fee_recipient"]))
    if "block_time" in chain:
        chain["block_time"] = float(chain["block_time"])
    genesis = dict(_section(raw, "genesis"))
    if "extra_data" in genesis:
        genesis["extra_data"] = _parse_bytes(genesis["extra_data"])
    for key in ("dev_balance", "base_fee_per_gas"):
        if key in genesis:
            genesis[key] = Wei(int(genesis[key]))
    if "alloc" in genesis:
        genesis["alloc"] = {
            Address(to_canonical_address(addr)): Wei(int(balance))
            for addr, balance in genesis["alloc"].items()
        }
    rollup = dict(_section(raw, "rollup"))
    if "l1_origin_hash" in rollup:
        rollup["l1_origin_hash"] = _parse_bytes(rollup["l1_origin_hash"])
        if len(rollup["l1_origin_hash"]) != 32:
            raise ConfigError("[rollup] l1_origin_hash must be 32 bytes")
    if "batcher" in rollup:
        rollup["batcher"] = Address(to_canonical_address(rollup["batcher"]))
    for key in ("l1_base_fee", "l1_blob_base_fee"):
        if key in rollup:
            rollup[key] = Wei(int(rollup[key]))
    return NetworkConfig(
        chain=_build(ChainConfig, chain, "chain"),
        genesis=_build(GenesisConfig, genesis, "genesis"),
        mempool=_build(MempoolConfig, _section(raw, "mempool"), "mempool"),
        rpc=_build(RpcConfig, _section(raw, "rpc"), "rpc"),
        rollup=_build(RollupConfig, rollup, "rollup"),
    )


def load_config(path: Path) -> NetworkConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(raw)
