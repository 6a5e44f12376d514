"""The panel in the operator's language: which language, the texts for pages, names for ids.

An operator reads the panel in their own language (``operators.language``, set on the
settings page), by default the bot's (``language`` in config.yml); the login page, before
anyone is known, is in the bot's language. Pages get the translation functions and the
catalog for their scripts (``page_texts``); API routes say their errors with ``texts_for``.
Intent titles come from the project's intent files (``title:``), re-read when a file
changes (an editor's new intent is named at once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from bot.errors import BotdeskError
from bot.i18n.catalog import Translator, language_or_default, translator
from bot.i18n.names import Names, titles_of
from bot.nlu.data import intent_files, load_training_data
from bot.server.lifespan import ServerState
from bot.settings import BotdeskConfig
from bot.store import Operator

log = logging.getLogger("botdesk.panel")


def operator_language(operator: Operator | None, config: BotdeskConfig) -> str:
    """The operator's own choice, else the bot's language (else English)."""
    return language_or_default(operator.language if operator is not None else None, config.language)


def texts_for(operator: Operator | None, state: ServerState) -> Translator:
    """The translator of ``operator``'s language (the bot's when nobody is logged in)."""
    return translator(operator_language(operator, state.config))


@dataclass
class IntentTitles:
    """The intents' titles from ``intents/*.yml``, read again when one of the files changes."""

    directory: Path
    _signature: tuple[tuple[str, int, int], ...] | None = None
    titles: dict[str, str] = field(default_factory=dict)
    intents: list[str] = field(default_factory=list)

    def current(self) -> IntentTitles:
        files = intent_files(self.directory) if self.directory.is_dir() else []
        signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if signature != self._signature:
            try:
                data = load_training_data(files)
            except BotdeskError as exc:  # a file broken by hand: keep the names we had
                log.warning("intent titles not re-read: %s", exc)
            else:
                self.titles, self.intents = titles_of(data), list(data.intents)
            self._signature = signature
        return self


def intent_titles(request: Request) -> IntentTitles:
    """The running project's intent titles (kept on the app)."""
    found: IntentTitles | None = getattr(request.app.state, "intent_titles", None)
    if found is None:
        found = request.app.state.intent_titles = IntentTitles(request.app.state.options.project.intents_dir)
    return found.current()


def names_for(request: Request, state: ServerState, t: Translator) -> Names:
    """Display names in ``t``'s language: reasons, channels, roles, the bot's intents and departments."""
    return Names(
        t,
        intent_titles(request).titles,
        {d.key: d.name for d in state.config.departments},
    )


def page_texts(
    request: Request, state: ServerState, operator: Operator | None, language: str | None = None
) -> dict[str, Any]:
    """What every panel page's template gets: the language, ``_`` and friends, names, the scripts' catalog.

    In ``operator``'s language, or ``language`` when given.
    """
    t = translator(language) if language else texts_for(operator, state)
    names = names_for(request, state, t)
    return {
        "language": t.language,
        "_": t.gettext,
        "ngettext": t.ngettext,
        "pgettext": t.pgettext,
        "gendered": t.gendered,
        "names": names,
        "i18n": {
            **t.for_javascript(),
            "names": names.for_javascript(intent_titles(request).intents),
        },
    }
