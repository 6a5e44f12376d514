"""Display names: ids are never shown raw; intents by their title; operators' grammatical gender."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.i18n.catalog import translator
from bot.i18n.names import Names, humanise, intent_title, titles_of
from handoff.gender import gender_of_name


def test_reasons_channels_roles_and_states_have_names_in_each_language() -> None:
    ru, en = Names(translator("ru")), Names(translator("en"))
    assert (
        ru.reason("did_not_help") == "ответ бота не помог"
        and en.reason("did_not_help") == "bot's answer did not help"
    )
    assert ru.reason("human_request") == "попросил человека"
    assert ru.channel("web") == "Чат на сайте" and ru.channel("telegram") == "Telegram"
    assert ru.roles(["editor", "operator"], "operator") == "оператор + редактор"
    assert ru.ticket_state("claimed") == "взят"
    assert ru.reason("a_new_rule") == "A new rule"  # a plugin's rule nobody named: humanised, never raw


def test_intents_by_their_title_else_humanised() -> None:
    titles = titles_of(SimpleNamespace(titles={"delivery_terms": "Условия доставки"}))
    assert intent_title(titles, "delivery_terms") == "Условия доставки"
    assert intent_title(titles, "order_status") == "Order status"
    assert titles_of(SimpleNamespace()) == {}  # training data without titles
    names = Names(translator("ru"), titles, {"support": "Поддержка"})
    assert names.intent("nlu_fallback") == "не понято"
    assert names.department("support") == "Поддержка"
    shown = names.for_javascript(["delivery_terms", "greet"])
    assert shown["intents"] == {"delivery_terms": "Условия доставки", "greet": "Greet"}
    assert shown["reasons"]["complaint"] == "жалоба" and shown["departments"] == {"support": "Поддержка"}


def test_humanise() -> None:
    assert (
        humanise("human_request") == "Human request" and humanise("x-y_z") == "X y z" and humanise("") == ""
    )


@pytest.mark.parametrize(
    ("name", "gender"),
    [
        ("Анна", "female"),
        ("Ольга Петрова", "female"),
        ("Борис", "male"),
        ("Никита", "male"),  # a masculine name ending in -а
        ("Саша", None),  # either
        ("Женя", None),
        ("Администратор", None),  # not a first name
        ("Anna", None),  # the Russian dictionary says nothing about Latin names: neutral
        ("", None),
    ],
)
def test_a_russian_first_name_tells_the_gender(name: str, gender: str | None) -> None:
    assert gender_of_name(name) == gender
