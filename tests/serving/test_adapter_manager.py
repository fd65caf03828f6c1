"""Adapter tiers: LRU with pinning over 2 device slots and 2 host places, adapters on disk."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from serving.lora.layers import BatchMapping, batch_mapping, wrap_lora_layers
from serving.lora.manager import (
    AdapterHashMismatch,
    AdapterManager,
    AdapterNotReady,
    AdapterSlotsExhausted,
    Tier,
    UnknownAdapter,
    sha256_file,
)
from serving.lora.slots import WEIGHTS_FILE, AdapterError, AdapterSlots
from serving.tiny_model import build_tiny_model
from tests.helpers.adapters import save_random_adapters

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DEVICE_T = torch.device(DEVICE)
TARGETS = ["c_attn", "c_proj", "c_fc"]
NAMES = [f"a{i}" for i in range(6)]
DEVICE_SLOTS = 2
HOST_CAPACITY = 2


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def adapter_dirs(base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Six rank-4 adapters, each with its own random B."""
    specs = {name: {"r": 4, "lora_alpha": 8} for name in NAMES}
    return save_random_adapters(base_dir, tmp_path_factory.mktemp("adapters"), specs)


class Engine:
    """A wrapped model and its manager, with every adapter registered."""

    def __init__(self, base_dir: Path, adapter_dirs: dict[str, Path], store: Path) -> None:
        self.model = AutoModelForCausalLM.from_pretrained(base_dir).to(DEVICE).eval()
        self.mapping = BatchMapping()
        layers = wrap_lora_layers(self.model, TARGETS, DEVICE_SLOTS, 8, self.mapping)
        self.evicted: list[tuple[str, Tier]] = []
        self.manager = AdapterManager(
            AdapterSlots(layers),
            store,
            HOST_CAPACITY,
            on_evict=lambda adapter_id, tier: self.evicted.append((adapter_id, tier)),
        )
        for name, path in adapter_dirs.items():
            self.manager.register(name, path)

    def use(self, *names: str) -> dict[str, int]:
        """Prefetch what is on disk, acquire, release: one batch's worth of use."""
        self.manager.prefetch(n for n in names if self.manager.tier(n) is Tier.DISK)
        slots = self.manager.acquire(names)
        self.manager.release(names)
        return slots

    def logits(self, name: str, input_ids: torch.Tensor) -> torch.Tensor:
        slot = self.manager.acquire([name])[name]
        try:
            row_slots = [slot] * input_ids.shape[0]
            zero_slot = self.manager.slots.max_slots
            with torch.no_grad(), batch_mapping(self.mapping, row_slots, zero_slot, DEVICE_T):
                return self.model(input_ids.to(DEVICE)).logits
        finally:
            self.manager.release([name])


@pytest.fixture
def engine(base_dir: Path, adapter_dirs: dict[str, Path], tmp_path: Path) -> Engine:
    return Engine(base_dir, adapter_dirs, tmp_path / "store")


def test_store_is_content_addressed(engine: Engine, adapter_dirs: dict[str, Path]):
    digest = sha256_file(adapter_dirs["a0"] / WEIGHTS_FILE)
    stored = engine.manager.store / digest
    assert sorted(p.name for p in stored.iterdir()) == sorted(["adapter_config.json", WEIGHTS_FILE])
    assert json.loads((stored / "adapter_config.json").read_text())["r"] == 4
    # The same weights under another id share the directory; re-registering is a no-op.
    assert engine.manager.register("alias", adapter_dirs["a0"], expected_sha256=digest) == digest
    engine.manager.register("a0", adapter_dirs["a0"])
    assert len([p for p in engine.manager.store.iterdir()]) == len(NAMES)
    with pytest.raises(AdapterError, match="already registered with other weights"):
        engine.manager.register("a0", adapter_dirs["a1"])
    with pytest.raises(AdapterHashMismatch, match="expected"):
        engine.manager.register("bad", adapter_dirs["a1"], expected_sha256=digest)
    assert "bad" not in engine.manager.registered()


def test_least_recently_used_is_evicted_first(engine: Engine):
    manager = engine.manager
    engine.use("a0")
    engine.use("a1")
    engine.use("a0")  # a1 is now the least recently used
    engine.use("a2")
    assert engine.evicted == [("a1", Tier.DEVICE)]
    assert set(manager.resident()) == {"a0", "a2"}
    engine.use("a3")
    assert engine.evicted[-1] == ("a0", Tier.DEVICE)
    assert manager.in_host() == ["a1", "a0"]
    # Prefetching a4 fills host memory: a1 goes back to disk; then a2 leaves the device for a4.
    engine.use("a4")
    assert engine.evicted[-2:] == [("a1", Tier.HOST), ("a2", Tier.DEVICE)]
    assert [manager.tier(n) for n in NAMES] == [
        Tier.HOST,
        Tier.DISK,
        Tier.HOST,
        Tier.DEVICE,
        Tier.DEVICE,
        Tier.DISK,
    ]


