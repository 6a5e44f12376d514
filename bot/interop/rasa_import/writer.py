"""Write the converted project as botdesk files, then load it back the way botdesk will."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.dialogue.test_stories import load_test_stories
from bot.errors import DataError, SourceError
from bot.interop.rasa_export import RASA_FORMAT, _dump
from bot.interop.rasa_import.config import CONFIG_HEADER, config_document, fallback_text
from bot.interop.rasa_import.state import DEFAULT_RESPONSE, Conversion
from bot.project import Project

# Texts botdesk's own dialogue says (handing off, forms); added when the domain lacks them.
SYSTEM_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "utter_handoff_queued": "I'm passing your question to an operator: a person will join this "
        "chat as soon as one is free.",
        "utter_after_hours": "Our operators are off right now; they will answer {opening}.",
        "utter_offer_declined": "Sure! If anything else comes up, just write.",
        "utter_form_gave_up": "Let's leave it for now; write again whenever you like.",
    },
    "ru": {
        "utter_handoff_queued": "Передаю ваш вопрос оператору: человек подключится к чату, "
        "как только освободится.",
        "utter_after_hours": "Операторы сейчас не работают; они ответят {opening}.",
        "utter_offer_declined": "Хорошо! Если появятся вопросы, пишите.",
        "utter_form_gave_up": "Давайте пока оставим это; напишите, когда будет удобно.",
    },
}
DOMAIN_HEADER = """\
# The domain's intents without examples (reachable by /intent payloads), custom actions
# (run on the action server of endpoints.yml), slots and forms.
"""
ENDPOINTS_HEADER = """\
# The Rasa project's action server, read as Rasa reads it (${VARIABLES} from the environment).
"""
SYSTEM_HEADER = """\
# Texts botdesk's dialogue engine says itself (hand-off, working hours, forms);
# the Rasa project had none of these responses.
"""


def write_project(conv: Conversion, target: Path) -> list[Path]:
    """Write every file of the botdesk project and check that it loads; returns the files."""
    files = []
    for relative, document, header in documents(conv):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + _dump(document), encoding="utf-8")
        files.append(path)
    _check(target, [f for f in files if f.parent.name == "tests"])
    return files


def documents(conv: Conversion) -> Iterator[tuple[str, Any, str]]:
    """(relative path, YAML data, header comment) of every file of the botdesk project."""
    language = conv.settings.language
    fallback = fallback_text(conv)
    yield "config.yml", config_document(conv, fallback), CONFIG_HEADER
    for stem, items in conv.nlu_files.items():
        yield f"intents/{stem}.yml", {"version": RASA_FORMAT, "nlu": items}, ""
    responses = {k: v for k, v in conv.responses.items() if k != DEFAULT_RESPONSE or conv.uses_default}
    entities = sorted(set(conv.entities))
    yield (
        "intents/responses.yml",
        {"version": RASA_FORMAT, "entities": entities, "responses": responses},
        "",
    )
    system = {
        name: [{"text": text}] for name, text in SYSTEM_TEXTS[language].items() if name not in conv.responses
    }
    if system:
        yield "intents/botdesk.yml", {"version": RASA_FORMAT, "responses": system}, SYSTEM_HEADER
    if conv.slots or conv.forms or conv.declared_intents or conv.custom_actions:
        slots_doc: dict[str, Any] = {"version": RASA_FORMAT}
        if conv.declared_intents:
            slots_doc["intents"] = conv.declared_intents
        if conv.custom_actions:
            slots_doc["actions"] = sorted(conv.custom_actions)
        if conv.slots:
            slots_doc["slots"] = conv.slots
        if conv.forms:
            slots_doc["forms"] = conv.forms
        yield "stories/slots.yml", slots_doc, DOMAIN_HEADER
    if conv.trigger_rules:
        yield "stories/triggers.yml", {"version": RASA_FORMAT, "rules": conv.trigger_rules}, ""
    if conv.endpoint is not None:
        yield "endpoints.yml", {"action_endpoint": conv.endpoint}, ENDPOINTS_HEADER
    for stem, flows in conv.flow_files.items():
        doc: dict[str, Any] = {"version": RASA_FORMAT}
        if flows.rules:
            doc["rules"] = flows.rules
        if flows.stories:
            doc["stories"] = flows.stories
        yield f"stories/{stem}.yml", doc, ""
    for stem, stories in conv.test_files.items():
        yield f"tests/{stem}.yml", {"stories": stories}, ""


def _check(target: Path, tests: list[Path]) -> None:
    """Load the written project the way botdesk will; a failure here is an import bug."""
    try:
        project = Project.open(target)
        _ = project.config, project.data, project.dialogue
        load_test_stories(tests)
    except SourceError as exc:
        raise DataError(f"the imported project does not load ({exc}); please report this") from None
