"""OpenLoRA serving throughput: our continuous-batching engine against PEFT and the base model.

What is measured, and why: OpenLoRA's claim is that thousands of LoRA fine-tunes share one base
model at close to the base model's own speed. So one run serves the same deterministic load
(``--requests`` prompts of 16-32 tokens cut from ``serving/data/tiny_corpus.txt`` at fixed
seeds, ``--max-tokens`` greedy tokens each, **all submitted at once** at t=0: a closed burst,
so time to first token includes queueing) over 1, 16 and 256 distinct rank-8 LoRA adapters on
every projection of a GPT-2-style model (c_attn, c_proj, c_fc), five ways:

* ``ours``: ``load_engine`` (continuous batching, gathered-bmm LoRA, ``--slots`` device slots,
  ``--max-batch`` rows). Every adapter is registered first and *prefetched* into a host tier
  big enough for all of them (the PEFT baselines also load every adapter before the clock
  starts); copies from host memory into device slots happen inside the timed run.
* ``peft-swap`` (baseline a): one ``PeftModel`` with every adapter loaded; requests grouped by
  adapter, ``set_adapter`` then HF ``generate`` in static batches of up to ``--max-batch``.
* ``peft-mixed`` (baseline b): the same ``PeftModel``, static batches of ``--max-batch`` in
  arrival order with ``generate(..., adapter_names=[...])`` (PEFT's mixed-adapter batches).
* ``ours-base``: our engine with ``adapter_id=None`` twice: on the LoRA-wrapped model (what a
  base-model request costs in a LoRA server) and on the plain model (no LoRA layers at all).
* ``hf-base``: HF ``generate`` on the plain base model, static batches of ``--max-batch``.

Everything is loaded before the clock starts; then the systems run in ``--repeat`` interleaved
rounds (each round runs every system once, so a burst of load from other processes on a shared
machine hits all of them alike) and the fastest round of each is kept, with the spread shown.

Figures: generated tokens/s (tokens before end-of-text; every system counts the same way),
sequences/s, time to first token p50/p95 (for static batches: the moment the batch's prefill
logits exist, via a logits processor), process CPU seconds (less sensitive than wall time to
other processes), and the greedy tokens' agreement with PEFT. Then the ratios the targets name,
and a cold "1,000 adapters" run: 1,000 ids registered (they share ``--distinct-files`` weight
files to save disk), no prefetch, one request per id, once with a host tier smaller than that
(``--host-1k``) and once with one that holds them all, reporting wall time, disk loads,
evictions and peak RSS. Last (unless ``--no-profile``), the 16-adapter case again under cProfile
in the engine thread, split into model forward, LoRA gather/bmm, KV-cache bookkeeping,
sampling, event delivery and the rest, per decoding step.

Run from the repository root (``--device auto`` uses CUDA when torch sees one)::

    .venv/bin/python benchmarks/serving.py              # full run, ~5 min on 2 CPU cores
    .venv/bin/python benchmarks/serving.py --quick      # ~1 min
    .venv/bin/python benchmarks/serving.py --base-model gpt2 --device cuda --json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

# Run as `python benchmarks/serving.py`, this file's folder comes first on sys.path and its name
# would hide the `serving` package: put the repository root there instead.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT / "benchmarks"]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList  # noqa: E402

from serving.engine.engine import Engine  # noqa: E402
from serving.engine.loader import (  # noqa: E402
    EngineConfig,
    apply_threads,
    load_engine,
    max_context_of,
    pick_device,
    pick_dtype,
)
from serving.engine.request import GenerationRequest, SamplingParams  # noqa: E402
from serving.random_adapter import GPT2_TARGETS  # noqa: E402
from serving.tiny_model import CORPUS, build_tiny_model  # noqa: E402

SEED = 1234
RANK = 8
ALPHA = 16
BASE = None
"""Adapter id of a base-model request."""
PEFT_BASE = "__base__"
"""PEFT's name for 'no adapter' in a mixed batch."""


# -- workload -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    request_id: str
    prompt_ids: list[int]
    adapter: str | None


def adapter_id(index: int) -> str:
    return f"adapter-{index:04d}"


