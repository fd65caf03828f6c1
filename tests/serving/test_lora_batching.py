"""Heterogeneous LoRA batches: our gathered kernel and layers against plain PEFT, row by row."""

from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving.lora.layers import BatchMapping, batch_mapping, rows_to_tokens, wrap_lora_layers
from serving.lora.punica import NO_ADAPTER, add_lora
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


def naive_lora(x, lora_a, lora_b, scaling, token_slots):
    """The "Semantics:" loop of `add_lora`, one token at a time."""
    y = torch.zeros(x.shape[0], lora_b.shape[1], dtype=x.dtype, device=x.device)
    for t, slot in enumerate(token_slots.tolist()):
        if slot != NO_ADAPTER:
            y[t] = scaling[slot] * (lora_b[slot] @ (lora_a[slot] @ x[t]))
    return y


@pytest.mark.parametrize(
    ("tokens", "in_features", "out_features", "slots", "ranks"),
    [
        (1, 8, 8, 1, [4]),
        (7, 16, 48, 3, [2, 4, 8]),
        (32, 64, 192, 4, [1, 8, 3, 8]),
        (5, 64, 16, 2, [16, 2]),
    ],
)
def test_add_lora_matches_per_token_loop(tokens, in_features, out_features, slots, ranks):
    generator = torch.Generator().manual_seed(tokens)
    max_rank = max(ranks)
    lora_a = torch.zeros(slots, max_rank, in_features)
    lora_b = torch.zeros(slots, out_features, max_rank)
    for slot, rank in enumerate(ranks):  # lower ranks zero-padded, as the layers store them
        lora_a[slot, :rank] = torch.randn(rank, in_features, generator=generator)
        lora_b[slot, :, :rank] = torch.randn(out_features, rank, generator=generator)
    scaling = torch.rand(slots, generator=generator) + 0.5
    token_slots = torch.randint(NO_ADAPTER, slots, (tokens,), generator=generator)
    x = torch.randn(tokens, in_features, generator=generator)
    base = torch.randn(tokens, out_features, generator=generator)
    args = [t.to(DEVICE) for t in (x, lora_a, lora_b, scaling, token_slots)]

    expected = base.to(DEVICE) + naive_lora(*args)

    y = add_lora(base.to(DEVICE), *args)  # in place, which is why `expected` comes first

    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)


def test_add_lora_leaves_rows_without_adapter_untouched():
    lora_a = torch.randn(2, 4, 8)
    lora_b = torch.randn(2, 8, 4)
    base = torch.randn(3, 8)
    y = add_lora(
        base.clone(), torch.randn(3, 8), lora_a, lora_b, torch.ones(2), torch.tensor([-1, -1, -1])
    )
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
    row_slots = torch.tensor([NO_ADAPTER if n is None else names.index(n) for n in row_names])
    input_ids = torch.randint(
        0, model.config.vocab_size, (len(row_names), 12), generator=torch.Generator().manual_seed(0)
    )

    with torch.no_grad(), batch_mapping(mapping, rows_to_tokens(row_slots, 12).to(DEVICE)):
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
        with batch_mapping(mapping, rows_to_tokens(torch.tensor([1, 1]), 5).to(DEVICE)):
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
