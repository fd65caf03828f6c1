"""Where each adapter's attribution data lives: `<root>/<adapter weights sha256>/`.

Keyed like the adapter store, by the sha256 of `adapter_model.safetensors` (the on-chain
`weightsHash`), so the data of an adapter is found from its registry entry alone. A folder holds
`manifest.json` (the contribution ids the adapter was trained on, whose hash is the on-chain
`manifestHash`), the gradient features (`features.safetensors` + `features.json`) and the span
index (`spans/`). Folders are written elsewhere and renamed in, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

MANIFEST_FILE = "manifest.json"
SPANS_DIR = "spans"


class AttributionStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, adapter_sha256: str) -> Path:
        return self.root / adapter_sha256.lower().removeprefix("0x")

    def staging(self) -> Path:
        """An empty folder to build into, on the same disk as the store (for `put`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root, prefix=".building-"))

    def put(self, adapter_sha256: str, staging: Path) -> Path:
        """Move a built folder in under the adapter's hash; an existing one is kept (the same
        weights and data build the same folder)."""
        target = self.path(adapter_sha256)
        if target.is_dir():
            shutil.rmtree(staging)
            return target
        try:
            staging.rename(target)
        except OSError:  # another build of the same adapter won
            shutil.rmtree(staging)
        return target

    def manifest(self, adapter_sha256: str) -> tuple[int, ...] | None:
        """The training manifest stored for the adapter, or None when it has no data here."""
        file = self.path(adapter_sha256) / MANIFEST_FILE
        if not file.is_file():
            return None
        return tuple(json.loads(file.read_text())["contribution_ids"])


def write_manifest(folder: Path, contribution_ids: tuple[int, ...]) -> None:
    (folder / MANIFEST_FILE).write_text(json.dumps({"contribution_ids": sorted(contribution_ids)}))