def make_jobs(
    tokenizer: Any, count: int, adapters: int | None, seed: int = SEED, id_offset: int = 0
) -> list[Job]:
    """`count` prompts of 16-32 corpus tokens; request i uses adapter i mod `adapters`.

    `adapters` None: every request is for the base model.
    """
    corpus_ids = tokenizer(CORPUS.read_text()).input_ids
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        length = rng.randint(16, 32)
        start = rng.randrange(len(corpus_ids) - length)
        adapter = None if adapters is None else adapter_id(id_offset + i % adapters)
        jobs.append(Job(f"req-{i}", corpus_ids[start : start + length], adapter))
    return jobs


def make_adapters(base_dir: str, root: Path, count: int, seed: int = SEED) -> list[Path]:
    """`count` real PEFT adapters (rank 8, all projections), saved by `save_pretrained`.

    PEFT initialises B to zero, which would make every adapter a no-op; each adapter draws A and
    B from its own seed so that they all change the output, differently.
    """
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    targets = GPT2_TARGETS if base.config.model_type == "gpt2" else "all-linear"
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=RANK,
        lora_alpha=ALPHA,
        lora_dropout=0.0,
        target_modules=targets,
        fan_in_fan_out=base.config.model_type == "gpt2",
    )
    model = get_peft_model(base, config)
    lora = [(n, p) for n, p in model.named_parameters() if "lora_" in n]
    paths = []
    for index in range(count):
        generator = torch.Generator().manual_seed(seed + index)
        with torch.no_grad():
            for name, param in lora:
                std = 0.05 if "lora_B" in name else 1 / param.shape[-1] ** 0.5
                param.copy_(torch.randn(param.shape, generator=generator) * std)
        path = root / f"weights-{index:04d}"
        model.save_pretrained(path)
        paths.append(path)
    return paths


# -- results ------------------------------------------------------------------------------


@dataclass
class Result:
    system: str
    adapters: int | None
    wall_s: float
    tokens: int
    sequences: int
    ttft_s: list[float] = field(repr=False)
    outputs: dict[str, list[int]] = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall_s

    @property
    def sequences_per_s(self) -> float:
        return self.sequences / self.wall_s

    def ttft(self, q: float) -> float:
        ordered = sorted(self.ttft_s)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "adapters": self.adapters,
            "wall_s": round(self.wall_s, 3),
            "tokens": self.tokens,
            "sequences": self.sequences,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "sequences_per_s": round(self.sequences_per_s, 2),
            "ttft_p50_s": round(self.ttft(0.5), 4),
            "ttft_p95_s": round(self.ttft(0.95), 4),
            **self.extra,
        }


def agreement(ours: Result, reference: Result) -> float:
    """Fraction of requests whose greedy tokens are identical in both runs."""
    same = sum(ours.outputs[rid] == reference.outputs.get(rid) for rid in ours.outputs)
    return same / len(ours.outputs)


def until_eos(tokens: Sequence[int], eos: int | None) -> list[int]:
    tokens = list(tokens)
    return tokens[: tokens.index(eos)] if eos is not None and eos in tokens else tokens


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- our engine ---------------------------------------------------------------------------


class TokenBudget(NamedTuple):
    """Tokens per request: at most `max_tokens`, and no end-of-sequence before `min_tokens`."""

    max_tokens: int
    min_tokens: int


async def _serve(engine: Engine, jobs: list[Job], budget: TokenBudget) -> tuple[float, list[Any]]:
    params = SamplingParams(
        max_tokens=budget.max_tokens, min_tokens=budget.min_tokens, temperature=0
    )
    start = time.perf_counter()

    async def one(job: Job) -> tuple[str, float, list[int]]:
        first = None
        tokens: list[int] = []
        request = GenerationRequest(job.request_id, job.prompt_ids, job.adapter, params)
        async for event in engine.generate(request):
            if first is None:
                first = time.perf_counter() - start
            if event.token_id is not None:
                tokens.append(event.token_id)
        assert first is not None
        return job.request_id, first, tokens

    results = await asyncio.gather(*(one(job) for job in jobs))
    return time.perf_counter() - start, results


