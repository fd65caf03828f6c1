"""Continuous batching: concurrent requests for many adapters, each equal to plain PEFT alone."""

import asyncio
import time
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving.engine.engine import Engine, PromptTooLong
from serving.engine.loader import (
    EngineConfig,
    LoadedEngine,
    apply_threads,
    default_threads,
    load_engine,
)
from serving.engine.request import FinishReason, GenerationRequest, SamplingParams, TokenEvent
from serving.lora.manager import UnknownAdapter
from serving.tiny_model import build_tiny_model
from tests.helpers.adapters import save_random_adapters

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
"""The engine's device=auto choice: the PEFT reference runs where the engine does."""
ADAPTERS = {
    "r2": {"r": 2, "lora_alpha": 4},
    "r4": {"r": 4, "lora_alpha": 16, "use_rslora": True},
    "r8": {"r": 8, "lora_alpha": 8},
    "r8_attn": {"r": 8, "lora_alpha": 32, "target_modules": ["c_attn"]},
    "r4_b": {"r": 4, "lora_alpha": 8},
    "r2_b": {"r": 2, "lora_alpha": 8},
}
PROMPTS = [
    "The ledger records",
    "A model answers",
    "Data flows from contributors to",
    "Every block",
    "Rewards are split",
]


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def adapter_dirs(base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_random_adapters(base_dir, tmp_path_factory.mktemp("adapters"), ADAPTERS)


def start(base_dir: Path, adapter_dirs: dict[str, Path], store: Path, **config) -> LoadedEngine:
    loaded = load_engine(EngineConfig(str(base_dir), store, **config))
    for name, path in adapter_dirs.items():
        loaded.adapters.register(name, path)
    return loaded


@pytest.fixture(scope="module")
def engine(base_dir: Path, adapter_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """Two device slots and two host places for six adapters: eviction is the normal case.

    float32 on any device (CUDA included), so that greedy tokens can equal PEFT's exactly.
    """
    store = tmp_path_factory.mktemp("store")
    loaded = start(
        base_dir, adapter_dirs, store, max_active_adapters=2, max_host_adapters=2, dtype="float32"
    )
    yield loaded
    loaded.engine.shutdown()


def peft_greedy(base_dir: Path, adapter: Path | None, prompt: str, max_tokens: int) -> list[int]:
    """What plain transformers + PEFT generate for one request alone, up to end of text."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir).to(DEVICE)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter)
    ids = tokenizer(prompt, return_tensors="pt").input_ids.to(DEVICE)
    out = model.generate(
        ids,
        max_new_tokens=max_tokens,
        do_sample=False,
        pad_token_id=tokenizer.eos_token_id,
    )
    tokens = out[0, ids.shape[1] :].tolist()
    if tokenizer.eos_token_id in tokens:
        tokens = tokens[: tokens.index(tokenizer.eos_token_id)]
    return tokens


async def collect(loaded: LoadedEngine, request: GenerationRequest) -> list[TokenEvent]:
    return [event async for event in loaded.engine.generate(request)]


def tokens_of(events: list[TokenEvent]) -> list[int]:
    return [e.token_id for e in events if e.token_id is not None]


def request(
    loaded: LoadedEngine, rid: str, prompt: str, adapter: str | None, **params
) -> GenerationRequest:
    ids = loaded.tokenizer(prompt).input_ids
    return GenerationRequest(rid, ids, adapter, SamplingParams(**params))


def test_concurrent_mixed_adapters_equal_peft_alone(engine, base_dir, adapter_dirs) -> None:
    """30 requests over six adapters and the base model, arriving while others decode."""
    names = [*ADAPTERS, None]
    jobs = [
        (f"req-{i}", PROMPTS[i % len(PROMPTS)], names[i % len(names)], 8 + (i % 5) * 4)
        for i in range(30)
    ]

    async def run_all() -> dict[str, list[TokenEvent]]:
        async def one(i: int, rid: str, prompt: str, adapter: str | None, n: int):
            await asyncio.sleep(0.002 * i)  # stagger: requests join a running batch
            req = request(engine, rid, prompt, adapter, max_tokens=n, temperature=0)
            return rid, await collect(engine, req)

        results = await asyncio.gather(*(one(i, *job) for i, job in enumerate(jobs)))
        return dict(results)

    results = asyncio.run(run_all())
    for rid, prompt, adapter, n in jobs:
        expected = peft_greedy(base_dir, adapter_dirs.get(adapter), prompt, n)
        events = results[rid]
        assert tokens_of(events) == expected, (rid, adapter)
        reason = FinishReason.LENGTH if len(expected) == n else FinishReason.STOP
        assert events[-1].finish_reason == reason
    stats = engine.adapters.stats
    assert stats.evictions > 0 and stats.disk_loads >= len(ADAPTERS)
    assert engine.adapters.pinned() == {}


def test_min_tokens_holds_back_end_of_text_as_transformers_does(base_dir) -> None:
    """With a later greedy token as end of text, a request ends before it; with `min_tokens`
    it goes on, giving exactly what transformers' `min_new_tokens` gives."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir).to(DEVICE).eval()

    def transformers_greedy(prompt: list[int], end: int, **kwargs) -> list[int]:
        ids = torch.tensor([prompt], device=DEVICE)
        out = model.generate(
            ids, max_new_tokens=12, do_sample=False, eos_token_id=end, pad_token_id=end, **kwargs
        )
        tokens = out[0, len(prompt) :].tolist()
        return tokens[: tokens.index(end)] if end in tokens else tokens

    # The tiny model repeats itself: find a prompt whose greedy answer changes token once.
    prompt, free, cut = next(
        (prompt, free, k)
        for prompt in (tokenizer(text).input_ids for text in PROMPTS)
        for free in [transformers_greedy(prompt, tokenizer.eos_token_id)]
        for k in range(1, len(free))
        if free[k] not in free[:k]
    )
    end = free[cut]
    engine = Engine(model, eos_token_id=end, max_context=128)
    try:

        def run(min_tokens: int) -> list[TokenEvent]:
            params = SamplingParams(max_tokens=12, min_tokens=min_tokens, temperature=0)
            request = GenerationRequest(f"min-{min_tokens}", prompt, None, params)

            async def collect_all() -> list[TokenEvent]:
                return [event async for event in engine.generate(request)]

            return asyncio.run(collect_all())

        ended = run(0)
        assert tokens_of(ended) == free[:cut] and ended[-1].finish_reason == FinishReason.STOP
        minimum = cut + 4
        held = tokens_of(run(minimum))
        assert len(held) >= minimum
        assert held == transformers_greedy(prompt, end, min_new_tokens=minimum)
    finally:
        engine.shutdown()


def test_seeded_sampling_is_reproducible_in_any_batch(engine) -> None:
    params = {"max_tokens": 12, "temperature": 0.9, "top_p": 0.8, "seed": 7}

    async def alone() -> list[int]:
        return tokens_of(await collect(engine, request(engine, "s0", PROMPTS[0], "r4", **params)))

    async def crowded() -> list[int]:
        others = [
            collect(engine, request(engine, f"o{i}", PROMPTS[i], "r2", max_tokens=20))
            for i in range(4)
        ]
        mine = collect(engine, request(engine, "s1", PROMPTS[0], "r4", **params))
        results = await asyncio.gather(mine, *others)
        return tokens_of(results[0])

    first, second = asyncio.run(alone()), asyncio.run(crowded())
    assert first == second and len(first) > 0


def test_abort_stops_a_request_and_unpins_its_adapter(engine) -> None:
    async def scenario() -> list[TokenEvent]:
        received = []
        req = request(engine, "long", PROMPTS[1], "r8", max_tokens=200, temperature=0)
        async for event in engine.engine.generate(req):
            received.append(event)
            if len(received) == 3:
                engine.engine.abort("long")
        return received

    events = asyncio.run(scenario())
    assert events[-1].finish_reason == FinishReason.ABORTED
    assert len(events) < 50
    assert engine.adapters.pinned() == {}


def test_leaving_the_iterator_early_aborts(engine) -> None:
    async def scenario() -> None:
        req = request(engine, "early", PROMPTS[2], "r2", max_tokens=200, temperature=0)
        async for _ in engine.engine.generate(req):
            break

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while engine.adapters.pinned() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.adapters.pinned() == {}


def test_context_limit_and_bad_requests(engine) -> None:
    context = engine.engine.max_context
    room = 4
    long_prompt = [engine.tokenizer.eos_token_id + 1] * (context - room)
    req = GenerationRequest("ctx", long_prompt, None, SamplingParams(max_tokens=50, temperature=0))
    events = asyncio.run(collect(engine, req))
    if events[-1].finish_reason == FinishReason.LENGTH:
        assert len(tokens_of(events)) == room  # prompt + completion fill the context exactly
    else:
        assert len(tokens_of(events)) < room

    too_long = GenerationRequest("big", list(range(1, context + 1)), None)
    with pytest.raises(PromptTooLong):
        asyncio.run(collect(engine, too_long))
    with pytest.raises(UnknownAdapter):
        asyncio.run(collect(engine, request(engine, "u", "hi", "no-such-adapter")))


def test_runs_on_cuda_when_present(base_dir, tmp_path) -> None:
    loaded = load_engine(EngineConfig(str(base_dir), tmp_path, device="auto"))
    try:
        expected = "cuda" if torch.cuda.is_available() else "cpu"
        assert loaded.engine.device.type == expected
        events = asyncio.run(collect(loaded, request(loaded, "d", PROMPTS[0], None, max_tokens=4)))
        assert events[-1].finish_reason is not None
    finally:
        loaded.engine.shutdown()


def test_the_cpu_default_leaves_a_core_to_the_http_loop(monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert default_threads(torch.device("cpu")) == 7
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert default_threads(torch.device("cpu")) == 1
    assert default_threads(torch.device("cuda")) is None
    before = torch.get_num_threads()
    try:
        apply_threads(None, torch.device("cpu"))
        assert torch.get_num_threads() == 1
        apply_threads(3, torch.device("cpu"))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
