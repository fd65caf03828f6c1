"""Fixtures: a fresh anvil L1 per test, and the sequencer/verifier pair on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openledger.config import NetworkConfig
from tests.helpers.targets import start_target, stop_process
from tests.node.derivation.harness import L1


@pytest.fixture
def l1(tmp_path: Path) -> Iterator[L1]:
    target = start_target("anvil", tmp_path / "anvil")
    try:
        yield L1(target.url)
    finally:
        stop_process(target.process)


@pytest.fixture
def config() -> NetworkConfig:
    return NetworkConfig()