def run_engine(
    system: str, engine: Engine, jobs: list[Job], budget: TokenBudget, adapters: int | None
) -> Result:
    steps, prefills = engine.stats.steps, engine.stats.prefills
    cpu = time.process_time()
    wall, results = asyncio.run(_serve(engine, jobs, budget))
    cpu = time.process_time() - cpu
    outputs = {rid: tokens for rid, _, tokens in results}
    return Result(
        system,
        adapters,
        wall,
        sum(len(t) for t in outputs.values()),
        len(jobs),
        [first for _, first, _ in results],
        outputs,
        {
            "steps": engine.stats.steps - steps,
            "prefills": engine.stats.prefills - prefills,
            "cpu_s": round(cpu, 3),
        },
    )


# -- HF generate baselines ----------------------------------------------------------------


class FirstLogits(LogitsProcessor):
    """Records when the prefill's logits exist: a static batch's time to first token."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.at is None:
            self.at = time.perf_counter()
        return scores


def hf_batch(
    model: Any,
    jobs: list[Job],
    budget: TokenBudget,
    eos: int,
    device: torch.device,
    adapter_names: list[str] | None = None,
) -> tuple[dict[str, list[int]], float]:
    """One left-padded static batch through `generate`; outputs and the first-logits time."""
    width = max(len(job.prompt_ids) for job in jobs)
    ids = torch.full((len(jobs), width), eos, dtype=torch.long)
    mask = torch.zeros(len(jobs), width, dtype=torch.long)
    for row, job in enumerate(jobs):
        ids[row, width - len(job.prompt_ids) :] = torch.tensor(job.prompt_ids)
        mask[row, width - len(job.prompt_ids) :] = 1
    first = FirstLogits()
    extra = {} if adapter_names is None else {"adapter_names": adapter_names}
    out = model.generate(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        max_new_tokens=budget.max_tokens,
        min_new_tokens=budget.min_tokens,
        do_sample=False,
        pad_token_id=eos,
        eos_token_id=eos,
        logits_processor=LogitsProcessorList([first]),
        **extra,
    )
    out = out[:, width:].tolist()
    assert first.at is not None
    return {job.request_id: until_eos(row, eos) for job, row in zip(jobs, out, strict=True)}, (
        first.at
    )


def run_hf(
    system: str,
    adapters: int | None,
    batches: list[tuple[str | None, list[Job]]],
    model: Any,
    budget: TokenBudget,
    eos: int,
    device: torch.device,
    mixed: bool = False,
) -> Result:
    """Static batches one after another; `(adapter to set_adapter or None, jobs)` each."""
    outputs: dict[str, list[int]] = {}
    ttft: list[float] = []
    cpu = time.process_time()
    start = time.perf_counter()
    for adapter, jobs in batches:
        names = None
        if mixed:
            names = [job.adapter or PEFT_BASE for job in jobs]
        elif adapter is not None:
            model.set_adapter(adapter)
        out, first_at = hf_batch(model, jobs, budget, eos, device, names)
        synchronize(device)
        outputs.update(out)
        ttft.extend([first_at - start] * len(jobs))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return Result(
        system,
        adapters,
        wall,
        sum(len(t) for t in outputs.values()),
        len(outputs),
        ttft,
        outputs,
        {"batches": len(batches), "cpu_s": round(cpu, 3)},
    )


def chunks(jobs: list[Job], size: int) -> list[list[Job]]:
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def swap_batches(jobs: list[Job], size: int) -> list[tuple[str | None, list[Job]]]:
    """Requests grouped by adapter (first-arrival order), each group cut into static batches."""
    groups: dict[str | None, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.adapter, []).append(job)
    return [(a, chunk) for a, group in groups.items() for chunk in chunks(group, size)]


# -- memory -------------------------------------------------------------------------------


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size in MiB; the peak can be reset with `reset_peak_rss`."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -- profile ------------------------------------------------------------------------------


@contextmanager
def profiled_engine_thread(profile: cProfile.Profile) -> Iterator[None]:
    """cProfile the engine thread of engines started inside the block (wraps `Engine._loop`)."""
    original = Engine._loop

    def loop(self: Engine) -> None:
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    Engine._loop = loop  # type: ignore[method-assign]
    try:
        yield
    finally:
        Engine._loop = original  # type: ignore[method-assign]


PROFILE_PARTS: list[tuple[str, str, str]] = [
    # (label, file suffix, function name): cumulative time of that function
    ("decode steps, total", "engine/engine.py", "_decode"),
    ("prefills, total", "engine/engine.py", "_prefill"),
    ("model forward (all of it)", "engine/engine.py", "_forward"),
    ("  of which LoRA gather (gather_rows)", "lora/punica.py", "gather_rows"),
    ("  of which LoRA bmm (add_gathered_lora)", "lora/punica.py", "add_gathered_lora"),
    ("  of which base projections (Conv1D)", "transformers/pytorch_utils.py", "forward"),
    ("  of which attention (sdpa)", "sdpa_attention.py", "sdpa_attention_forward"),
    ("  of which mask building", "masking_utils.py", "create_causal_mask"),
    ("KV: column writes (ColumnLayer.update)", "engine/kv_batch.py", "update"),
    ("KV: from_cache (after a prefill)", "engine/kv_batch.py", "from_cache"),
    ("KV: lengths()", "engine/kv_batch.py", "lengths"),
    ("KV: append (new rows join)", "engine/kv_batch.py", "append"),
    ("KV: keep_rows (rows leave)", "engine/kv_batch.py", "keep_rows"),
    ("sampling (sample_next)", "engine/sampling.py", "sample_next"),
    ("emit + retire (_emit_tokens, incl. sampling)", "engine/engine.py", "_emit_tokens"),
    ("row slots tensor (_row_slots)", "engine/engine.py", "_row_slots"),
    ("admission (_admit, incl. acquire)", "engine/engine.py", "_admit"),
    ("adapter acquire (slot copies)", "lora/manager.py", "acquire"),
    ("call_soon_threadsafe (to caller loop)", "asyncio/base_events.py", "call_soon_threadsafe"),
    ("engine thread, everything (Engine._loop)", "engine/engine.py", "_loop"),
]


def profile_breakdown(stats: pstats.Stats, steps: int) -> list[dict[str, Any]]:
    table = stats.stats  # type: ignore[attr-defined]
    rows = []
    for label, suffix, name in PROFILE_PARTS:
        cumulative = sum(
            value[3]
            for (filename, _, func), value in table.items()
            if func == name and filename.replace("\\", "/").endswith(suffix)
        )
        calls = sum(
            value[1]
            for (filename, _, func), value in table.items()
            if func == name and filename.replace("\\", "/").endswith(suffix)
        )
        rows.append(
            {
                "part": label,
                "total_s": round(cumulative, 3),
                "calls": calls,
                "ms_per_step": round(1000 * cumulative / max(steps, 1), 3),
            }
        )
    return rows


def top_functions(stats: pstats.Stats, n: int) -> list[tuple[str, int, float, float]]:
    table = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    return [
        (f"{Path(f).name}:{line}({func})", value[1], value[2], value[3])
        for (f, line, func), value in ranked
    ]


# -- the run ------------------------------------------------------------------------------


@dataclass
class Settings:
    requests: int
    max_tokens: int
    min_tokens: int
    adapter_counts: list[int]
    max_batch: int
    slots: int
    thousand: int
    host_1k: int
    distinct_files: int
    repeat: int

    @property
    def budget(self) -> TokenBudget:
        return TokenBudget(self.max_tokens, self.min_tokens)


def engine_config(
    base_dir: str, store: Path, host_adapters: int, settings: Settings, args: argparse.Namespace
) -> EngineConfig:
    """The engine every "ours" run uses: the benchmark's slots, rows and thread setting."""
    return EngineConfig(
        base_dir,
        store,
        device=args.device,
        dtype=args.dtype,
        max_active_adapters=settings.slots,
        max_host_adapters=host_adapters,
        max_rank=RANK,
        max_batch_size=settings.max_batch,
        threads=args.threads,
    )


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def warm_up(engine: Engine, jobs: list[Job]) -> None:
    asyncio.run(_serve(engine, jobs, TokenBudget(4, 0)))


