"""The committed artifacts in ``contracts/out`` are exactly what the sources compile to.

CI runs this: a source change without ``node contracts/compile.mjs contracts/src/l2
contracts/out`` (or a hand-edited artifact) fails here, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.targets import REPO_ROOT, compile_contracts

SOURCES = REPO_ROOT / "contracts" / "src" / "l2"
COMMITTED = REPO_ROOT / "contracts" / "out"
RECOMPILE = "node contracts/compile.mjs contracts/src/l2 contracts/out"


def test_artifacts_match_sources(tmp_path: Path) -> None:
    fresh = compile_contracts(SOURCES, tmp_path / "out")
    fresh_names = sorted(p.name for p in fresh.glob("*.json"))
    committed_names = sorted(p.name for p in COMMITTED.glob("*.json"))
    assert fresh_names == committed_names, f"artifact set differs; run `{RECOMPILE}`"
    for name in fresh_names:
        assert (fresh / name).read_bytes() == (COMMITTED / name).read_bytes(), (
            f"contracts/out/{name} does not match its source; run `{RECOMPILE}`"
        )


def test_payable_ai_contracts_are_all_there() -> None:
    names = {p.stem for p in COMMITTED.glob("*.json")}
    assert {"DatanetRegistry", "ModelRegistry", "InferencePayments"} <= names
