"""Message catalogs (gettext, through Babel) and a translator per language.

The panel's texts are written in English in the code, the templates and the JavaScript,
marked for translation (``_("...")``, ``ngettext`` for plurals, ``pgettext("female", ...)``
for words that agree with a person's gender) and translated in
``bot/i18n/locale/<language>/LC_MESSAGES/botdesk.po``. The ``.po`` files are the
sources (in git); the ``.mo`` files next to them are compiled when the package is built
or installed (``hatch_build.py``; ``make i18n`` extracts, updates and compiles by hand).
A ``.mo`` that is missing or older than its ``.po`` (the catalog was edited in a
checkout) is compiled in memory at first use, with a warning.

Placeholders are ``{name}``, the same in Python and in JavaScript. English is the source
language: an English operator reads the message ids themselves.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from bot.i18n.text import Text, fill

log = logging.getLogger("botdesk.i18n")

DOMAIN = "botdesk"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("ru", "en")
"""The languages the panel speaks; any other setting falls back to English."""
SOURCE_LANGUAGE = "en"
GENDERS = ("female", "male")
"""Grammatical genders a sentence about a person may agree with (``pgettext`` contexts)."""
CONTEXT_SEPARATOR = "\x04"  # gettext's: "context\x04msgid" keys


@dataclass(frozen=True)
class Catalogs:
    """One language's compiled catalog: gettext lookups for Python, the same messages for JavaScript."""

    language: str
    translations: gettext.NullTranslations
    catalog: Catalog | None = None
    plural_categories: tuple[str, ...] = field(default=("one", "other"))


def _compiled(po: Path) -> bytes:
    """The ``.mo`` bytes for ``po``: the file built at install time, else compiled now from the source."""
    mo = po.with_suffix(".mo")
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        return mo.read_bytes()
    log.warning(
        "%s is %s; compiled it in memory (run `make i18n` or reinstall botdesk to build it)",
        mo.name if mo.is_file() else mo,
        "older than its .po" if mo.is_file() else "missing",
    )
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def _plural_categories(language: str, translations: gettext.NullTranslations, forms: int) -> tuple[str, ...]:
    """CLDR's name (one, few, many, other) of each gettext plural form, in the form's order.

    The browser picks a form with ``Intl.PluralRules``, which answers in CLDR's names; the
    catalog numbers its forms by its ``Plural-Forms`` expression. The first number that
    selects a form tells that form's CLDR name.
    """
    choose = getattr(translations, "plural", None)
    rules = Locale.parse(language)
    names: list[str] = []
    for form in range(forms):
        sample = next((n for n in range(0, 200) if choose is not None and choose(n) == form), None)
        names.append(rules.plural_form(sample) if sample is not None else "other")
    return tuple(names)


@functools.cache
def catalogs(language: str) -> Catalogs:
    """The compiled catalog of ``language`` (English: the message ids as they are)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE_LANGUAGE or not po.is_file():
        return Catalogs(language, gettext.NullTranslations())
    data = _compiled(po)
    translations = gettext.GNUTranslations(io.BytesIO(data))
    catalog = read_mo(io.BytesIO(data))
    return Catalogs(
        language, translations, catalog, _plural_categories(language, translations, catalog.num_plurals)
    )


def language_or_default(language: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """``language`` when the panel speaks it, else ``default`` (itself checked), else English."""
    for candidate in (language, default):
        if candidate in LANGUAGES:
            return candidate
    return SOURCE_LANGUAGE


class Translator:
    """Texts in one language. Every method fills ``{name}`` placeholders from its keyword values."""

    def __init__(self, language: str) -> None:
        self.language = language_or_default(language)
        self._catalogs = catalogs(self.language)
        self._t = self._catalogs.translations

    def gettext(self, message: str, **values: Any) -> str:
        return fill(self._t.gettext(message), values)

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The form for ``n`` (Russian has three); ``{n}`` is filled in too."""
        return fill(self._t.ngettext(singular, plural, n), {"n": n, **values})

    def pgettext(self, context: str, message: str, **values: Any) -> str:
        found = self._t.pgettext(context, message)
        if found == message:  # not translated in this context: the plain translation
            found = self._t.gettext(message)
        return fill(found, values)

    def npgettext(self, context: str, singular: str, plural: str, n: int, **values: Any) -> str:
        found = self._t.npgettext(context, singular, plural, n)
        if found in (singular, plural):
            found = self._t.ngettext(singular, plural, n)
        return fill(found, {"n": n, **values})

    def gendered(self, gender: str | None, message: str, **values: Any) -> str:
        """A sentence about a person that agrees with their grammatical gender (neutral when unknown)."""
        if gender in GENDERS:
            return self.pgettext(gender, message, **values)
        return self.gettext(message, **values)

    def text(self, value: str) -> str:
        """A ``Text`` said in this language; any other string as it is (it was not marked)."""
        if isinstance(value, Text):
            return self.gettext(value.msgid, **value.values)
        return value

    @functools.cached_property
    def _javascript_messages(self) -> dict[str, Any]:
        return self._messages_for_javascript()

    def for_javascript(self) -> dict[str, Any]:
        """The catalog as the panel's JavaScript reads it (``static/panel/i18n.js``), built once."""
        return {"language": self.language, "messages": self._javascript_messages}

    def _messages_for_javascript(self) -> dict[str, Any]:
        """The catalog as the panel's JavaScript reads it (``static/panel/i18n.js``).

        ``messages`` maps a message id (``context\\x04id`` with a context) to its
        translation, or for a plural to ``{CLDR category: form}``.
        """
        messages: dict[str, Any] = {}
        catalog = self._catalogs.catalog
        if catalog is not None:
            categories = self._catalogs.plural_categories
            for message in catalog:
                if not message.id or not message.string:
                    continue
                key_id = message.id[0] if isinstance(message.id, tuple | list) else message.id
                key = f"{message.context}{CONTEXT_SEPARATOR}{key_id}" if message.context else key_id
                if isinstance(message.string, tuple | list):
                    if not all(message.string):
                        continue
                    forms = dict(zip(categories, message.string, strict=False))
                    forms.setdefault("other", message.string[-1])
                    messages[key] = forms
                else:
                    messages[key] = message.string
        return messages


@functools.cache
def translator(language: str | None) -> Translator:
    """The (shared, immutable) translator of ``language``; English for a language the panel lacks."""
    return Translator(language_or_default(language))


def translate_values(t: Translator, values: Mapping[str, str]) -> dict[str, str]:
    """Each value of ``values`` (message ids) in ``t``'s language."""
    return {key: t.gettext(value) for key, value in values.items()}