def load_average() -> str:
    """The 1-minute load average: other processes on a shared machine inflate wall times."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def settle() -> None:
    """Collect, then freeze the survivors out of the collector's view.

    Each phase leaves many long-lived Python objects (a PeftModel with 256 adapters is tens of
    thousands of modules); without this, full collections triggered by the next phase's
    allocations walk them all, holding the GIL, and tax whoever runs next.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def run_systems(
    base_dir: str,
    work: Path,
    paths: list[Path],
    tokenizer: Any,
    settings: Settings,
    args: argparse.Namespace,
) -> tuple[list[Result], dict[str, int], float]:
    """Every system and adapter count, in rounds: each round runs each of them once.

    Everything is loaded first (our engines, the plain model, one PeftModel with every
    adapter), so that rounds interleave the systems and a burst of load from other processes
    hits all of them alike; the fastest of `settings.repeat` rounds is kept.
    """
    device = pick_device(args.device)
    dtype = pick_dtype(args.dtype, device)
    eos = tokenizer.eos_token_id
    counts = settings.adapter_counts
    max_adapters = max(counts)
    budget = settings.budget
    base_jobs = make_jobs(tokenizer, settings.requests, None)
    workloads = {count: make_jobs(tokenizer, settings.requests, count) for count in counts}

    plain = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype).to(device).eval()
    plain_engine = Engine(
        plain,
        eos_token_id=eos,
        max_context=max_context_of(plain, tokenizer),
        max_batch_size=settings.max_batch,
    )
    loaded = load_engine(
        engine_config(base_dir, work / "store", max_adapters + settings.slots, settings, args)
    )
    for index in range(max_adapters):
        loaded.adapters.register(adapter_id(index), paths[index])
    loaded.adapters.prefetch([adapter_id(i) for i in range(max_adapters)])
    log(f"loading {max_adapters} adapters into one PeftModel ...")
    started = time.perf_counter()
    peft_base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype).to(device).eval()
    peft_model = PeftModel.from_pretrained(peft_base, paths[0], adapter_name=adapter_id(0))
    for index in range(1, max_adapters):
        peft_model.load_adapter(paths[index], adapter_name=adapter_id(index))
    peft_model.to(device).eval()
    peft_load_s = time.perf_counter() - started
    warm_up(plain_engine, make_jobs(tokenizer, settings.max_batch, None, seed=SEED + 1))
    warm_up(loaded.engine, make_jobs(tokenizer, settings.max_batch, min(8, max_adapters), SEED + 1))

    def hf(system: str, count: int, batches: list[Any], model: Any, mixed: bool = False):
        return lambda: run_hf(system, count, batches, model, budget, eos, device, mixed)

    def ours(system: str, engine: Engine, jobs: list[Job], count: int):
        return lambda: run_engine(system, engine, jobs, budget, count)

    systems: list[tuple[Callable[[], Result], bool]] = [
        (ours("ours-base (no LoRA layers)", plain_engine, base_jobs, 0), True),
        (ours("ours-base (LoRA model, adapter None)", loaded.engine, base_jobs, 0), True),
        (hf("hf-base generate", 0, batches_of(base_jobs, settings.max_batch), plain), True),
    ]
    for count in counts:
        jobs = workloads[count]
        systems += [
            (ours("ours", loaded.engine, jobs, count), True),
            (hf("peft-mixed", count, batches_of(jobs, settings.max_batch), peft_model, True), True),
            # the swap loop over many adapters is the slowest figure by far: one round
            (
                hf("peft-swap", count, swap_batches(jobs, settings.max_batch), peft_model),
                count <= 16,
            ),
        ]
    settle()
    best: dict[int, Result] = {}
    walls: dict[int, list[float]] = {}
    with torch.inference_mode():
        for round_ in range(settings.repeat):
            log(f"round {round_ + 1} of {settings.repeat} (load average {load_average()}) ...")
            for index, (run, every_round) in enumerate(systems):
                if round_ > 0 and not every_round:
                    continue
                result = run()
                walls.setdefault(index, []).append(result.wall_s)
                if index not in best or result.wall_s < best[index].wall_s:
                    best[index] = result
    results = [best[index] for index in range(len(systems))]
    for index, result in enumerate(results):
        if len(walls[index]) > 1:
            result.extra["spread_s"] = f"{min(walls[index]):.2f}-{max(walls[index]):.2f}"
    for count in counts:
        mine = next(r for r in results if r.system == "ours" and r.adapters == count)
        for name in ("peft-mixed", "peft-swap"):
            theirs = next(r for r in results if r.system == name and r.adapters == count)
            mine.extra[f"same_tokens_as_{name.replace('-', '_')}"] = round(
                agreement(mine, theirs), 3
            )
    manager_stats = asdict(loaded.adapters.stats)
    loaded.engine.shutdown()
    plain_engine.shutdown()
    return results, manager_stats, peft_load_s


