"""A tiny GPT-2-style base model with a trained tokenizer, built locally with no network.

The devnet and the tests need a real `from_pretrained` model but cannot download one, so this
trains a byte-level BPE tokenizer on a text shipped in the repository and initialises a two-layer
GPT-2 from a fixed seed. The same arguments always give the same weights and vocabulary.

    python -m serving.tiny_model OUT_DIR
"""

import argparse
from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

CORPUS = Path(__file__).parent / "data" / "tiny_corpus.txt"
END_OF_TEXT = "<|endoftext|>"
VOCAB_SIZE = 512
SEED = 0


def train_tokenizer(corpus: Path = CORPUS, vocab_size: int = VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """Train GPT-2's kind of tokenizer (byte-level BPE, one end-of-text token) on `corpus`."""
    bpe = ByteLevelBPETokenizer()
    bpe.train([str(corpus)], vocab_size=vocab_size, min_frequency=2, special_tokens=[END_OF_TEXT])
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
    )


def build_tiny_model(
    out_dir: Path, seed: int = SEED, layers: int = 2, width: int = 64, heads: int = 2
) -> Path:
    """Write a tokenizer and a randomly initialised GPT-2 (2 layers, 64 wide) to `out_dir`.

    The directory loads with `AutoTokenizer.from_pretrained` and
    `AutoModelForCausalLM.from_pretrained`, exactly as a downloaded model would. A larger shape
    (GPT-2 small is 12 layers, 768 wide, 12 heads) measures the engine where LoRA is a small
    share of each projection, as on real models, without a model hub.
    """
    tokenizer = train_tokenizer()
    end_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    config = GPT2Config(
        n_layer=layers,
        n_head=heads,
        n_embd=width,
        n_positions=256,
        vocab_size=len(tokenizer),
        bos_token_id=end_id,
        eos_token_id=end_id,
        pad_token_id=end_id,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    args = parser.parse_args()
    print(build_tiny_model(args.out_dir, layers=args.layers, width=args.width, heads=args.heads))


if __name__ == "__main__":
    main()
