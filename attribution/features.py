"""Attribution features: the per-contribution matrix a method builds once per trained adapter.

Built when the adapter is trained and stored beside it: a safetensors file for the matrix and a
JSON sidecar with everything needed to reuse it (method, contribution order, projection seed and
k, damping lambdas, parameter order, and the sha256 of the adapter weights they belong to).

Reproducibility: examples are put in a canonical order, contributions sorted by id, and the
projection drawn from a fixed seed bit-identically everywhere, so the same adapter, data and
answer give the same scores on every run of the same machine; across machines (other BLAS,
other CPU, a GPU) float32 arithmetic may differ in the last bits, so whoever turns scores into
payments should round them first.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from attribution.gradients import LoraGradients, TrainingExample, gradient_groups
from attribution.methods import METHODS, DataInf, Method, Trak, TrakUnit
from attribution.model import adapter_sha256, load_lora_model
from attribution.projection import DEFAULT_SEED

MATRIX_FILE = "features.safetensors"
META_FILE = "features.json"
FORMAT_VERSION = 1
GROUP_ROWS = 1024
"""Examples per projection call while building: P is redrawn once per group, not per batch."""

Progress = Callable[[int, int], None]
"""Called with (gradients computed, gradients to compute) as a build goes."""


class AdapterMismatch(ValueError):
    """Features were built for other adapter weights: their scores would be meaningless."""


@dataclass(frozen=True)
class AttributionFeatures:
    """M (contributions x d, float32; row i is `contribution_ids[i]`) and how it was made."""

    method: str
    contribution_ids: tuple[int, ...]
    matrix: torch.Tensor
    adapter_sha256: str
    parameter_names: tuple[str, ...]
    examples: int
    k: int | None = None
    projection_seed: int | None = None
    lambdas: tuple[float, ...] = field(default=())

    def check_adapter(self, adapter_dir: Path) -> None:
        """Raise AdapterMismatch unless `adapter_dir` holds the weights these were built from."""
        actual = adapter_sha256(adapter_dir)
        if actual != self.adapter_sha256:
            raise AdapterMismatch(
                f"features are for adapter {self.adapter_sha256}, "
                f"but {adapter_dir} has weights {actual}"
            )

    def save(self, directory: Path) -> Path:
        """Write the matrix and the sidecar into `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"matrix": self.matrix.detach().cpu().contiguous()}, directory / MATRIX_FILE)
        meta = {
            "format": FORMAT_VERSION,
            "method": self.method,
            "contribution_ids": list(self.contribution_ids),
            "adapter_sha256": self.adapter_sha256,
            "parameter_names": list(self.parameter_names),
            "examples": self.examples,
            "k": self.k,
            "projection_seed": self.projection_seed,
            "lambdas": list(self.lambdas),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return directory

    @classmethod
    def load(cls, directory: Path, adapter_dir: Path) -> "AttributionFeatures":
        """Read features saved by `save`, refusing them unless built for `adapter_dir`."""
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported features format {meta.get('format')!r}")
        if meta["method"] not in METHODS:
            raise ValueError(f"unknown attribution method {meta['method']!r}")
        features = cls(
            method=meta["method"],
            contribution_ids=tuple(meta["contribution_ids"]),
            matrix=load_file(directory / MATRIX_FILE)["matrix"],
            adapter_sha256=meta["adapter_sha256"],
            parameter_names=tuple(meta["parameter_names"]),
            examples=meta["examples"],
            k=meta["k"],
            projection_seed=meta["projection_seed"],
            lambdas=tuple(meta["lambdas"]),
        )
        if features.matrix.shape[0] != len(features.contribution_ids):
            raise ValueError("features matrix rows do not match the contribution ids")
        features.check_adapter(adapter_dir)
        return features


def make_method(
    name: str, k: int | None = None, seed: int = DEFAULT_SEED, damping: float | None = None
) -> Method:
    """The method called `name`, with the options that apply to it (`damping` None: the
    method's own default)."""
    if name not in METHODS:
        raise ValueError(f"unknown attribution method {name!r}; known: {sorted(METHODS)}")
    method = METHODS[name]
    if issubclass(method, Trak):
        return method(k, seed) if damping is None else method(k, seed, damping)
    if issubclass(method, DataInf):
        return method() if damping is None else method(damping)
    return method()


def canonical_order(examples: Sequence[TrainingExample]) -> list[TrainingExample]:
    """Examples sorted by content, so any input order gives the same sums (float addition is
    not associative); length first, so mini-batches pad little."""
    return sorted(
        examples, key=lambda e: (len(e.input_ids), e.contribution_id, e.input_ids, e.labels)
    )


def build_features(
    adapter_dir: Path,
    base_model: str | Path,
    examples: Sequence[TrainingExample],
    method: str = TrakUnit.name,
    *,
    k: int | None = None,
    seed: int = DEFAULT_SEED,
    damping: float | None = None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> AttributionFeatures:
    """Compute `method`'s features for the adapter trained on `examples`, once.

    `k` and `seed` set TRAK's projection (k defaults to min(2048, LoRA parameter count));
    `damping` sets lambda relative to the curvature scale for TRAK and DataInf.
    """
    if not examples:
        raise ValueError("no training examples")
    chosen = make_method(method, k, seed, damping)
    ordered = canonical_order(examples)
    contribution_ids = tuple(sorted({e.contribution_id for e in ordered}))
    row_of = {cid: row for row, cid in enumerate(contribution_ids)}
    rows = torch.tensor([row_of[e.contribution_id] for e in ordered])
    digest = adapter_sha256(adapter_dir)
    if not chosen.uses_gradients:
        built = chosen.build(lambda: iter(()), len(contribution_ids), 0, ())
        return AttributionFeatures(
            chosen.name, contribution_ids, built.matrix, digest, (), len(ordered)
        )
    lora = load_lora_model(adapter_dir, base_model, device)
    total, done = chosen.passes * len(ordered), 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    groups = gradient_groups(LoraGradients(lora), ordered, rows, batch_size, GROUP_ROWS, on_batch)
    built = chosen.build(groups, len(contribution_ids), lora.dim, lora.layers)
    return AttributionFeatures(
        method=chosen.name,
        contribution_ids=contribution_ids,
        matrix=built.matrix.detach().float().cpu().contiguous(),
        adapter_sha256=digest,
        parameter_names=lora.names,
        examples=len(ordered),
        k=built.k,
        projection_seed=built.projection_seed,
        lambdas=built.lambdas,
    )
