"""Continuous batching over one base model and many LoRA adapters.

One engine thread owns the model. Each iteration it (1) admits waiting sequences whose adapters
are in host memory, up to `max_batch_size` rows, pins them into device slots and runs their
prompts in one left-padded prefill; (2) runs one decoding step for every running row, whatever
adapter each uses (the wrapped layers read a per-token slot index, see `serving.lora`); (3) hands
each row its token and drops finished rows. So requests join and leave the batch at every step.

Adapters that are only on disk are read by a loader thread (`AdapterManager.prefetch`) while
the engine keeps serving everyone else; their requests wait, and join once the adapter is in
host memory. A request whose adapter cannot get a device slot (all slots pinned by running
requests) waits for a row to finish.

Callers use `generate`, an async iterator of `TokenEvent`s; the engine thread passes events to
the caller's event loop with `call_soon_threadsafe`, so any number of HTTP requests can wait on
it without threads of their own.
"""

import asyncio
import inspect
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
from torch import nn

from serving.engine.kv_batch import KVBatch
from serving.engine.request import FinishReason, GenerationRequest, TokenEvent
from serving.engine.sampling import new_generator, sample_next
from serving.exceptions import ServingError
from serving.lora.layers import BatchMapping, batch_mapping
from serving.lora.manager import (
    AdapterError,
    AdapterManager,
    AdapterNotReady,
    AdapterSlotsExhausted,
)
from serving.lora.punica import NO_ADAPTER

log = logging.getLogger(__name__)

Item = TokenEvent | BaseException


class PromptTooLong(ServingError):
    """The prompt leaves no room in the model's context for even one generated token."""


class EngineStopped(ServingError):
    """The engine was shut down before the request finished."""


@dataclass
class EngineStats:
    """Counters and gauges, for `/metrics`."""

    steps: int = 0
    prefills: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    running: int = 0
    waiting: int = 0


@dataclass
class _Sequence:
    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    events: "asyncio.Queue[Item]"
    generator: torch.Generator | None
    slot: int = NO_ADAPTER
    generated: int = 0
    last_token: int = 0
    pinned: bool = False
    done: bool = False


@dataclass
class _Running:
    sequences: list[_Sequence] = field(default_factory=list)
    kv: KVBatch | None = None


