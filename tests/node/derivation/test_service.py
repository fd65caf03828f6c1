"""``openledger node``'s start-up checks and its transaction pool without a sequencer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from node.derivation.forward_pool import ForwardingPool
from node.derivation.service import FullNode
from node.exceptions import InvalidTransaction
from openledger.config import NetworkConfig
from openledger.l1.exceptions import RollupFileError
from tests.helpers.signing import sign
from tests.node.derivation.harness import L1, make_rollup


def test_refuses_a_rollup_json_of_another_genesis(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    rollup = make_rollup(l1, config)
    with pytest.raises(RollupFileError, match="genesis"):
        FullNode(
            rollup.apply_to(config),
            replace(rollup, l2_genesis_hash=b"\x01" * 32),
            tmp_path / "node",
            l1.url,
        )
    node = FullNode(rollup.apply_to(config), rollup, tmp_path / "node", l1.url)
    assert node.heads.safe.hash == rollup.l2_genesis_hash
    pool = ForwardingPool(node.chain, None)
    with pytest.raises(InvalidTransaction, match="no sequencer"):
        pool.submit(sign(0))
    assert pool.pending_nonce(b"\x00" * 20) == 0
    node.chain.close()
