"""The message catalogs: every text the panel marks has a Russian translation with the same
placeholders, plurals take Russian's three forms, gendered sentences agree, and the build
compiles the catalogs (the .mo files are not in git)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot.i18n.catalog import LOCALE_DIR, Translator, translator
from bot.i18n.text import Text
from tests.helpers.projects import REPO

RU_PO = LOCALE_DIR / "ru" / "LC_MESSAGES" / "botdesk.po"
PLACEHOLDER = re.compile(r"\{(\w+)(?:![rs])?(?::[^}]*)?\}")
KEYWORDS: dict[str, Any] = {**DEFAULT_KEYWORDS, "Text": None, "t": None, "gendered": (2,)}


def marked_texts() -> set[tuple[str | None, str]]:
    """(context, message id) of every text marked in the code, the templates and the scripts."""
    with (REPO / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _, _, message, _, context in extract_from_dir(REPO, method_map, options_map, KEYWORDS):
        found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


@pytest.fixture(scope="module")
def russian() -> Any:
    with RU_PO.open("rb") as source:
        return read_po(source, locale="ru")


def test_every_marked_text_is_translated_into_russian(russian: Any) -> None:
    marked = marked_texts()
    assert len(marked) > 400  # the panel, the editor, the dashboard, the scripts, the API errors
    untranslated = []
    for context, message in sorted(marked, key=str):
        entry = russian.get(message, context=context)
        strings = entry.string if entry is not None else None
        if not strings or (isinstance(strings, tuple) and not all(strings)):
            untranslated.append((context, message))
    assert untranslated == [], "run `make i18n` and translate these in ru/botdesk.po"


def test_translations_keep_the_placeholders(russian: Any) -> None:
    for entry in russian:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in entry.string if isinstance(entry.string, tuple) else (entry.string,):
            assert set(PLACEHOLDER.findall(string)) - {"n"} <= wanted, (entry.id, string)
            assert wanted - {"n"} <= set(PLACEHOLDER.findall(string)), (entry.id, string)


def test_russian_plurals_have_three_forms() -> None:
    t = translator("ru")
    said = [t.ngettext("{n} handoff", "{n} handoffs", n) for n in (1, 2, 5, 11, 21, 22, 25)]
    assert said == [
        "1 передача",
        "2 передачи",
        "5 передач",
        "11 передач",
        "21 передача",
        "22 передачи",
        "25 передач",
    ]
    english = translator("en")
    assert [english.ngettext("{n} handoff", "{n} handoffs", n) for n in (1, 2)] == ["1 handoff", "2 handoffs"]


def test_sentences_about_a_person_agree_with_their_gender() -> None:
    t = translator("ru")
    text = "{name} has already taken this dialogue"
    assert t.gendered("female", text, name="Анна") == "Анна уже взяла этот диалог"
    assert t.gendered("male", text, name="Борис") == "Борис уже взял этот диалог"
    assert t.gendered(None, text, name="Саша") == "Этот диалог уже взят: Саша"


def test_the_scripts_get_plural_forms_by_cldr_category() -> None:
    catalog = Translator("ru").for_javascript()
    assert catalog["language"] == "ru"
    forms = catalog["messages"]["{n} handoff"]
    assert (
        forms["one"] == "{n} передача" and forms["few"] == "{n} передачи" and forms["many"] == "{n} передач"
    )
    assert (
        catalog["messages"]["female\x04{name} has already taken this dialogue"]
        == "{name} уже взяла этот диалог"
    )
    assert Translator("en").for_javascript()["messages"] == {}  # English: the message ids themselves


def test_a_marked_error_is_said_in_the_readers_language() -> None:
    error = Text("there is no ticket {id}", id=7)
    assert str(error) == "there is no ticket 7"  # logs, the CLI and str() users read English
    assert translator("ru").text(error) == "обращения 7 нет"
    assert translator("ru").text("not marked") == "not marked"
    assert Text.from_json(error.to_json()) == error


def test_an_unknown_language_falls_back_to_english() -> None:
    assert translator("de").language == "en" and translator(None).language == "en"


def test_the_build_compiles_the_catalogs(tmp_path: Path) -> None:
    """hatch_build.py writes each .mo from its .po (wheel and editable installs): the same messages."""
    sys.path.insert(0, str(REPO))
    try:
        from hatch_build import LOCALES, compile_catalogs
    finally:
        sys.path.remove(str(REPO))
    shutil.copytree(REPO / LOCALES, tmp_path / LOCALES, ignore=shutil.ignore_patterns("*.mo"))
    assert compile_catalogs(tmp_path) == ["bot/i18n/locale/ru/LC_MESSAGES/botdesk.mo"]
    with (tmp_path / LOCALES / "ru" / "LC_MESSAGES" / "botdesk.mo").open("rb") as compiled:
        catalog = read_mo(compiled)
    assert catalog.get("Take").string == "Взять"
    assert catalog.num_plurals == 3
