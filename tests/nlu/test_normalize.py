"""Messenger reality at the token level: layout, transliteration, stretched letters."""

from __future__ import annotations

from bot.nlu.normalize import fix_keyboard_layout, squeeze, transliterate_to_russian


def test_wrong_layout_is_rewritten_keeping_offsets() -> None:
    text = "ghbdtn, crjkmrj cnjbn ljcnfdrf"
    fixed = fix_keyboard_layout(text)
    assert fixed == "привет, сколько стоит доставка"
    assert len(fixed) == len(text)


def test_layout_punctuation_inside_words() -> None:
    assert fix_keyboard_layout("cgfcb,j") == "спасибо"


def test_english_words_are_left_alone() -> None:
    for text in ("iphone 15 pro", "ok", "thanks a lot", "доставка DHL есть?"):
        assert fix_keyboard_layout(text) == text


def test_transliteration() -> None:
    assert transliterate_to_russian("dostavka") == "доставка"
    assert transliterate_to_russian("zhdu") == "жду"
    assert transliterate_to_russian("shchetka") == "щетка"


def test_squeeze() -> None:
    assert squeeze("Спасибоооо") == "спасибо"
    assert squeeze("ЁЖИК") == "ежик"
    assert squeeze("касса") == "касса"
