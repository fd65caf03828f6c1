"""Five ways to score how much each contribution helped one answer, behind one interface.

Every method turns the training set into a contributions-by-d matrix M once, at training time,
and scores an answer as M @ q, where q is the gradient of the answer's loss on the LoRA
parameters. Influence scores are bilinear in (training gradient, answer gradient), so the rows
of M are already summed per contribution: an answer costs one backward pass and one
matrix-vector product, however many examples there were.

Sign convention, shared by all gradient methods: score_c = q . H^-1 (sum_{i in c} g_i) with H
positive definite (identity for grad-dot). A gradient step on contribution c changes the answer
loss by about -lr * score_c, so a positive score means c lowered the answer's loss (it helped).
"""

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from attribution.gradients import GradientGroups
from attribution.model import LayerSlice
from attribution.projection import DEFAULT_SEED, Projection, default_k

DATAINF_DAMPING = 0.1
"""lambda = damping x the mean eigenvalue of the matrix being inverted. 0.1 is DataInf's rule
(its code: lambda_l = 0.1 * mean_i mean(g_il^2), i.e. 0.1 * mean_i |g_il|^2 / d_l)."""
TRAK_DAMPING = 1.0
"""TRAK's lambda = damping * trace(Phi^T Phi) / k. TRAK's paper has no damping, but its Gram
matrix is singular whenever there are fewer examples than k. 1.0 rather than DataInf's 0.1:
measured by benchmarks/attribution_quality.py (quick, three seeds), trak-unit's mean LDS 0.36 ->
0.40 and planted-fact top-1 88% -> 92%; a near-inverse amplifies directions few examples span."""


@dataclass(frozen=True)
class Built:
    """What a method computed from the training set: M and the constants needed to reuse it."""

    matrix: torch.Tensor
    lambdas: tuple[float, ...] = ()
    k: int | None = None
    projection_seed: int | None = None


def sum_by_row(rows: torch.Tensor, values: torch.Tensor, count: int) -> torch.Tensor:
    """Sum `values` rows into `count` buckets. A one-hot product, not index_add_, because the
    latter uses atomics on CUDA and would make the sums depend on thread timing."""
    onehot = torch.zeros((count, rows.shape[0]), dtype=values.dtype, device=values.device)
    onehot[rows, torch.arange(rows.shape[0], device=values.device)] = 1
    return onehot @ values


class Method(ABC):
    """A scoring method: how M is built, and which matrix meets the raw answer gradient."""

    name: ClassVar[str]
    passes: ClassVar[int] = 1
    uses_gradients: ClassVar[bool] = True

    @abstractmethod
    def build(
        self, groups: GradientGroups, contributions: int, dim: int, layers: Sequence[LayerSlice]
    ) -> Built:
        """Compute M (contributions x d) from the per-example gradients."""

    def answer_matrix(self, built: Built, dim: int) -> torch.Tensor:
        """The contributions x dim matrix W with scores = W @ (raw answer gradient)."""
        return built.matrix


class GradDot(Method):
    """score_c = q . sum_{i in c} g_i: no preconditioning, the plain first-order baseline."""

    name = "grad-dot"

    def build(
        self, groups: GradientGroups, contributions: int, dim: int, layers: Sequence[LayerSlice]
    ) -> Built:
        sums: torch.Tensor | None = None
        for rows, grads in groups():
            part = sum_by_row(rows, grads, contributions)
            sums = part if sums is None else sums.add_(part)
        assert sums is not None, "the gradient stream was empty"
        return Built(sums)


class Trak(Method):
    """TRAK: score_c = (P^T q) . (Phi^T Phi + lambda I)^-1 sum_{i in c} P^T g_i, Phi = G P.

    The random projection P makes the k x k Gram matrix small enough to solve exactly. The
    solve is done once, in float64 by Cholesky (the matrix is symmetric positive definite), on
    the per-contribution sums: (Phi^T Phi + lambda I)^-1 is symmetric, so it may be applied to
    the training side. lambda = damping * trace(Phi^T Phi) / k.
    """

    name = "trak"

    def __init__(
        self, k: int | None = None, seed: int = DEFAULT_SEED, damping: float = TRAK_DAMPING
    ) -> None:
        self.k, self.seed, self.damping = k, seed, damping

    def build(
        self, groups: GradientGroups, contributions: int, dim: int, layers: Sequence[LayerSlice]
    ) -> Built:
        projection = Projection(dim, self.k or default_k(dim), self.seed)
        gram: torch.Tensor | None = None
        sums: torch.Tensor | None = None
        for rows, grads in groups():
            phi = projection.project(grads)
            part = phi.T.double() @ phi.double()
            gram = part if gram is None else gram.add_(part)
            summed = sum_by_row(rows, phi, contributions)
            sums = summed if sums is None else sums.add_(summed)
        assert gram is not None and sums is not None, "the gradient stream was empty"
        lam = self.damping * gram.trace().item() / projection.k
        gram.diagonal().add_(lam)
        matrix = torch.cholesky_solve(sums.double().T, torch.linalg.cholesky(gram)).T
        return Built(matrix.float().contiguous(), (lam,), projection.k, self.seed)

    def answer_matrix(self, built: Built, dim: int) -> torch.Tensor:
        """M P^T, so an answer needs no projection: M (P^T q) = (M P^T) q."""
        assert built.k is not None and built.projection_seed is not None
        return Projection(dim, built.k, built.projection_seed).fold(built.matrix)


