"""Pick each row's next token from its logits under that row's own sampling parameters.

Greedy rows (temperature 0) take one batched argmax. Sampled rows use their own seeded
`torch.Generator`, so a request with a seed draws the same tokens whatever else shares the batch.
"""

import torch

from serving.engine.request import SamplingParams


def new_generator(params: SamplingParams, device: torch.device) -> torch.Generator | None:
    """A generator for a sampled request (seeded when it asks for it); None for greedy ones."""
    if params.temperature == 0:
        return None
    generator = torch.Generator(device=device)
    if params.seed is None:
        generator.seed()
    else:
        generator.manual_seed(params.seed)
    return generator


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero all but the smallest set of most likely tokens whose mass reaches `top_p`."""
    if top_p >= 1:
        return probs
    sorted_probs, order = probs.sort(descending=True)
    mass_before = sorted_probs.cumsum(-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs)


def sample_next(
    logits: torch.Tensor,
    params: list[SamplingParams],
    generators: list[torch.Generator | None],
) -> list[int]:
    """Next token of every row of `logits` [rows, vocab]."""
    chosen = logits.argmax(dim=-1)
    for row, (p, generator) in enumerate(zip(params, generators, strict=True)):
        if generator is None:
            continue
        probs = torch.softmax(logits[row].float() / p.temperature, dim=-1)
        probs = top_p_filter(probs, p.top_p)
        chosen[row] = torch.multinomial(probs, 1, generator=generator)[0]
    return chosen.tolist()
