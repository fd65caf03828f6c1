"""Contribution formats: every rule of `serving.factory.data.formats`, good rows and bad."""

import json

import pytest

from serving.factory.data.formats import (
    DatasetError,
    Format,
    Message,
    parse_contribution,
)


def jsonl(*rows: object) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def problems(data: bytes, declared: Format | None = None) -> list[tuple[int | None, str]]:
    with pytest.raises(DatasetError) as caught:
        parse_contribution(7, data, declared)
    assert all(p.contribution_id == 7 for p in caught.value.problems)
    return [(p.line, p.reason) for p in caught.value.problems]


def test_text_is_split_into_blank_line_paragraphs() -> None:
    data = b"The ledger\r\nremembers.\n\n \n\t\nEvery contribution\ncounts.\n"
    fmt, examples = parse_contribution(3, data)
    assert fmt is Format.TEXT
    assert [(e.line, e.index, e.prompt, e.completion) for e in examples] == [
        (1, 0, (), "The ledger\nremembers."),
        (6, 1, (), "Every contribution\ncounts."),
    ]
    assert {e.contribution_id for e in examples} == {3}


def test_long_paragraphs_are_cut_every_max_words_words() -> None:
    data = b"one two three\nfour  five\n\nsix"
    _, examples = parse_contribution(1, data, max_words=2)
    assert [(e.line, e.completion) for e in examples] == [
        (1, "one two"),
        (1, "three\nfour"),
        (2, "five"),
        (4, "six"),
    ]
    assert [e.index for e in examples] == [0, 1, 2, 3]


def test_text_that_is_not_utf8_or_empty_is_refused() -> None:
    assert problems(b"fine\nstill fine\nbad \xff byte\n") == [(3, "not UTF-8 (byte 20)")]
    assert problems(b"\n  \n") == [(None, "no text")]


def test_alpaca_rows_keep_prompt_and_completion_apart() -> None:
    data = jsonl(
        {"instruction": "Translate to French", "input": "ledger", "output": "registre"},
        "",
        {"instruction": "Name a prime", "output": "7", "source": "ignored"},
    )
    fmt, examples = parse_contribution(2, data)
    assert fmt is Format.ALPACA
    assert [(e.line, e.prompt, e.completion) for e in examples] == [
        (1, (Message("user", "Translate to French\n\nledger"),), "registre"),
        (3, (Message("user", "Name a prime"),), "7"),
    ]


def test_every_bad_alpaca_row_is_listed_with_its_line() -> None:
    data = jsonl(
        {"instruction": "ok", "output": "fine"},
        {"instruction": "no output"},
        "{broken",
        {"instruction": "", "output": "x"},
        {"instruction": "x", "input": 3, "output": "y"},
        [1, 2],
        {"messages": [{"role": "assistant", "content": "wrong kind"}]},
    )
    assert problems(data) == [
        (2, "missing 'output'"),
        (
            3,
            "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1))",
        ),
        (4, "'instruction' is empty"),
        (5, "'input' must be a string"),
        (6, "not a JSON object"),
        (7, "missing 'instruction'"),
    ]


def test_chat_rows_train_on_the_last_assistant_message() -> None:
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
    ]
    data = jsonl({"messages": conversation}, {"messages": conversation[1:3]})
    fmt, examples = parse_contribution(4, data)
    assert fmt is Format.CHAT
    first, second = examples
    assert first.prompt == tuple(Message(m["role"], m["content"]) for m in conversation[:4])
    assert first.completion == "6"
    assert (second.line, second.prompt, second.completion) == (
        2,
        (Message("user", "2+2?"),),
        "4",
    )


def test_every_bad_chat_row_is_listed_with_its_line() -> None:
    user = {"role": "user", "content": "hi"}
    data = jsonl(
        {"messages": [user, {"role": "assistant", "content": "hello"}]},
        {"messages": [user]},
        {"messages": [user, {"role": "assistant", "content": "a"}, user]},
        {"messages": []},
        {"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [user, {"role": "assistant", "content": "  "}]},
        {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "y"}]},
        {"instruction": "x", "output": "y"},
    )
    assert problems(data) == [
        (2, "no assistant message"),
        (3, "the last message must be the assistant's"),
        (4, "'messages' must be a non-empty list"),
        (5, "messages[0].role must be one of assistant, system, user"),
        (6, "messages[1] is an empty assistant message"),
        (7, "messages[0].content must be a string"),
        (8, "'messages' must be a non-empty list"),
    ]


def test_detection_and_declared_formats() -> None:
    unknown = jsonl({"prompt": "x", "completion": "y"})
    assert problems(unknown) == [
        (1, "a JSON object with neither 'messages' (chat) nor 'instruction' (alpaca)")
    ]
    # Declared text: JSON lines are just text, one paragraph.
    fmt, examples = parse_contribution(1, unknown, Format.TEXT)
    assert (fmt, [e.completion for e in examples]) == (Format.TEXT, [unknown.decode().strip()])
    # Declared alpaca on a text file: every line is a bad row.
    assert problems(b"just\nprose\n", Format.ALPACA) == [
        (1, "not JSON (Expecting value: line 1 column 1 (char 0))"),
        (2, "not JSON (Expecting value: line 1 column 1 (char 0))"),
    ]
    # Text that happens to start with a JSON scalar or array stays text.
    assert parse_contribution(1, b"[1, 2]\nlists")[0] is Format.TEXT
    assert problems(b"", Format.CHAT) == [(None, "no rows")]


def test_a_json_value_holding_u2028_stays_one_row() -> None:
    data = jsonl({"instruction": "split\u2028here?", "output": "no"}).replace(
        b"\\u2028", "\u2028".encode()
    )
    _, [example] = parse_contribution(1, data)
    assert example.prompt[0].content == "split\u2028here?"


def test_the_error_message_names_the_contribution_and_lines() -> None:
    with pytest.raises(DatasetError, match=r"contribution 9: line 2: missing 'output'"):
        parse_contribution(9, jsonl({"instruction": "a", "output": "b"}, {"instruction": "c"}))
