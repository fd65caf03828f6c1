"""Heterogeneous LoRA batches: our gathered kernel and layers against plain PEFT, row by row."""

from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving.lora.layers import BatchMapping, LoRALayer, batch_mapping, wrap_lora_layers
from serving.lora.punica import NO_ADAPTER, add_gathered_lora, add_lora_one_slot, gather_rows
from serving.lora.slots import AdapterError, AdapterSlots
from serving.tiny_model import build_tiny_model
from tests.helpers.adapters import save_random_adapters

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TARGETS = ["c_attn", "c_proj", "c_fc"]
MAX_RANK = 8
# (name, LoraConfig keyword arguments): different ranks, alphas, rsLoRA and a partial target set.
ADAPTERS = [
    ("r2", {"r": 2, "lora_alpha": 4, "target_modules": TARGETS}),
    ("r4", {"r": 4, "lora_alpha": 16, "target_modules": TARGETS, "use_rslora": True}),
    ("r8", {"r": 8, "lora_alpha": 8, "target_modules": TARGETS}),
    ("r8_attn", {"r": 8, "lora_alpha": 32, "target_modules": ["c_attn"]}),
]


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def adapter_dirs(base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_random_adapters(base_dir, tmp_path_factory.mktemp("adapters"), dict(ADAPTERS))


def add_lora(y, x, layer, row_slots):
    """Gather each row's weights from the layer's slots and add its delta: the engine's path."""
    return add_gathered_lora(y, x, *gather_rows(layer.lora_a, layer.lora_b, row_slots))


def naive_lora(x, adapters, row_slots):
    """The semantics of `add_gathered_lora` from the adapters as PEFT stores them, row by row."""
    y = torch.zeros(*x.shape[:2], adapters[0][1].shape[0], dtype=x.dtype, device=x.device)
    for row, slot in enumerate(row_slots):
        if slot != NO_ADAPTER:
            lora_a, lora_b, scale = adapters[slot]
            y[row] = scale * (x[row] @ lora_a.t() @ lora_b.t())
    return y


@pytest.mark.parametrize(
    ("rows", "tokens", "in_features", "out_features", "ranks"),
    [
        (1, 1, 8, 8, [4]),
        (7, 1, 16, 48, [2, 4, 8]),
        (4, 9, 64, 192, [1, 8, 3, 8]),
        (5, 3, 64, 16, [16, 2]),
    ],
)
def test_gathered_lora_matches_per_row_loop(rows, tokens, in_features, out_features, ranks):
    """Different ranks in one batch, rows without adapter, through the layer's own storage."""
    generator = torch.Generator().manual_seed(rows * 100 + tokens)
    base_layer = torch.nn.Linear(in_features, out_features).to(DEVICE)
    layer = LoRALayer(base_layer, BatchMapping(), max_slots=len(ranks), max_rank=max(ranks))
    adapters = []
    for slot, rank in enumerate(ranks):  # stored transposed, scaled and zero-padded
        lora_a = torch.randn(rank, in_features, generator=generator).to(DEVICE)
        lora_b = torch.randn(out_features, rank, generator=generator).to(DEVICE)
        scale = float(torch.rand((), generator=generator)) + 0.5
        layer.set_slot(slot, lora_a, lora_b, scale)
        adapters.append((lora_a, lora_b, scale))
    row_slots = torch.randint(NO_ADAPTER, len(ranks), (rows,), generator=generator).tolist()
    x = torch.randn(rows, tokens, in_features, generator=generator).to(DEVICE)
    base = torch.randn(rows, tokens, out_features, generator=generator).to(DEVICE)
    expected = base + naive_lora(x, adapters, row_slots)

    zero = len(ranks)
    mapped = torch.tensor([zero if s == NO_ADAPTER else s for s in row_slots], device=DEVICE)
    y = add_lora(base.clone(), x, layer, mapped)
    torch.testing.assert_close(y, expected, atol=1e-4, rtol=1e-4)
    if len(set(row_slots)) == 1 and row_slots[0] != NO_ADAPTER:
        one = add_lora_one_slot(base.clone(), x, layer.lora_a, layer.lora_b, row_slots[0])
        torch.testing.assert_close(one, expected, atol=1e-4, rtol=1e-4)


def test_one_slot_path_equals_gathered_path():
    layer = LoRALayer(torch.nn.Linear(8, 6), BatchMapping(), max_slots=2, max_rank=4)
    layer.set_slot(1, torch.randn(3, 8), torch.randn(6, 3), 0.7)
    x, base = torch.randn(4, 5, 8), torch.randn(4, 5, 6)
    slots = torch.ones(4, dtype=torch.long)
    gathered = add_lora(base.clone(), x, layer, slots)
    one = add_lora_one_slot(base.clone(), x, layer.lora_a, layer.lora_b, 1)
    torch.testing.assert_close(one, gathered)


def test_rows_without_adapter_are_untouched():
    layer = LoRALayer(torch.nn.Linear(8, 8), BatchMapping(), max_slots=2, max_rank=4)
    layer.set_slot(0, torch.randn(4, 8), torch.randn(8, 4), 1.0)
    base = torch.randn(3, 2, 8)
    zero_slot = torch.full((3,), 2)
    y = add_lora(base.clone(), torch.randn(3, 2, 8), layer, zero_slot)
    assert torch.equal(y, base)


def test_tiny_model_loads_with_from_pretrained(base_dir: Path, tmp_path: Path):
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    ids = tokenizer("The keeper of records", return_tensors="pt").input_ids
    assert tokenizer.decode(ids[0]) == "The keeper of records"
    assert tokenizer.eos_token_id == model.config.eos_token_id
    assert model(ids).logits.shape == (1, ids.shape[1], len(tokenizer))
    # Deterministic: a second build gives the same weights and vocabulary.
    again = build_tiny_model(tmp_path / "again")
    assert (again / "tokenizer.json").read_text() == (base_dir / "tokenizer.json").read_text()
    for ours, theirs in zip(
        AutoModelForCausalLM.from_pretrained(again).parameters(), model.parameters(), strict=True
    ):
        assert torch.equal(ours, theirs)


def load_wrapped(
    base_dir: Path, max_slots: int
) -> tuple[torch.nn.Module, BatchMapping, AdapterSlots]:
    model = AutoModelForCausalLM.from_pretrained(base_dir).to(DEVICE).eval()
    mapping = BatchMapping()
    layers = wrap_lora_layers(model, TARGETS, max_slots, MAX_RANK, mapping)
    return model, mapping, AdapterSlots(layers)


def test_heterogeneous_batch_matches_peft_per_row(base_dir: Path, adapter_dirs: dict[str, Path]):
    names = list(adapter_dirs)
    model, mapping, slots = load_wrapped(base_dir, max_slots=len(names))
    for slot, name in enumerate(names):
        slots.load(slot, adapter_dirs[name])
    # Rows: every adapter, no adapter, and one adapter used twice; order shuffled on purpose.
    row_names: list[str | None] = ["r8", None, "r2", "r8_attn", "r4", "r2"]
    row_slots = [NO_ADAPTER if n is None else names.index(n) for n in row_names]
    input_ids = torch.randint(
        0, model.config.vocab_size, (len(row_names), 12), generator=torch.Generator().manual_seed(0)
    )

    with torch.no_grad(), batch_mapping(mapping, row_slots, len(names), torch.device(DEVICE)):
        logits = model(input_ids.to(DEVICE)).logits

    reference = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir),
        adapter_dirs[names[0]],
        adapter_name=names[0],
    )
    for name in names[1:]:
        reference.load_adapter(adapter_dirs[name], adapter_name=name)
    reference = reference.to(DEVICE).eval()
    for row, name in enumerate(row_names):
        with torch.no_grad():
            if name is None:
                with reference.disable_adapter():
                    expected = reference(input_ids[row : row + 1].to(DEVICE)).logits
            else:
                reference.set_adapter(name)
                expected = reference(input_ids[row : row + 1].to(DEVICE)).logits
        torch.testing.assert_close(logits[row : row + 1], expected, atol=1e-5, rtol=1e-5)
    # The adapters are not no-ops: they change the output away from the base.
    with torch.no_grad(), reference.disable_adapter():
        base_logits = reference(input_ids.to(DEVICE)).logits
    assert not torch.allclose(logits[0], base_logits[0], atol=1e-3)