def unit_gradients(groups: GradientGroups) -> GradientGroups:
    """The same stream with each per-example gradient scaled to unit length (zero stays zero)."""

    def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for rows, grads in groups():
            norms = grads.norm(dim=1, keepdim=True).clamp_min(torch.finfo(grads.dtype).tiny)
            yield rows, grads / norms

    return stream


class TrakUnit(Trak):
    """TRAK on unit-length per-example gradients: g_i / |g_i| in the Gram matrix and the sums.

    An example's gradient norm tracks its loss (Spearman 0.83 over the rows of
    benchmarks/attribution_quality.py), so in plain TRAK the rows the adapter has learnt least
    dominate both the curvature and the sums, which plausibly is why their contributions take
    the top rank for answers they did not teach. With unit rows every example is a direction of
    equal weight (LESS, Xia et al., 2024, normalises too: there short sequences had the large
    gradients).
    Measured there on held-out facts, 64 half-data adapters, seeds 0, 1 and 2: LDS 0.31 -> 0.42,
    0.18 -> 0.31 and 0.27 -> 0.36; planted-fact top-1 69% -> 92%, 50% -> 92% and 58% -> 81%.
    Only the training side is normalised: scaling the answer gradient would change no answer's
    ranking, so an answer still costs one backward pass and one matrix-vector product.
    """

    name = "trak-unit"

    def build(
        self, groups: GradientGroups, contributions: int, dim: int, layers: Sequence[LayerSlice]
    ) -> Built:
        return super().build(unit_gradients(groups), contributions, dim, layers)


class DataInf(Method):
    """DataInf (Kwon et al., 2024): a closed-form inverse of each layer's damped Fisher.

    Per layer l, H_l^-1 v ~ (v - (1/n) sum_i (g_il . v) / (lambda_l + |g_il|^2) g_il) / lambda_l
    with lambda_l = damping * mean_i |g_il|^2 / d_l, d_l the layer's parameter count (0.1 x the
    mean eigenvalue of the layer's Fisher, as in DataInf's code). A layer is one adapted module,
    its A and B together (DataInf's code takes each weight tensor alone; one block per module
    keeps the A-B coupling). It is applied to each contribution's summed raw gradient: a module
    has a few thousand LoRA parameters, so no projection is needed. lambda_l needs every
    gradient before the sums can be corrected, so this reads the gradient stream twice rather
    than holding n x dim gradients in memory.
    """

    name = "datainf"
    passes = 2

    def __init__(self, damping: float = DATAINF_DAMPING) -> None:
        self.damping = damping

    def build(
        self, groups: GradientGroups, contributions: int, dim: int, layers: Sequence[LayerSlice]
    ) -> Built:
        sums: torch.Tensor | None = None
        squares = torch.zeros(len(layers), dtype=torch.float64)
        count = 0
        for rows, grads in groups():
            part = sum_by_row(rows, grads, contributions)
            sums = part if sums is None else sums.add_(part)
            for index, layer in enumerate(layers):
                squares[index] += grads[:, layer.start : layer.stop].double().square().sum().cpu()
            count += rows.shape[0]
        assert sums is not None, "the gradient stream was empty"
        lambdas = [
            self.damping * total / (count * (layer.stop - layer.start))
            for total, layer in zip(squares.tolist(), layers, strict=True)
        ]
        correction = torch.zeros_like(sums)
        for _, grads in groups():
            for layer, lam in zip(layers, lambdas, strict=True):
                g = grads[:, layer.start : layer.stop]
                weights = (sums[:, layer.start : layer.stop] @ g.T) / (lam + g.square().sum(1))
                correction[:, layer.start : layer.stop] += weights @ g
        matrix = torch.empty_like(sums)
        for layer, lam in zip(layers, lambdas, strict=True):
            span = slice(layer.start, layer.stop)
            matrix[:, span] = (sums[:, span] - correction[:, span] / count) / lam
        return Built(matrix, tuple(lambdas))


class RandomScores(Method):
    """The baseline: scores uniform in [0, 1), seeded by the adapter hash and the answer's
    tokens, so they are reproducible but carry no information about the data."""

    name = "random"
    passes = 0
    uses_gradients = False

    def build(
        self, groups: GradientGroups, contributions: int, dim: int, layers: Sequence[LayerSlice]
    ) -> Built:
        return Built(torch.zeros((contributions, 0)))

    @staticmethod
    def scores(
        adapter_sha256: str, prompt_ids: Sequence[int], answer_ids: Sequence[int], count: int
    ) -> torch.Tensor:
        """`count` reproducible pseudo-random scores for this adapter and answer."""
        key = f"{adapter_sha256}:{list(prompt_ids)}:{list(answer_ids)}".encode()
        seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1
        return torch.rand(count, generator=torch.Generator().manual_seed(seed))


METHODS: dict[str, type[Method]] = {
    m.name: m for m in (GradDot, Trak, TrakUnit, DataInf, RandomScores)
}
"""The method names stored in features, and their classes."""
