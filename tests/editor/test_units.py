"""Grouping, masking and answer matching: the small pieces of the editor's inbox."""

from __future__ import annotations

from bot.editor.candidates import faq_answers, match_faq, token_set_similarity
from bot.editor.clusters import cluster
from bot.editor.pii import has_personal_data, mask_personal_data


def texts_of(groups: list[list[int]], texts: list[str]) -> list[set[str]]:
    return [{texts[i] for i in group} for group in groups]


def test_similar_messages_group_and_different_ones_do_not() -> None:
    texts = [
        "как вернуть велосипед",
        "подарочный сертификат есть?",
        "как вернуть велосипед?",
        "хочу вернуть велосипед",
        "какая погода завтра",
        "есть подарочные сертификаты",
    ]
    groups = cluster(texts, 0.45)
    found = texts_of([g.members for g in groups], texts)
    assert found[0] == {
        "как вернуть велосипед",
        "как вернуть велосипед?",
        "хочу вернуть велосипед",
    }  # biggest first
    assert {"подарочный сертификат есть?", "есть подарочные сертификаты"} in found
    assert {"какая погода завтра"} in found
    assert texts[groups[0].label] in found[0]
    assert cluster(texts, 0.45) == groups  # deterministic


def test_clustering_edge_cases() -> None:
    assert cluster([], 0.5) == []
    assert [g.members for g in cluster(["один"], 0.5)] == [[0]]
    assert len(cluster(["!!!", "???"], 0.5)) in (1, 2)  # no words at all: still an answer, no crash


def test_phones_and_emails_are_masked_but_order_numbers_and_dates_stay() -> None:
    assert mask_personal_data("мой номер +7 912 345-67-89, перезвоните") == "мой номер <phone>, перезвоните"
    assert mask_personal_data("8 (912) 345 67 89") == "<phone>"
    assert (
        mask_personal_data("пишите на ivan.petrov@mail.ru или 89123456789") == "пишите на <email> или <phone>"
    )
    assert mask_personal_data("где заказ 123456 от 2026-11-23?") == "где заказ 123456 от 2026-11-23?"
    assert has_personal_data("call me at +44 20 7946 0958")
    assert not has_personal_data("заказ 12345")


def test_an_operator_answer_like_an_faq_answer_is_recognised() -> None:
    responses = {
        "utter_delivery_terms": [
            {"text": "Доставка по Москве — 390 ₽, бесплатно от 5000 ₽. По России — СДЭК."}
        ],
        "utter_greet": [{"text": "Здравствуйте!"}],
        "utter_ask_feedback": [{"text": "Ответ помог?"}],
    }
    answers = faq_answers(responses)
    match = match_faq("Здравствуйте! Доставка по Москве 390 ₽, от 5000 ₽ бесплатно, по России СДЭК", answers)
    assert match is not None and match.intent == "delivery_terms" and match.similarity >= 0.8
    assert match_faq("Сейчас уточню на складе и вернусь", answers) is None
    assert match_faq("Здравствуйте!", answers, 0.8) is not None  # the same short answer
    assert token_set_similarity("да", "Доставка по Москве — 390 ₽") < 0.5  # one shared word is not a match
    assert token_set_similarity("", "что угодно") == 0.0