def test_cleared_slot_and_no_mapping_give_base_output(
    base_dir: Path, adapter_dirs: dict[str, Path]
):
    model, mapping, slots = load_wrapped(base_dir, max_slots=2)
    base = AutoModelForCausalLM.from_pretrained(base_dir).to(DEVICE).eval()
    input_ids = torch.arange(10).reshape(2, 5).to(DEVICE)
    slots.load(1, adapter_dirs["r4"])
    slots.clear(1)
    with torch.no_grad():
        expected = base(input_ids).logits
        unmapped = model(input_ids).logits
        with batch_mapping(mapping, [1, 1], 2, torch.device(DEVICE)):
            cleared = model(input_ids).logits
    torch.testing.assert_close(unmapped, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(cleared, expected, atol=1e-6, rtol=0)


def test_adapter_that_does_not_fit_is_refused(base_dir: Path, adapter_dirs: dict[str, Path]):
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    mapping = BatchMapping()
    small = AdapterSlots(wrap_lora_layers(model, TARGETS, 2, 4, mapping))
    with pytest.raises(AdapterError, match="exceeds the maximum rank"):
        small.load(0, adapter_dirs["r8"])
    attn_only = AdapterSlots(
        wrap_lora_layers(AutoModelForCausalLM.from_pretrained(base_dir), ["c_attn"], 2, 8, mapping)
    )
    with pytest.raises(AdapterError, match="not a wrapped layer"):
        attn_only.load(0, adapter_dirs["r2"])
    with pytest.raises(AdapterError, match="cannot read"):
        attn_only.load(0, base_dir)


def test_gathered_weights_are_reused_only_while_rows_and_slots_stay(monkeypatch):
    """Decoding steps with the same rows gather once; a slot rewritten under the same rows, or
    other rows, gather again, so the output always follows the slots' current weights."""
    import serving.lora.layers as layers_module

    calls = []
    real_gather = layers_module.gather_rows

    def counting_gather(*args):
        calls.append(1)
        return real_gather(*args)

    monkeypatch.setattr(layers_module, "gather_rows", counting_gather)
    mapping = BatchMapping()
    layer = LoRALayer(torch.nn.Linear(8, 6), mapping, max_slots=2, max_rank=4)
    mapping.gathered_bytes_per_row = layer.gathered_bytes_per_row
    layer.set_slot(0, torch.randn(4, 8), torch.randn(6, 4), 1.0)
    layer.set_slot(1, torch.randn(2, 8), torch.randn(6, 2), 0.5)
    x = torch.randn(3, 1, 8)
    device = torch.device("cpu")

    def step(row_slots):
        with torch.no_grad(), batch_mapping(mapping, row_slots, 2, device):
            out = layer(x)
        mapped = torch.tensor([2 if s == NO_ADAPTER else s for s in row_slots])
        expected = add_lora(layer.base(x), x, layer, mapped)
        torch.testing.assert_close(out, expected)

    for _ in range(3):
        step([0, 1, NO_ADAPTER])
    assert len(calls) == 1
    layer.set_slot(1, torch.randn(3, 8), torch.randn(6, 3), 2.0)
    step([0, 1, NO_ADAPTER])
    assert len(calls) == 2
    step([1, 0, NO_ADAPTER])
    step([0, 1, NO_ADAPTER])
    assert len(calls) == 4
    layer.clear_slot(0)
    step([0, 1, NO_ADAPTER])
    assert len(calls) == 5


def test_gathered_weights_over_the_memory_cap_are_not_kept(monkeypatch):
    import serving.lora.layers as layers_module

    mapping = BatchMapping()
    layer = LoRALayer(torch.nn.Linear(8, 6), mapping, max_slots=2, max_rank=4)
    layer.set_slot(0, torch.randn(4, 8), torch.randn(6, 4), 1.0)
    mapping.gathered_bytes_per_row = layers_module.GATHER_CACHE_BYTES  # two rows are too many
    with torch.no_grad(), batch_mapping(mapping, [0, 1], 2, torch.device("cpu")):
        layer(torch.randn(2, 1, 8))
    assert layer._gathered is None
    with torch.no_grad(), batch_mapping(mapping, [0], 2, torch.device("cpu")):
        layer(torch.randn(1, 1, 8))  # one row uses one slot: the no-gather path
    assert layer._gathered is None


def test_wrapping_sums_every_layers_gathered_bytes(base_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    mapping = BatchMapping()
    layers = wrap_lora_layers(model, TARGETS, 2, MAX_RANK, mapping)
    expected = sum(
        (layer.in_features + layer.out_features) * MAX_RANK * 4 for layer in layers.values()
    )
    assert mapping.gathered_bytes_per_row == expected > 0
