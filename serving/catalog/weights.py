"""Where an adapter's weights are on this machine, found by the sha256 registered on chain.

The chain stores `weightsHash = sha256(adapter_model.safetensors)`, so a content-addressed
directory (`<root>/<sha256 hex>/`, the layout of the AdapterManager's own store) answers "do we
have this adapter?" with one `stat`. A source that downloads weights (IPFS, an object store)
would implement the same protocol; the hash check stays in `AdapterManager.register`.
"""

from pathlib import Path
from typing import Protocol

from serving.lora.manager import copy_into_store, sha256_file
from serving.lora.slots import WEIGHTS_FILE


class WeightsSource(Protocol):
    def locate(self, sha256_hex: str) -> Path | None:
        """A PEFT adapter directory claimed to hold these weights, or None if there is none."""
        ...


class ContentStore:
    """Adapter directories named by the sha256 of their weights file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def locate(self, sha256_hex: str) -> Path | None:
        path = self.root / sha256_hex.lower().removeprefix("0x")
        return path if (path / WEIGHTS_FILE).is_file() else None

    def put(self, source: Path) -> str:
        """Copy the PEFT adapter at `source` in under its weights' sha256; return that hash."""
        digest = sha256_file(source / WEIGHTS_FILE)
        self.root.mkdir(parents=True, exist_ok=True)
        copy_into_store(source, self.root, digest)
        return digest
