"""Pre-summed features must give exactly the sum of per-example influence scores."""

from pathlib import Path

import pytest
import torch

from attribution.features import AttributionFeatures, build_features
from attribution.gradients import LoraGradients, TrainingExample, answer_sequence
from attribution.methods import TRAK_DAMPING, unit_gradients
from attribution.model import load_lora_model
from attribution.projection import Projection
from attribution.scorer import InfluenceScorer
from tests.attribution.conftest import Planted, random_examples

PROMPT, ANSWER = [11, 12, 13, 14], [15, 16, 17]
EXAMPLES = random_examples(40, contributions=5)


@pytest.fixture(scope="module")
def gradients(adapter_dir: Path, base_dir: Path) -> LoraGradients:
    return LoraGradients(load_lora_model(adapter_dir, base_dir))


@pytest.fixture(scope="module")
def per_example(gradients: LoraGradients) -> tuple[torch.Tensor, torch.Tensor]:
    """(training gradients n x dim, answer gradient), in float64 for the references."""
    train = gradients.batch([(e.input_ids, e.labels) for e in EXAMPLES]).double()
    return train, gradients.one(*answer_sequence(PROMPT, ANSWER)).double()


def scores_of(adapter_dir: Path, base_dir: Path, features: AttributionFeatures) -> torch.Tensor:
    scores = InfluenceScorer(adapter_dir, base_dir, features).scores(PROMPT, ANSWER)
    return torch.tensor([scores[cid] for cid in sorted(scores)], dtype=torch.float64)


def per_contribution(values: torch.Tensor, examples: list[TrainingExample]) -> torch.Tensor:
    ids = sorted({e.contribution_id for e in examples})
    out = torch.zeros(len(ids), dtype=torch.float64)
    for value, example in zip(values, examples, strict=True):
        out[ids.index(example.contribution_id)] += value
    return out


def test_grad_dot_is_the_sum_of_per_example_dot_products(
    adapter_dir: Path, base_dir: Path, per_example: tuple[torch.Tensor, torch.Tensor]
) -> None:
    train, answer = per_example
    features = build_features(adapter_dir, base_dir, EXAMPLES, "grad-dot")
    expected = per_contribution(train @ answer, EXAMPLES)
    torch.testing.assert_close(
        scores_of(adapter_dir, base_dir, features), expected, rtol=1e-4, atol=1e-5
    )


def assert_trak_scores(
    adapter_dir: Path, base_dir: Path, method: str, train: torch.Tensor, answer: torch.Tensor
) -> None:
    """The method's scores equal TRAK written out on these training gradients: projected,
    damped Gram inverse, per example, summed per contribution."""
    features = build_features(adapter_dir, base_dir, EXAMPLES, method, k=512, seed=3)
    assert features.method == method
    projection = Projection(train.shape[1], 512, 3)
    phi = projection.project(train.float()).double()
    gram = phi.T @ phi
    assert features.lambdas[0] == pytest.approx(TRAK_DAMPING * gram.trace().item() / 512, rel=1e-4)
    inverse = torch.linalg.inv(gram + features.lambdas[0] * torch.eye(512, dtype=torch.float64))
    query = projection.project(answer.float()[None]).double()[0]
    expected = per_contribution(phi @ inverse @ query, EXAMPLES)
    actual = scores_of(adapter_dir, base_dir, features)
    torch.testing.assert_close(actual, expected, rtol=1e-3, atol=1e-3 * expected.abs().max().item())


def test_trak_is_the_sum_of_per_example_trak_scores(
    adapter_dir: Path, base_dir: Path, per_example: tuple[torch.Tensor, torch.Tensor]
) -> None:
    train, answer = per_example
    assert_trak_scores(adapter_dir, base_dir, "trak", train, answer)


