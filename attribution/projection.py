"""A seeded random projection of LoRA gradients to k dimensions (TRAK's Johnson-Lindenstrauss step).

The matrix P (dim x k) has Rademacher entries +-1/sqrt(k): integers drawn by torch's CPU
Mersenne-Twister `Generator`, with no floating-point math in the draw, so every machine, CPU or
GPU host, gets bit-identical values. P is never stored: its rows are drawn in fixed blocks of
`CHUNK_ROWS` parameters, each from its own seed derived from (seed, block index), so any block can
be regenerated alone and memory stays at one block (CHUNK_ROWS x k) whatever the adapter size.
`CHUNK_ROWS` and the seed derivation are part of the format: changing them changes P.
"""

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

CHUNK_ROWS = 1024
DEFAULT_K = 2048
"""TRAK's usual dimension for LoRA-sized gradients; smaller adapters project to their own size."""
DEFAULT_SEED = 0


def default_k(dim: int) -> int:
    """k = min(2048, dim): projecting up would add noise without adding information."""
    return min(DEFAULT_K, dim)


def _block_seed(seed: int, block: int) -> int:
    """A 63-bit seed per block, so blocks are independent and need no shared generator state."""
    digest = hashlib.sha256(f"attribution.projection:{seed}:{block}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Projection:
    """P: `dim` LoRA parameters -> `k` features, drawn from `seed`."""

    dim: int
    k: int
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.dim <= 0 or self.k <= 0:
            raise ValueError(f"projection needs dim > 0 and k > 0, not {self.dim}, {self.k}")

    def blocks(self) -> Iterator[tuple[int, int, torch.Tensor]]:
        """(start, stop, P[start:stop]) as float32 on the CPU, one block at a time."""
        scale = 1.0 / math.sqrt(self.k)
        for block, start in enumerate(range(0, self.dim, CHUNK_ROWS)):
            stop = min(start + CHUNK_ROWS, self.dim)
            generator = torch.Generator().manual_seed(_block_seed(self.seed, block))
            bits = torch.randint(
                0, 2, (stop - start, self.k), generator=generator, dtype=torch.int8
            )
            yield start, stop, bits.to(torch.float32).mul_(2 * scale).sub_(scale)

    def project(self, grads: torch.Tensor) -> torch.Tensor:
        """grads (n x dim) @ P -> (n x k), on grads' device."""
        out = torch.zeros((grads.shape[0], self.k), dtype=torch.float32, device=grads.device)
        for start, stop, block in self.blocks():
            out.addmm_(grads[:, start:stop], block.to(grads.device))
        return out

    def fold(self, matrix: torch.Tensor) -> torch.Tensor:
        """matrix (c x k) @ P^T -> (c x dim): scores of projected features as one product with a
        raw gradient, since M (P^T g) = (M P^T) g; cheaper per answer whenever c < k."""
        out = torch.empty((matrix.shape[0], self.dim), dtype=torch.float32, device=matrix.device)
        for start, stop, block in self.blocks():
            out[:, start:stop] = matrix @ block.to(matrix.device).T
        return out
