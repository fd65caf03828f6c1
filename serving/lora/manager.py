"""Adapter tiers: device slots, host memory, and a content-addressed store on disk.

The idea of vLLM's `LoRAModelManager` and S-LoRA's unified adapter cache, over `AdapterSlots`:

- device: at most `slots.max_slots` adapters, each in a numbered slot of the wrapped layers;
- host: at most `host_capacity` further adapters, already read and checked (CPU tensors), so that
  moving one to a slot is a copy and never a disk read;
- disk: every registered adapter, in `<store>/<sha256 of adapter_model.safetensors>/`.

Both memory tiers evict their least recently used adapter. An adapter leaving the device goes to
host memory (it keeps its CPU tensors), one leaving host memory goes back to disk only. Adapters
pinned by `acquire` (a running request uses them) are never evicted; `release` unpins them.

Loading from disk is a separate step, `prefetch`, so that a request whose adapter is resident
never waits on one: `acquire` only copies from host memory into free or evictable slots, and
fails at once, changing nothing, when an adapter has not been prefetched (`AdapterNotReady`) or
the batch needs more slots than unpinned ones exist (`AdapterSlotsExhausted`).

Thread safety: the manager starts no threads. One lock guards its bookkeeping, so every method
may be called from any thread; `prefetch` reads and checks files *outside* that lock, so it can
run in a worker thread while the engine keeps acquiring resident adapters. `acquire` copies into
the slot buffers in the caller's thread: call it between forward passes, never during one.

Errors, all `AdapterError`:

    AdapterError                 (serving.lora.slots)
    ├── UnknownAdapter           id never registered
    ├── AdapterHashMismatch      weights do not hash to the expected (on-chain) sha256
    ├── AdapterNotReady          registered, but only on disk: `prefetch` it first
    └── AdapterSlotsExhausted    the batch needs more slots than can be freed
"""

import hashlib
import shutil
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from serving.lora.slots import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    AdapterError,
    AdapterSlots,
    LoadedModule,
    read_adapter,
)

HostAdapter = dict[str, LoadedModule]


class UnknownAdapter(AdapterError):
    """No adapter was registered under this id."""


class AdapterHashMismatch(AdapterError):
    """The adapter's weights do not hash to the sha256 it was registered with; never served."""


class AdapterNotReady(AdapterError):
    """Adapters only on disk: `prefetch` them (in a worker) and acquire again."""

    def __init__(self, adapter_ids: list[str]) -> None:
        super().__init__(f"adapters not in memory yet, prefetch them first: {adapter_ids}")
        self.adapter_ids = adapter_ids


class AdapterSlotsExhausted(AdapterError):
    """The batch needs more device slots than are free or held by unpinned adapters."""


class Tier(Enum):
    DEVICE = "device"
    HOST = "host"
    DISK = "disk"


@dataclass
class AdapterStats:
    """Counters, for `/metrics`.

    `hits`: acquired ids already in a slot. `host_hits`: acquired ids copied from host memory
    into a slot. `disk_loads`: adapters read from the store by `prefetch`. `evictions`: adapters
    moved out of a slot to host memory; `host_evictions`: dropped from host memory to disk only.
    """

    hits: int = 0
    host_hits: int = 0
    disk_loads: int = 0
    evictions: int = 0
    host_evictions: int = 0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_into_store(source: Path, store: Path, digest: str, config: bytes | None = None) -> Path:
    """Copy the adapter at `source` to `<store>/<digest>/` unless it is there; return that path.

    Staged in a temporary directory and renamed, so a reader never sees half an adapter.
    `config`: the config bytes already read (and checked) by the caller, else read here.
    """
    target = store / digest
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(dir=store, prefix=".incoming-"))
    shutil.copyfile(source / WEIGHTS_FILE, staging / WEIGHTS_FILE)
    config_bytes = (source / CONFIG_FILE).read_bytes() if config is None else config
    (staging / CONFIG_FILE).write_bytes(config_bytes)
    try:
        staging.rename(target)
    except OSError:  # someone else stored the same content first
        shutil.rmtree(staging)
    return target


