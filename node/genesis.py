"""The genesis block: funded accounts, the predeploys' runtime code, a header every node derives."""

from __future__ import annotations

from eth.abc import AtomicDatabaseAPI, BlockHeaderAPI
from eth.constants import BLANK_ROOT_HASH, ZERO_ADDRESS, ZERO_HASH32
from eth.rlp.headers import BlockHeader

from node.l1_info import configured_attributes
from node.vm import OpenLedgerVM, chain_context
from openledger.accounts import dev_accounts
from openledger.config import NetworkConfig
from openledger.contracts.predeploys import L1_BLOCK_ADDRESS, predeploy_code
from openledger.types import Address, Wei


def genesis_balances(config: NetworkConfig) -> dict[Address, Wei]:
    """Dev accounts of the mnemonic plus the explicit allocations (which win on overlap)."""
    genesis = config.genesis
    balances = {
        account.address: genesis.dev_balance
        for account in dev_accounts(genesis.mnemonic, genesis.dev_accounts)
    }
    balances.update(genesis.alloc)
    return balances


def write_genesis_state(config: NetworkConfig, db: AtomicDatabaseAPI) -> bytes:
    """Write the genesis accounts' trie (balances and predeploys) to ``db``; return its state root.

    The predeploys (``openledger.contracts.predeploys``) get the committed runtime code at their
    fixed addresses, with nonce 1 as contracts deployed by ``CREATE`` have (EIP-161).
    ``L1Block`` starts with the configured L1 origin, so the L1 data fee has prices before the
    first block's L1-attributes deposit sets them.
    """
    pre_genesis = BlockHeader(difficulty=0, block_number=-1, gas_limit=0)
    state = OpenLedgerVM.build_state(db, pre_genesis, chain_context(config))
    for address, balance in sorted(genesis_balances(config).items()):
        state.set_balance(address, balance)
    for address, code in sorted(predeploy_code().items()):
        state.set_code(address, code)
        state.set_nonce(address, 1)
    for slot, value in configured_attributes(config.rollup).storage().items():
        state.set_storage(L1_BLOCK_ADDRESS, slot, value)
    state.persist()
    return state.state_root


def genesis_header(config: NetworkConfig, state_root: bytes) -> BlockHeaderAPI:
    genesis = config.genesis
    return OpenLedgerVM.create_genesis_header(
        coinbase=ZERO_ADDRESS,
        state_root=state_root,
        difficulty=0,
        gas_limit=config.chain.gas_limit,
        timestamp=genesis.timestamp,
        extra_data=genesis.extra_data,
        nonce=b"\x00" * 8,
        mix_hash=ZERO_HASH32,
        base_fee_per_gas=genesis.base_fee_per_gas,
        withdrawals_root=BLANK_ROOT_HASH,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=ZERO_HASH32,
    )
