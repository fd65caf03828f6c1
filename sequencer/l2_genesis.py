"""The L2 genesis hash a configuration implies, computed in memory (nothing is written).

``openledger l1 deploy`` needs it for rollup.json before any node has opened a datadir: the
genesis state holds the L1 origin in ``L1Block``, so the hash is known only once the L1
contracts, and with them the rollup's first L1 block, exist.
"""

from __future__ import annotations

from eth.db.atomic import AtomicDB

from node.genesis import genesis_header, write_genesis_state
from openledger.config import NetworkConfig


def l2_genesis_hash(config: NetworkConfig) -> bytes:
    state_root = write_genesis_state(config, AtomicDB())
    return bytes(genesis_header(config, state_root).hash)