class Engine:
    """Generates tokens for many concurrent requests; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        *,
        eos_token_id: int | None,
        max_context: int,
        manager: AdapterManager | None = None,
        mapping: BatchMapping | None = None,
        max_batch_size: int = 64,
        max_prefill_tokens: int = 4096,
    ) -> None:
        if (manager is None) != (mapping is None):
            raise ValueError("an adapter manager and its batch mapping come together")
        self.model = model
        self.device = next(model.parameters()).device
        self.eos_token_id = eos_token_id
        self.max_context = max_context
        self.manager = manager
        self.mapping = mapping
        self.max_batch_size = max_batch_size
        self.max_prefill_tokens = max_prefill_tokens
        self.stats = EngineStats()
        self._cache_argument = cache_argument_name(model)
        self._wakeup = threading.Condition()
        self._incoming: deque[_Sequence] = deque()
        self._aborts: set[str] = set()
        self._waiting: list[_Sequence] = []
        self._running = _Running()
        self._loading: set[str] = set()  # adapters being prefetched; engine thread only
        self._loads_done: list[tuple[str, BaseException | None]] = []
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adapter-loader")
        self._stopped = False
        self._outbox: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Queue[Item], Item]]] = {}
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._thread.start()

    # The caller's side.

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Tokens of `request` as they are produced, the last one with its finish reason."""
        self._check(request)
        events: asyncio.Queue[Item] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        sequence = _Sequence(request, loop, events, new_generator(request.params, self.device))
        with self._wakeup:
            if self._stopped:
                raise EngineStopped("the engine is shut down")
            self._incoming.append(sequence)
            self._wakeup.notify()
        finished = False
        try:
            while True:
                item = await events.get()
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                if item.finish_reason is not None:
                    finished = True
                yield item
                if finished:
                    return
        finally:
            if not finished:
                self.abort(request.request_id)

    def abort(self, request_id: str) -> None:
        """Stop `request_id` at the next step; its adapter is released."""
        with self._wakeup:
            self._aborts.add(request_id)
            self._wakeup.notify()

    def shutdown(self) -> None:
        """Stop the engine thread; unfinished requests get `EngineStopped`."""
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify()
        self._thread.join()
        self._loader.shutdown(wait=True)

    def _check(self, request: GenerationRequest) -> None:
        if not request.prompt_ids:
            raise ValueError("the prompt is empty")
        if len(request.prompt_ids) >= self.max_context:
            raise PromptTooLong(
                f"the prompt has {len(request.prompt_ids)} tokens; this model's context is "
                f"{self.max_context} tokens, including the completion"
            )
        if request.adapter_id is not None:
            if self.manager is None:
                raise AdapterError("this engine serves the base model only")
            self.manager.tier(request.adapter_id)  # raises UnknownAdapter

    # The engine thread.

    def _loop(self) -> None:
        with torch.inference_mode():
            while True:
                with self._wakeup:
                    while not self._has_work() and not self._stopped:
                        self._wakeup.wait()
                    if self._stopped:
                        break
                    self._waiting.extend(self._incoming)
                    self._incoming.clear()
                    aborts, self._aborts = self._aborts, set()
                    loads_done, self._loads_done = self._loads_done, []
                self._apply_aborts(aborts)
                self._apply_loads(loads_done)
                try:
                    self._step()
                except Exception as exc:  # e.g. device out of memory: fail the batch, keep serving
                    log.exception("engine step failed; failing %d running requests", self._rows())
                    self._fail_running(exc)
                self.stats.running = self._rows()
                self.stats.waiting = len(self._waiting)
                self._flush()
        stopped = EngineStopped("the engine is shut down")
        for sequence in [*self._running.sequences, *self._waiting, *self._incoming]:
            self._finish(sequence, stopped)
        self._flush()

    def _send(self, sequence: _Sequence, item: Item) -> None:
        self._outbox.setdefault(sequence.loop, []).append((sequence.events, item))

    def _flush(self) -> None:
        """Hand this iteration's events over: one wake-up per caller event loop, not per token."""
        outbox, self._outbox = self._outbox, {}
        for loop, items in outbox.items():
            if not loop.is_closed():  # else the callers are gone and nobody is listening
                loop.call_soon_threadsafe(_deliver, items)

    def _has_work(self) -> bool:
        """Whether an iteration now could make progress (else the thread sleeps)."""
        if self._incoming or self._aborts or self._loads_done or self._running.sequences:
            return True
        return any(self._ready(s) for s in self._waiting)

    def _ready(self, sequence: _Sequence) -> bool:
        adapter_id = sequence.request.adapter_id
        return adapter_id is None or adapter_id not in self._loading

    def _rows(self) -> int:
        return len(self._running.sequences)

    def _step(self) -> None:
        admitted = self._admit()
        if admitted:
            self._prefill(admitted)
        if self._running.sequences:
            self._decode()

    def _apply_aborts(self, request_ids: set[str]) -> None:
        if not request_ids:
            return
        aborted = TokenEvent(None, FinishReason.ABORTED)
        for sequence in self._waiting:
            if sequence.request.request_id in request_ids:
                self._finish(sequence, aborted)
        self._waiting = [s for s in self._waiting if not s.done]
        for sequence in self._running.sequences:
            if sequence.request.request_id in request_ids:
                self._finish(sequence, aborted)
        self._drop_finished_rows()

    # Admission and adapter loading.

    def _admit(self) -> list[_Sequence]:
        """Waiting sequences that can run now, pinned into slots, in arrival order."""
        admitted: list[_Sequence] = []
        budget = self.max_prefill_tokens
        admission = _Admission(self._load_ahead() - len(self._loading))
        for sequence in self._waiting:
            if self._rows() + len(admitted) >= self.max_batch_size:
                break
            if admitted and len(sequence.request.prompt_ids) > budget:
                break
            if not self._ready(sequence) or not self._pin(sequence, admission):
                continue
            admitted.append(sequence)
            budget -= len(sequence.request.prompt_ids)
        self._waiting = [s for s in self._waiting if not (s.pinned or s.done)]
        return admitted

    def _load_ahead(self) -> int:
        """How many adapters waiting requests may have read from disk at once.

        Host memory holds the device adapters' copies plus the staged ones; reading more than
        fits would evict the adapters read for the next requests before they run (thrashing).
        """
        if self.manager is None:
            return 0
        return max(1, self.manager.host_capacity - self.manager.slots.max_slots)

    def _pin(self, sequence: _Sequence, admission: "_Admission") -> bool:
        """Give the sequence a device slot; False to leave it waiting (loading, or no slot)."""
        adapter_id = sequence.request.adapter_id
        if adapter_id is None or self.manager is None:
            sequence.pinned = True
            return True
        if admission.slots_full and adapter_id not in admission.resident:
            return False  # only adapters already in a slot can still join this step
        try:
            sequence.slot = self.manager.acquire([adapter_id])[adapter_id]
        except AdapterNotReady:
            if admission.may_load(adapter_id):
                self._start_loading(adapter_id)
            return False
        except AdapterSlotsExhausted:
            admission.slots_full = True
            admission.resident = set(self.manager.resident())
            return False
        except AdapterError as exc:
            self._finish(sequence, exc)
            return False
        sequence.pinned = True
        return True

    def _start_loading(self, adapter_id: str) -> None:
        assert self.manager is not None
        self._loading.add(adapter_id)
        future = self._loader.submit(self.manager.prefetch, [adapter_id])
        future.add_done_callback(lambda done: self._loaded(adapter_id, done))

    def _loaded(self, adapter_id: str, future: Future[list[str]]) -> None:
        """Loader thread: hand the outcome to the engine thread and wake it."""
        with self._wakeup:
            self._loads_done.append((adapter_id, future.exception()))
            self._wakeup.notify()

    def _apply_loads(self, loads: list[tuple[str, BaseException | None]]) -> None:
        """Let loaded adapters' requests run; fail those whose adapter cannot load."""
        for adapter_id, error in loads:
            self._loading.discard(adapter_id)
            if error is None:
                continue
            log.warning("adapter %s failed to load: %s", adapter_id, error)
            for sequence in self._waiting:
                if sequence.request.adapter_id == adapter_id:
                    self._finish(sequence, error)
        self._waiting = [s for s in self._waiting if not s.done]

    # Model passes.

    def _prefill(self, sequences: list[_Sequence]) -> None:
        """Run the new prompts as one left-padded batch and give each its first token."""
        prompts = [s.request.prompt_ids for s in sequences]
        width = max(len(p) for p in prompts)
        ids = torch.zeros(len(prompts), width, dtype=torch.long)
        mask = torch.zeros(len(prompts), width, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        self._running.sequences.extend(sequences)  # so a failing pass fails them too
        logits, cache = self._forward(ids, mask, positions, None, self._row_slots(sequences))
        self.stats.prefills += 1
        self.stats.prompt_tokens += sum(len(p) for p in prompts)
        if self._running.kv is None:
            self._running.kv = KVBatch.from_cache(cache, mask, self.max_batch_size)
        else:
            self._running.kv.append_cache(cache, mask)
        self._emit_tokens(sequences, logits, mask.sum(dim=1).tolist())

    def _decode(self) -> None:
        """One step for every running row: feed its last token, sample the next."""
        running = self._running
        assert running.kv is not None
        sequences = running.sequences
        ids = torch.tensor([[s.last_token] for s in sequences], device=self.device)
        positions = running.kv.lengths().unsqueeze(1)
        mask = running.kv.mask_with_next_column()
        logits, _cache = self._forward(
            ids, mask, positions, running.kv.cache, self._row_slots(sequences)
        )
        running.kv.advance()
        self.stats.steps += 1
        self._emit_tokens(sequences, logits, (positions.squeeze(1) + 1).tolist())

    def _forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        positions: torch.Tensor,
        cache: object,
        row_slots: list[int],
    ) -> tuple[torch.Tensor, object]:
        """Last-position logits [rows, vocab] and the grown cache."""
        kwargs = {
            "input_ids": ids,
            "attention_mask": mask,
            "position_ids": positions,
            self._cache_argument: cache,
            "use_cache": True,
            "logits_to_keep": 1,
        }
        if self.mapping is None or self.manager is None:
            out = self.model(**kwargs)
        else:
            zero_slot = self.manager.slots.max_slots
            with batch_mapping(self.mapping, row_slots, zero_slot, self.device):
                out = self.model(**kwargs)
        return out.logits[:, -1, :], out[self._cache_argument]

    def _row_slots(self, sequences: list[_Sequence]) -> list[int]:
        return [s.slot for s in sequences]

    def _emit_tokens(
        self, sequences: list[_Sequence], logits: torch.Tensor, lengths: list[int]
    ) -> None:
        """Sample, deliver, and retire the rows that are done."""
        params = [s.request.params for s in sequences]
        if self.eos_token_id is not None:
            early = [row for row, s in enumerate(sequences) if s.generated < params[row].min_tokens]
            if early:
                logits[early, self.eos_token_id] = float("-inf")
        tokens = sample_next(logits, params, [s.generator for s in sequences])
        for sequence, token, length in zip(sequences, tokens, lengths, strict=True):
            sequence.last_token = token
            if token == self.eos_token_id:
                self._finish(sequence, TokenEvent(None, FinishReason.STOP))
                continue
            sequence.generated += 1
            self.stats.generated_tokens += 1
            full = (
                sequence.generated >= sequence.request.params.max_tokens
                or length + 1 >= self.max_context
            )
            if full:
                self._finish(sequence, TokenEvent(token, FinishReason.LENGTH))
            else:
                self._send(sequence, TokenEvent(token))
        self._drop_finished_rows()

    # Retiring sequences.

    def _finish(self, sequence: _Sequence, last: TokenEvent | BaseException) -> None:
        if sequence.done:
            return
        sequence.done = True
        if sequence.pinned and sequence.request.adapter_id is not None and self.manager:
            self.manager.release([sequence.request.adapter_id])
        self._send(sequence, last)

    def _drop_finished_rows(self) -> None:
        running = self._running
        keep = [row for row, s in enumerate(running.sequences) if not s.done]
        if len(keep) == len(running.sequences):
            return
        if not keep:
            running.sequences, running.kv = [], None
            return
        order = running.kv.keep_rows(keep) if running.kv is not None else keep
        running.sequences = [running.sequences[row] for row in order]

    def _fail_running(self, error: Exception) -> None:
        for sequence in self._running.sequences:
            self._finish(sequence, error)
        self._running = _Running()


@dataclass
class _Admission:
    """What one admission pass has learnt, so it does not ask the manager again per request."""

    load_budget: int
    slots_full: bool = False
    resident: set[str] = field(default_factory=set)
    considered: set[str] = field(default_factory=set)

    def may_load(self, adapter_id: str) -> bool:
        """Read ahead only the adapters of the first waiting requests, in arrival order."""
        if adapter_id not in self.considered:
            self.considered.add(adapter_id)
            self.load_budget -= 1
        return self.load_budget >= 0


def _deliver(items: list[tuple["asyncio.Queue[Item]", Item]]) -> None:
    for queue, item in items:
        queue.put_nowait(item)


def cache_argument_name(model: nn.Module) -> str:
    """transformers 5 calls the key/value cache `cache`; 4.x called it `past_key_values`."""
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