def test_pinned_adapters_are_never_evicted(engine: Engine):
    manager = engine.manager
    engine.use("a0")
    a0_slot = manager.acquire(["a0"])["a0"]  # a running request holds a0
    engine.use("a1")
    engine.use("a2")  # a0 is the least recently used but pinned: a1 goes
    engine.use("a3")
    assert ("a0", Tier.DEVICE) not in engine.evicted
    assert manager.resident()["a0"] == a0_slot
    assert manager.pinned() == {"a0": 1}
    held = manager.acquire(["a3"])
    manager.prefetch(["a4"])
    before = (manager.resident(), manager.in_host(), manager.stats)
    with pytest.raises(AdapterSlotsExhausted, match="2 pinned"):
        manager.acquire(["a4"])
    assert (manager.resident(), manager.in_host(), manager.stats) == before
    manager.release(["a0", *held])
    assert manager.acquire(["a4"])["a4"] == a0_slot  # a0 is older than a3
    with pytest.raises(AdapterError, match="not acquired"):
        manager.release(["a0"])


def test_host_hits_and_disk_loads_are_counted(engine: Engine):
    stats = engine.manager.stats
    engine.use("a0", "a1")
    assert (stats.hits, stats.host_hits, stats.disk_loads) == (0, 2, 2)
    engine.use("a0")
    assert (stats.hits, stats.host_hits, stats.disk_loads) == (1, 2, 2)
    engine.use("a2", "a3")  # both resident ones go to host memory
    assert (stats.evictions, stats.host_evictions, stats.disk_loads) == (2, 0, 4)
    engine.use("a0")  # back from host memory, no disk read
    assert (stats.hits, stats.host_hits, stats.disk_loads) == (1, 5, 4)
    engine.use("a4")  # a4 from disk: a2 out of its slot, a1 out of host memory
    assert (stats.evictions, stats.host_evictions, stats.disk_loads) == (4, 1, 5)
    assert engine.manager.tier("a1") is Tier.DISK


def test_batch_needing_more_adapters_than_slots_fails_clearly(engine: Engine):
    engine.use("a2")
    engine.manager.prefetch(["a0", "a1"])
    with pytest.raises(AdapterSlotsExhausted, match=r"needs 3 adapters.*of 2 slots"):
        engine.manager.acquire(["a0", "a1", "a2"])
    assert engine.manager.pinned() == {}
    with pytest.raises(AdapterSlotsExhausted, match="host memory"):
        engine.manager.prefetch(["a3", "a4", "a5"])


def test_acquire_never_reads_disk(engine: Engine):
    with pytest.raises(AdapterNotReady, match="prefetch") as caught:
        engine.manager.acquire(["a0", "a1"])
    assert caught.value.adapter_ids == ["a0", "a1"]
    assert engine.manager.stats.disk_loads == 0
    engine.use("a0")
    # A prefetch in a worker thread while the resident adapter keeps being acquired.
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(engine.manager.prefetch, ["a1", "a2"])
        for _ in range(5):
            engine.use("a0")
        assert sorted(future.result()) == ["a1", "a2"]
    assert engine.manager.in_host() == ["a1", "a2"]


def test_outputs_identical_after_swapping_out_and_back(engine: Engine):
    input_ids = torch.randint(0, 100, (2, 7), generator=torch.Generator().manual_seed(0))
    engine.use("a0")
    before = engine.logits("a0", input_ids)
    engine.use("a1")
    other = engine.logits("a1", input_ids)
    assert not torch.allclose(before, other, atol=1e-3)  # the adapters differ
    engine.use("a2", "a3")  # a0 to host memory
    assert engine.manager.tier("a0") is Tier.HOST
    torch.testing.assert_close(engine.logits("a0", input_ids), before, atol=0, rtol=0)
    engine.use("a4", "a5")
    engine.use("a1", "a2")  # a0 back to disk
    assert engine.manager.tier("a0") is Tier.DISK
    engine.use("a0")
    torch.testing.assert_close(engine.logits("a0", input_ids), before, atol=0, rtol=0)


def test_unknown_adapter_is_refused(engine: Engine):
    for call in (engine.manager.acquire, engine.manager.prefetch, engine.manager.release):
        with pytest.raises(UnknownAdapter, match="nope"):
            call(["a0", "nope"])
    with pytest.raises(UnknownAdapter):
        engine.manager.tier("nope")
    with pytest.raises(AdapterError, match="cannot read"):
        engine.manager.register("empty", engine.manager.store)
