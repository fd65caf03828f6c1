"""The committed artifacts in ``contracts/out`` are exactly what the sources compile to.

CI runs this: a source change without ``node contracts/compile.mjs contracts/src/l2
contracts/out --exclude predeploys`` (L2), ``node contracts/compile.mjs
contracts/src/l2/predeploys contracts/out/predeploys`` (L2 predeploys, in genesis) or ``node
contracts/compile.mjs contracts/src/l1 contracts/out/l1`` (L1), or a hand-edited artifact, fails
here, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.targets import REPO_ROOT, compile_contracts

SOURCES = REPO_ROOT / "contracts" / "src" / "l2"
COMMITTED = REPO_ROOT / "contracts" / "out"
RECOMPILE = "node contracts/compile.mjs contracts/src/l2 contracts/out --exclude predeploys"
PREDEPLOY_SOURCES = SOURCES / "predeploys"
PREDEPLOY_COMMITTED = COMMITTED / "predeploys"
PREDEPLOY_RECOMPILE = (
    "node contracts/compile.mjs contracts/src/l2/predeploys contracts/out/predeploys"
)
L1_SOURCES = REPO_ROOT / "contracts" / "src" / "l1"
L1_COMMITTED = COMMITTED / "l1"
L1_RECOMPILE = "node contracts/compile.mjs contracts/src/l1 contracts/out/l1"


def _assert_same(fresh: Path, committed: Path, recompile: str) -> None:
    fresh_names = sorted(p.name for p in fresh.glob("*.json"))
    committed_names = sorted(p.name for p in committed.glob("*.json"))
    assert fresh_names == committed_names, f"artifact set differs; run `{recompile}`"
    for name in fresh_names:
        assert (fresh / name).read_bytes() == (committed / name).read_bytes(), (
            f"{committed.relative_to(REPO_ROOT)}/{name} does not match its source; "
            f"run `{recompile}`"
        )


def test_artifacts_match_sources(tmp_path: Path) -> None:
    fresh = compile_contracts(SOURCES, tmp_path / "out", exclude=("predeploys",))
    _assert_same(fresh, COMMITTED, RECOMPILE)


def test_predeploy_artifacts_match_sources(tmp_path: Path) -> None:
    fresh = compile_contracts(PREDEPLOY_SOURCES, tmp_path / "predeploys")
    _assert_same(fresh, PREDEPLOY_COMMITTED, PREDEPLOY_RECOMPILE)


def test_l1_artifacts_match_sources(tmp_path: Path) -> None:
    _assert_same(compile_contracts(L1_SOURCES, tmp_path / "l1"), L1_COMMITTED, L1_RECOMPILE)


def test_payable_ai_contracts_are_all_there() -> None:
    names = {p.stem for p in COMMITTED.glob("*.json")}
    assert {"DatanetRegistry", "ModelRegistry", "InferencePayments"} <= names


def test_l1_contracts_are_all_there() -> None:
    names = {p.stem for p in L1_COMMITTED.glob("*.json")}
    assert {"OpenToken", "OutputOracle", "SystemConfig", "OpenPortal"} <= names


def test_predeploy_contracts_are_all_there() -> None:
    names = {p.stem for p in PREDEPLOY_COMMITTED.glob("*.json")}
    assert {"L2ToL1MessagePasser"} <= names
