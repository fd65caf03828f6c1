"""Token ids to client text: incremental detokenising and stop strings, without HTTP."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import PreTrainedTokenizerFast

from serving.api.text import IncrementalDetokenizer, StopBuffer, choice_text
from serving.engine.request import FinishReason, TokenEvent
from serving.tiny_model import train_tokenizer

MULTIBYTE = "naïve café: €5, 😀 and 日本語 in the ledger"


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer()


def test_multibyte_characters_are_released_whole(tokenizer):
    ids = tokenizer.encode(MULTIBYTE)
    assert len(ids) > len(MULTIBYTE.split())  # many characters span several byte tokens
    detokenizer = IncrementalDetokenizer(tokenizer, tokenizer.encode("The keeper"))
    deltas = [detokenizer.push(token) for token in ids]
    assert "".join(deltas) == MULTIBYTE
    assert all("\ufffd" not in delta for delta in deltas)
    assert "" in deltas  # some tokens held back until their character completed
    assert detokenizer.flush() == ""


def test_an_incomplete_character_at_the_end_is_flushed_as_replacement(tokenizer):
    ids = tokenizer.encode("ok 😀")
    detokenizer = IncrementalDetokenizer(tokenizer, [])
    released = "".join(detokenizer.push(token) for token in ids[:-1])
    assert released == "ok "
    assert detokenizer.flush().startswith("\ufffd")


def test_special_tokens_are_not_shown(tokenizer):
    detokenizer = IncrementalDetokenizer(tokenizer, [])
    text = [detokenizer.push(t) for t in tokenizer.encode(" ledger")]
    assert detokenizer.push(tokenizer.eos_token_id) == ""
    assert "".join(text) + detokenizer.flush() == " ledger"


def test_text_that_may_begin_a_stop_string_is_held_back():
    buffer = StopBuffer(["of records", "END"])
    assert buffer.push("keeper of r") == ("keeper ", False)  # "of r" may become "of records"
    assert buffer.push("iver") == ("of river", False)  # it did not
    assert buffer.push(" E") == (" ", False)
    assert buffer.push("ND of") == ("", True)
    buffer = StopBuffer(["of records"])
    assert buffer.push("the keeper o") == ("the keeper ", False)
    assert buffer.push("f rec") == ("", False)
    assert buffer.push("ords, then more") == ("", True)


def test_held_back_text_is_released_when_the_text_ends():
    buffer = StopBuffer(["desk.!"])
    assert buffer.push("on her desk.") == ("on her ", False)
    assert buffer.flush() == "desk."


def test_the_stop_string_completed_first_wins():
    assert StopBuffer(["cd", "b"]).push("abcd") == ("a", True)
    assert StopBuffer([" aa", "a"]).push(" aa") == (" ", True)  # generation stops at "a"
    assert StopBuffer(["a", " a"]).push(" a") == ("", True)  # both end there: " a" starts first


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="abc ", max_size=30),
    stops=st.lists(st.text(alphabet="abc ", min_size=1, max_size=4), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 30), max_size=10),
)
def test_released_text_is_always_a_prefix_of_the_answer(text, stops, cuts):
    """Whatever the pieces, what is released is final: the text before the stop completed
    first (of two completed at once, the one starting first)."""
    found = [(i + len(stop), i) for stop in stops if (i := text.find(stop)) >= 0]
    answer = text[: min(found)[1]] if found else text
    buffer = StopBuffer(stops)
    released, stopped = "", False
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    for start, end in itertools.pairwise(bounds):
        piece, stopped = buffer.push(text[start:end])
        released += piece
        assert answer.startswith(released)
        if stopped:
            break
    if not stopped:
        released += buffer.flush()
    assert released == answer
    assert stopped == bool(found)


def test_choice_text_counts_tokens_and_reports_why_it_ended(tokenizer):
    ids = tokenizer.encode(" the keeper of records wrote")
    choice = choice_text(0, tokenizer, [], ["of rec"])
    for token in ids[:-1]:
        choice.feed(TokenEvent(token))
        if choice.finish_reason:
            break
    assert (choice.text, choice.finish_reason, choice.stopped_early) == (
        " the keeper ",
        "stop",
        True,
    )
    assert choice.tokens < len(ids) - 1

    choice = choice_text(1, tokenizer, [], [])
    for token in ids[:-1]:
        choice.feed(TokenEvent(token))
    choice.feed(TokenEvent(ids[-1], FinishReason.LENGTH))
    assert (choice.text, choice.finish_reason, choice.tokens) == (
        " the keeper of records wrote",
        "length",
        len(ids),
    )
