"""JSON from outside: deep nesting refused before parsing, lone surrogates and NaN refused."""

from __future__ import annotations

import pytest

from bot.json_input import MAX_JSON_DEPTH, JsonInputError, check_nesting, parse_json_input


@pytest.mark.parametrize("data", [b'{"a": [1, {"b": "c"}]}', '{"a": [1, {"b": "c"}]}'])
def test_plain_json_parses(data: bytes | str) -> None:
    assert parse_json_input(data) == {"a": [1, {"b": "c"}]}


def test_a_surrogate_pair_is_text_and_a_lone_surrogate_is_refused() -> None:
    assert parse_json_input(b'"\\ud83d\\ude00"') == "😀"
    for broken in (b'"\\ud800"', b'{"\\udfff": 1}', b'["ok", "x\\ud800y"]', b'"\xed\xa0\x80"'):
        with pytest.raises(JsonInputError, match="lone surrogate") as refused:
            parse_json_input(broken)
        assert not refused.value.syntax


@pytest.mark.parametrize("data", [b"NaN", b"[Infinity]", b'{"x": -Infinity}', b"[1e400]"])
def test_nan_and_infinity_are_refused(data: bytes) -> None:
    with pytest.raises(JsonInputError, match="NaN and Infinity"):
        parse_json_input(data)


@pytest.mark.parametrize("data", [b"", b"{", b"not json", b"\xff\xfe", b'{"a": 1} trailing'])
def test_what_is_not_json_says_so(data: bytes) -> None:
    with pytest.raises(JsonInputError) as refused:
        parse_json_input(data)
    assert refused.value.syntax


def test_nesting_is_counted_before_parsing_and_brackets_in_strings_do_not_count() -> None:
    limit = MAX_JSON_DEPTH
    assert parse_json_input("[" * limit + "]" * limit) is not None
    for deep in ("[" * (limit + 1) + "]" * (limit + 1), '{"a": ' * 5000 + "1" + "}" * 5000, "[" * 100_000):
        with pytest.raises(JsonInputError, match=f"deeper than {limit} levels"):
            parse_json_input(deep)
    in_strings = '["' + "[{" * 5000 + '", "\\"[[[[", "\\\\", ' + '"{{{{"]'
    check_nesting(in_strings)
    assert parse_json_input(in_strings)[0] == "[{" * 5000


def test_integers_beyond_64_bits_arrive_as_numbers() -> None:
    assert parse_json_input(b"18446744073709551615") == 18446744073709551615
    assert parse_json_input(b"1" + b"0" * 30) == pytest.approx(1e30)