def batches_of(jobs: list[Job], size: int) -> list[tuple[str | None, list[Job]]]:
    return [(None, chunk) for chunk in chunks(jobs, size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", help="a path or name for from_pretrained (default: tiny)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--quick", action="store_true", help="about a minute on 2 CPU cores")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument(
        "--min-tokens",
        type=int,
        help="no end-of-sequence before this many tokens (default: --max-tokens, so every "
        "system generates the same tokens, as vLLM's benchmarks do; 0 lets EOS end requests)",
    )
    parser.add_argument("--adapters", help="comma-separated distinct-adapter counts (1,16,256)")
    parser.add_argument("--max-batch", type=int, default=64, help="engine rows = static batch")
    parser.add_argument("--slots", type=int, default=32, help="engine device slots")
    parser.add_argument("--thousand", type=int, help="ids in the cold cache run (1000)")
    parser.add_argument("--host-1k", type=int, default=128, help="host tier of the cold run")
    parser.add_argument("--distinct-files", type=int, default=64, help="weight files it shares")
    parser.add_argument("--repeat", type=int, help="rounds, fastest kept (3; quick 2)")
    parser.add_argument(
        "--threads", type=int, help="torch intra-op threads (the service's default: CPUs - 1)"
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print all figures as JSON")
    args = parser.parse_args()

    quick = args.quick
    settings = Settings(
        requests=args.requests or (128 if quick else 256),
        max_tokens=args.max_tokens or 32,
        min_tokens=args.max_tokens or 32 if args.min_tokens is None else args.min_tokens,
        adapter_counts=[int(n) for n in args.adapters.split(",")]
        if args.adapters
        else ([1, 16, 128] if quick else [1, 16, 256]),
        max_batch=args.max_batch,
        slots=args.slots,
        thousand=args.thousand or (300 if quick else 1000),
        host_1k=args.host_1k,
        distinct_files=args.distinct_files,
        repeat=args.repeat or (2 if quick else 3),
    )
    transformers.logging.set_verbosity_error()
    torch.manual_seed(SEED)
    device = pick_device(args.device)
    dtype = pick_dtype(args.dtype, device)
    # The service's setting (CPUs - 1 on the CPU unless --threads), for every system measured:
    # torch's thread count is process-wide, and the baselines are fastest with it too.
    apply_threads(args.threads, device)
    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    base_dir = args.base_model or str(build_tiny_model(work / "tiny-gpt2"))
    counts = settings.adapter_counts
    max_adapters = max(counts)
    files = max(max_adapters, min(settings.distinct_files, settings.thousand))
    log(f"writing {files} PEFT adapters (rank {RANK}) ...")
    paths = make_adapters(base_dir, work / "adapters", files)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    print(
        f"device {device} ({dtype}), torch threads {torch.get_num_threads()}, load average "
        f"{load_average()} at start, base "
        f"{'tiny GPT-2 (2 layers, 64 wide)' if not args.base_model else base_dir}, "
        f"{settings.requests} requests x {settings.max_tokens} greedy tokens (no EOS before "
        f"{settings.min_tokens}), prompts 16-32 "
        f"tokens, all submitted at t=0; engine {settings.max_batch} rows, "
        f"{settings.slots} device slots; static batches of {settings.max_batch}"
    )

    results, manager_stats, peft_load_s = run_systems(
        base_dir, work, paths, tokenizer, settings, args
    )
    settle()
    order = ["ours-base", "hf-base", "ours", "peft-mixed", "peft-swap"]
    results.sort(key=lambda r: (r.adapters or 0, order.index(r.system.split(" ")[0]), r.system))
    print(f"PEFT: {max_adapters} adapters loaded in {fmt(peft_load_s, 2)} s (untimed)")

    # The table.
    print()
    header = (
        f"{'system':38} {'adapters':>8} {'wall s':>8} {'tokens':>7} {'tok/s':>9} "
        f"{'seq/s':>8} {'TTFT p50':>9} {'TTFT p95':>9} {'CPU s':>6}  notes"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        notes = ", ".join(
            f"{k} {v}"
            for k, v in r.extra.items()
            if k in {"steps", "batches", "spread_s"} or "same" in k
        )
        print(
            f"{r.system:38} {r.adapters if r.adapters else '-':>8} {fmt(r.wall_s, 2):>8} "
            f"{r.tokens:>7} {fmt(r.tokens_per_s):>9} {fmt(r.sequences_per_s, 2):>8} "
            f"{fmt(r.ttft(0.5), 3):>9} {fmt(r.ttft(0.95), 3):>9} {r.extra['cpu_s']:>6.2f}  {notes}"
        )
    print(f"engine adapter stats over the whole run: {manager_stats}")

    def pick(system: str, count: int | None) -> Result:
        return next(r for r in results if r.system == system and r.adapters == count)

    print()
    print("ratios (generated tokens/s)")
    plain_base = pick("ours-base (no LoRA layers)", 0)
    wrapped_base = pick("ours-base (LoRA model, adapter None)", 0)
    hf_base = pick("hf-base generate", 0)
    ratios: dict[str, float] = {}
    for count in settings.adapter_counts:
        ours = pick("ours", count)
        for name, ref, target in (
            ("peft-mixed", pick("peft-mixed", count), "target >= 3x"),
            ("peft-swap", pick("peft-swap", count), ""),
            ("ours-base, no LoRA layers", plain_base, "target >= 0.75"),
            ("hf-base generate", hf_base, ""),
        ):
            ratio = ours.tokens_per_s / ref.tokens_per_s
            ratios[f"ours/{name}@{count}"] = ratio
            print(f"  ours @ {count:>3} adapters / {name:26} {ratio:6.2f}x  {target}")
    print(
        f"  ours-base LoRA model / no LoRA layers          "
        f"{wrapped_base.tokens_per_s / plain_base.tokens_per_s:6.2f}x  (cost of LoRA layers idle)"
    )
    print(
        f"  ours-base no LoRA / hf-base generate           "
        f"{plain_base.tokens_per_s / hf_base.tokens_per_s:6.2f}x  (continuous vs static batching)"
    )

    # 1,000 adapters, cold, through the cache: a host tier smaller than the ids, then one that
    # holds them all.
    thousands = []
    for host in (settings.host_1k, settings.thousand):
        thousand = run_thousand(base_dir, work, paths, tokenizer, settings, args, host)
        thousands.append(thousand)
        print()
        print(
            f"{settings.thousand:,} adapters registered and served through the cache "
            f"({thousand['distinct_files']} distinct weight files, host tier {host}, "
            f"{settings.slots} device slots, no prefetch, one request of "
            f"{settings.max_tokens} tokens per id, all at t=0):"
        )
        print(
            f"  register {fmt(thousand['register_s'], 2)} s · serve "
            f"{fmt(thousand['wall_s'], 2)} s ({fmt(thousand['tokens_per_s'])} tok/s, "
            f"{fmt(thousand['sequences_per_s'], 1)} seq/s, TTFT p50 "
            f"{fmt(thousand['ttft_p50_s'], 2)} s p95 {fmt(thousand['ttft_p95_s'], 2)} s) · "
            f"disk loads {thousand['disk_loads']:,} · device evictions {thousand['evictions']:,} · "
            f"host evictions {thousand['host_evictions']:,} · every id served: "
            f"{thousand['all_served']} · peak RSS {fmt(thousand['peak_rss_mib'], 0)} MiB "
            f"(RSS before {fmt(thousand['rss_before_mib'], 0)} MiB)"
        )

    print(f"load average {load_average()} at the end of the timed runs")

    breakdown: dict[str, Any] = {}
    if not args.no_profile:
        breakdown = run_profile(base_dir, work, paths, tokenizer, settings, args)
    shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(
            json.dumps(
                {
                    "settings": asdict(settings),
                    "device": str(device),
                    "results": [r.summary() for r in results],
                    "ratios": {k: round(v, 3) for k, v in ratios.items()},
                    "thousand": thousands,
                    "profile": breakdown,
                    "peft_load_s": peft_load_s,
                },
                indent=1,
            )
        )


def run_thousand(
    base_dir: str,
    work: Path,
    paths: list[Path],
    tokenizer: Any,
    settings: Settings,
    args: argparse.Namespace,
    host_capacity: int,
) -> dict[str, Any]:
    """Register `settings.thousand` ids and serve one request each from a cold cache."""
    log(f"{settings.thousand} adapters through the cache, host tier {host_capacity} ...")
    settle()
    reset = reset_peak_rss()
    rss_before, _ = rss_mib()
    distinct = min(len(paths), settings.distinct_files)
    loaded = load_engine(
        engine_config(base_dir, work / f"store-1k-{host_capacity}", host_capacity, settings, args)
    )
    started = time.perf_counter()
    for index in range(settings.thousand):
        loaded.adapters.register(adapter_id(index), paths[index % distinct])
    register_s = time.perf_counter() - started
    jobs = make_jobs(tokenizer, settings.thousand, settings.thousand, seed=SEED + 2)
    with torch.inference_mode():
        result = run_engine("ours-1k", loaded.engine, jobs, settings.budget, settings.thousand)
    _, peak = rss_mib()
    if not reset:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = loaded.adapters.stats
    loaded.engine.shutdown()
    served = all(result.outputs[job.request_id] is not None for job in jobs)
    return {
        "ids": settings.thousand,
        "distinct_files": distinct,
        "register_s": register_s,
        **result.summary(),
        "disk_loads": stats.disk_loads,
        "evictions": stats.evictions,
        "host_evictions": stats.host_evictions,
        "host_hits": stats.host_hits,
        "all_served": served and result.sequences == settings.thousand,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak,
        "peak_rss_is_process_lifetime": not reset,
    }


def run_profile(
    base_dir: str,
    work: Path,
    paths: list[Path],
    tokenizer: Any,
    settings: Settings,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The 16-adapter case again under cProfile in the engine thread, split per decoding step."""
    count = min(16, len(paths))
    log(f"profiling the {count}-adapter case ...")
    settle()
    profile = cProfile.Profile()
    with profiled_engine_thread(profile):
        loaded = load_engine(
            engine_config(base_dir, work / "store-profile", count + settings.slots, settings, args)
        )
    for index in range(count):
        loaded.adapters.register(adapter_id(index), paths[index])
    loaded.adapters.prefetch([adapter_id(i) for i in range(count)])
    jobs = make_jobs(tokenizer, settings.requests, count)
    with torch.inference_mode():
        result = run_engine("ours (profiled)", loaded.engine, jobs, settings.budget, count)
    loaded.engine.shutdown()
    stats = pstats.Stats(profile)
    steps = result.extra["steps"] + 1  # the warm-up-free engine: every step is in the profile
    rows = profile_breakdown(stats, steps)
    print()
    print(
        f"profile: {count} adapters, {settings.requests} requests, engine thread under cProfile "
        f"({result.extra['steps']} decoding steps, {result.extra['prefills']} prefills, wall "
        f"{fmt(result.wall_s, 2)} s with the profiler on; cProfile inflates Python-heavy parts)"
    )
    print(f"  {'part':48} {'total s':>8} {'calls':>7} {'ms/step':>8}")
    for row in rows:
        print(
            f"  {row['part']:48} {row['total_s']:>8.3f} {row['calls']:>7} "
            f"{row['ms_per_step']:>8.3f}"
        )
    print("  top functions by own time (calls, own s, cumulative s):")
    top = top_functions(stats, 15)
    for name, calls, own, cumulative in top:
        print(f"    {name:70} {calls:>8} {own:8.3f} {cumulative:8.3f}")
    return {"parts": rows, "top": top, "steps": result.extra["steps"]}


if __name__ == "__main__":
    main()
