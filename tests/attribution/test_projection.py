"""The projection is a format: the same seed must give the same matrix on every machine."""

import hashlib

import torch

from attribution.projection import CHUNK_ROWS, Projection, default_k

# Drawn once with the current generator; a change here changes every stored TRAK feature.
FIRST_SIGNS = [-1, 1, -1, -1, 1, -1, 1, 1]
CHECKSUM = "b71e0d44389cf15e7388e4dffb2d0911"


def full(projection: Projection) -> torch.Tensor:
    return torch.cat([block for _, _, block in projection.blocks()])


def test_the_matrix_matches_its_stored_checksum() -> None:
    projection = Projection(dim=CHUNK_ROWS + 100, k=64, seed=0)
    matrix = full(projection)
    assert matrix.shape == (CHUNK_ROWS + 100, 64)
    assert set(matrix.abs().unique().tolist()) == {0.125}
    assert (matrix[0, :8] * 8).round().int().tolist() == FIRST_SIGNS
    digest = hashlib.sha256(matrix.numpy().tobytes()).hexdigest()[:32]
    assert digest == CHECKSUM
    torch.testing.assert_close(full(projection), matrix, rtol=0, atol=0)


def test_seeds_give_different_matrices() -> None:
    assert not torch.equal(full(Projection(300, 32, 0)), full(Projection(300, 32, 1)))


def test_project_and_fold_equal_products_with_the_full_matrix() -> None:
    projection = Projection(dim=2 * CHUNK_ROWS + 7, k=48, seed=5)
    matrix = full(projection)
    grads = torch.randn(3, projection.dim, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(projection.project(grads), grads @ matrix, rtol=1e-4, atol=1e-5)
    features = torch.randn(4, 48, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(projection.fold(features), features @ matrix.T)


def test_default_k_never_projects_up() -> None:
    assert default_k(100) == 100
    assert default_k(16384) == 2048