class AdapterManager:
    """Which adapter is in which slot, which are in host memory, and which are pinned.

    `on_evict(adapter_id, tier)` is called (under the lock: keep it short) each time an adapter
    leaves `tier`, Tier.DEVICE or Tier.HOST.
    """

    def __init__(
        self,
        slots: AdapterSlots,
        store: Path,
        host_capacity: int,
        on_evict: Callable[[str, Tier], None] | None = None,
    ) -> None:
        if host_capacity < 1:
            raise ValueError("host_capacity must be at least 1: prefetch stages adapters there")
        self.slots = slots
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        self.host_capacity = host_capacity
        self.on_evict = on_evict
        self.stats = AdapterStats()
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}  # adapter id -> its directory in the store
        # Least recently used first. Every device adapter keeps its host copy in `_tensors`.
        self._device: OrderedDict[str, int] = OrderedDict()
        self._host: OrderedDict[str, None] = OrderedDict()
        self._tensors: dict[str, HostAdapter] = {}
        self._pins: Counter[str] = Counter()
        self._free_slots = list(range(slots.max_slots))

    # Registration and the disk tier.

    def register(self, adapter_id: str, path: Path, expected_sha256: str | None = None) -> str:
        """Copy the PEFT adapter at `path` into the store and serve it as `adapter_id`.

        Returns the sha256 of its weights file. With `expected_sha256` (the hash registered on
        chain) a different hash is refused. Registering an id again with the same weights does
        nothing; with other weights it is refused.
        """
        path = Path(path)
        try:
            digest = sha256_file(path / WEIGHTS_FILE)
            config = (path / CONFIG_FILE).read_bytes()
        except OSError as exc:
            raise AdapterError(f"cannot read adapter at {path}: {exc}") from exc
        if expected_sha256 is not None and digest != expected_sha256.lower().removeprefix("0x"):
            raise AdapterHashMismatch(
                f"adapter {adapter_id!r} has weights sha256 {digest}, expected {expected_sha256}"
            )
        target = self.store / digest
        with self._lock:
            self._refuse_other_weights(adapter_id, target)  # before copying anything in
        copy_into_store(path, self.store, digest, config)
        with self._lock:
            self._refuse_other_weights(adapter_id, target)  # a concurrent register may have won
            self._paths[adapter_id] = target
        return digest

    def _refuse_other_weights(self, adapter_id: str, target: Path) -> None:
        known = self._paths.get(adapter_id)
        if known is not None and known != target:
            raise AdapterError(f"adapter {adapter_id!r} is already registered with other weights")

    def registered(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    def prefetch(self, adapter_ids: Iterable[str]) -> list[str]:
        """Read adapters that are only on disk into host memory; return the ids read.

        Safe in a worker thread: files are read and checked without holding the lock. Raises
        `UnknownAdapter`, `AdapterError` for an adapter that does not fit the slots, and
        `AdapterSlotsExhausted` for more adapters than host memory holds.
        """
        adapter_ids = list(adapter_ids)  # a generator could need the lock itself
        with self._lock:
            wanted = self._check_known(adapter_ids)
            missing = [a for a in wanted if a not in self._tensors]
            for adapter_id in wanted:
                if adapter_id in self._host:
                    self._host.move_to_end(adapter_id)
            paths = {a: self._paths[a] for a in missing}
        if len(missing) > self.host_capacity:
            raise AdapterSlotsExhausted(
                f"cannot prefetch {len(missing)} adapters into host memory for {self.host_capacity}"
            )
        read = {a: read_adapter(path, self.slots.layers) for a, path in paths.items()}
        with self._lock:
            for adapter_id, tensors in read.items():
                self.stats.disk_loads += 1
                if adapter_id not in self._tensors:  # unless another prefetch was quicker
                    self._tensors[adapter_id] = tensors
                    self._host[adapter_id] = None
                    self._trim_host(keep=set(read))
        return list(read)

    # The device tier.

    def acquire(self, adapter_ids: Iterable[str]) -> dict[str, int]:
        """Give every id a slot and pin it; return {adapter id: slot}.

        Ids already in a slot are hits; the others are copied from host memory into free slots,
        or into the slots of the least recently used unpinned adapters, which go to host memory.
        Checks first and changes nothing on failure. Pair every call with `release(same ids)`.
        """
        adapter_ids = list(adapter_ids)  # a generator could need the lock itself
        with self._lock:
            wanted = self._check_known(adapter_ids)
            not_ready = [a for a in wanted if a not in self._tensors]
            if not_ready:
                raise AdapterNotReady(not_ready)
            incoming = [a for a in wanted if a not in self._device]
            evictable = [a for a in self._device if self._pins[a] == 0 and a not in wanted]
            if len(incoming) > len(self._free_slots) + len(evictable):
                pinned = sum(1 for a in self._device if self._pins[a] > 0)
                raise AdapterSlotsExhausted(
                    f"batch needs {len(wanted)} adapters, {len(incoming)} of them not on the "
                    f"device, but only {len(self._free_slots) + len(evictable)} of "
                    f"{self.slots.max_slots} slots can take one ({pinned} pinned by running "
                    f"requests)"
                )
            self.stats.hits += len(wanted) - len(incoming)
            for adapter_id in incoming:
                del self._host[adapter_id]  # first, so the evicted one always has room there
                if not self._free_slots:
                    self._evict_device(evictable.pop(0))
                slot = self._free_slots.pop(0)
                try:
                    self.slots.load_modules(slot, self._tensors[adapter_id])
                except BaseException:  # e.g. out of device memory: leave the books consistent
                    self._free_slots.insert(0, slot)
                    self._host[adapter_id] = None
                    raise
                self._device[adapter_id] = slot
                self.stats.host_hits += 1
            for adapter_id in wanted:
                self._device.move_to_end(adapter_id)
                self._pins[adapter_id] += 1
            return {a: self._device[a] for a in wanted}

    def release(self, adapter_ids: Iterable[str]) -> None:
        """Unpin adapters acquired before; they stay in their slots until evicted."""
        adapter_ids = list(adapter_ids)  # a generator could need the lock itself
        with self._lock:
            wanted = self._check_known(adapter_ids)
            unpinned = [a for a in wanted if self._pins[a] == 0]
            if unpinned:
                raise AdapterError(f"release of adapters not acquired: {unpinned}")
            for adapter_id in wanted:
                self._pins[adapter_id] -= 1
                self._device.move_to_end(adapter_id)

    # Views.

    def resident(self) -> dict[str, int]:
        """Adapters in device slots, {id: slot}, least recently used first."""
        with self._lock:
            return dict(self._device)

    def in_host(self) -> list[str]:
        """Adapters in host memory but not in a slot, least recently used first."""
        with self._lock:
            return list(self._host)

    def tier(self, adapter_id: str) -> Tier:
        with self._lock:
            self._check_known([adapter_id])
            if adapter_id in self._device:
                return Tier.DEVICE
            return Tier.HOST if adapter_id in self._host else Tier.DISK

    def pinned(self) -> dict[str, int]:
        with self._lock:
            return {a: n for a, n in self._pins.items() if n > 0}

    # Internals; the lock is held.

    def _check_known(self, adapter_ids: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(adapter_ids))
        unknown = [a for a in wanted if a not in self._paths]
        if unknown:
            raise UnknownAdapter(f"unknown adapters: {unknown}")
        return wanted

    def _evict_device(self, adapter_id: str) -> None:
        slot = self._device.pop(adapter_id)
        self._free_slots.append(slot)  # not cleared: the next load overwrites every layer
        self._host[adapter_id] = None
        self.stats.evictions += 1
        if self.on_evict is not None:
            self.on_evict(adapter_id, Tier.DEVICE)
        self._trim_host(keep={adapter_id})

    def _trim_host(self, keep: set[str]) -> None:
        """Drop least recently used host adapters beyond capacity, sparing `keep` if possible."""
        while len(self._host) > self.host_capacity:
            victim = next((a for a in self._host if a not in keep), next(iter(self._host)))
            del self._host[victim]
            del self._tensors[victim]
            self.stats.host_evictions += 1
            if self.on_evict is not None:
                self.on_evict(victim, Tier.HOST)