def test_trak_unit_is_trak_on_unit_length_training_gradients(
    adapter_dir: Path, base_dir: Path, per_example: tuple[torch.Tensor, torch.Tensor]
) -> None:
    """Each training gradient divided by its norm before projecting; the answer's is not."""
    train, answer = per_example
    unit = train / train.norm(dim=1, keepdim=True)
    assert_trak_scores(adapter_dir, base_dir, "trak-unit", unit, answer)


def test_unit_gradients_scale_rows_to_length_one_and_keep_zero_rows() -> None:
    rows = torch.tensor([0, 1, 1])
    grads = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    [(same_rows, unit)] = list(unit_gradients(lambda: iter([(rows, grads)]))())
    assert same_rows is rows
    torch.testing.assert_close(unit, torch.tensor([[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]]))


def test_trak_with_a_large_lambda_tends_to_grad_dot_in_projected_space(
    adapter_dir: Path, base_dir: Path, per_example: tuple[torch.Tensor, torch.Tensor]
) -> None:
    train, answer = per_example
    features = build_features(adapter_dir, base_dir, EXAMPLES, "trak", damping=1e6)
    projection = Projection(train.shape[1], features.k, features.projection_seed)
    phi = projection.project(train.float()).double()
    query = projection.project(answer.float()[None]).double()[0]
    expected = per_contribution(phi @ query, EXAMPLES)
    actual = scores_of(adapter_dir, base_dir, features) * features.lambdas[0]
    torch.testing.assert_close(actual, expected, rtol=1e-3, atol=1e-3 * expected.abs().max().item())


def test_datainf_is_the_sum_of_per_example_datainf_scores(
    adapter_dir: Path,
    base_dir: Path,
    gradients: LoraGradients,
    per_example: tuple[torch.Tensor, torch.Tensor],
) -> None:
    """DataInf per example, straight from the paper: q_l . H_l^-1 g_il summed over layers."""
    train, answer = per_example
    features = build_features(adapter_dir, base_dir, EXAMPLES, "datainf")
    expected_per_example = torch.zeros(len(EXAMPLES), dtype=torch.float64)
    for layer, lam in zip(gradients.lora.layers, features.lambdas, strict=True):
        g = train[:, layer.start : layer.stop]
        q = answer[layer.start : layer.stop]
        assert lam == pytest.approx(0.1 * g.square().mean().item(), rel=1e-4)
        inverse_q = (q - ((g @ q) / (lam + g.square().sum(1))) @ g / len(EXAMPLES)) / lam
        expected_per_example += g @ inverse_q
    expected = per_contribution(expected_per_example, EXAMPLES)
    actual = scores_of(adapter_dir, base_dir, features)
    torch.testing.assert_close(actual, expected, rtol=1e-3, atol=1e-3 * expected.abs().max().item())


def test_gradient_methods_agree_on_the_sign(adapter_dir: Path, base_dir: Path) -> None:
    """A contribution that is the answer itself lowers its loss: every method scores it > 0."""
    fresh = random_examples(1, 1, seed=7)[0]
    prompt, answer = fresh.input_ids[:3], fresh.input_ids[3:]
    examples = [*EXAMPLES, TrainingExample(99, prompt + answer, [-100] * 3 + answer)]
    for method in ("grad-dot", "trak", "trak-unit", "datainf"):
        features = build_features(adapter_dir, base_dir, examples, method)
        scores = InfluenceScorer(adapter_dir, base_dir, features).scores(prompt, answer)
        assert scores[99] > 0, method
        assert max(scores, key=scores.get) == 99, method


def test_trak_unit_credits_every_planted_fact_to_its_contribution(planted: Planted) -> None:
    features = build_features(planted.adapter_dir, planted.base_dir, planted.examples, "trak-unit")
    scorer = InfluenceScorer(planted.adapter_dir, planted.base_dir, features)
    for prompt, answer, owner in planted.questions.values():
        scores = scorer.scores(prompt, answer)
        assert max(scores, key=scores.__getitem__) == owner
