"""The default Russian bot understands customers the way they really write."""

from __future__ import annotations

from itertools import pairwise

import pytest

from bot.nlu.base import FALLBACK_INTENT
from bot.nlu.pipeline import Pipeline

# (message as typed, intent it means): wrong keyboard layout, Latin transliteration,
# mixed Russian/English, emoji, stretched letters, shouting.
MESSENGER_REALITY = [
    ("ghbdtn", "greet"),
    ("ghbdtn, crjkmrj cnjbn ljcnfdrf", "delivery_terms"),
    ("cgfcb,j", "thanks"),
    ("e dfc tcnm dtkjcbgtls d yfkbxbb?", "product_availability"),
    ("rfr jgkfnbnm pfrfp", "payment_methods"),
    ("ult vjq pfrfp", "order_status"),
    ("jgthfnjh", "human_request"),
    ("z [jxe dthyenm njdfh", "return_policy"),
    ("skolko stoit dostavka", "delivery_terms"),
    ("privet", "greet"),
    ("spasibo bolshoe", "thanks"),
    ("gde moy zakaz", "order_status"),
    ("hochu vernut tovar", "return_policy"),
    ("kakie est skidki", "discounts"),
    ("mozhno oplatit kartoy", "payment_methods"),
    ("pozovite operatora", "human_request"),
    ("ty bot?", "bot_challenge"),
    ("do skolki vy rabotaete", "working_hours"),
    ("otmenite zakaz", "order_cancel"),
    ("kakaya garantiya na velosiped", "warranty"),
    ("можно оплатить через Apple Pay?", "payment_methods"),
    ("когда придет мой order", "order_status"),
    ("есть ли promo code на скидку", "discounts"),
    ("можно поговорить с живым manager?", "human_request"),
    ("спасибоооо 😊", "thanks"),
    ("приввввееет!!!", "greet"),
    ("👍 да", "affirm"),
    ("неееет", "deny"),
    ("ДОСТАВКА ЕСТЬ В КАЗАНЬ???", "delivery_terms"),
    ("где мой заказзз 😡😡😡", "order_status"),
    ("сколько стоит велосипедддд", "price_request"),
    ("какой у вас адрес 🏠", "store_address"),
]


def test_messenger_reality_is_understood(ru_pipeline: Pipeline) -> None:
    wrong = []
    for text, intent in MESSENGER_REALITY:
        message = ru_pipeline.parse(text)
        if message.intent is None or message.intent.name != intent:
            wrong.append((text, intent, message.intent))
    accuracy = 1 - len(wrong) / len(MESSENGER_REALITY)
    print(f"messenger reality: {accuracy:.1%} of {len(MESSENGER_REALITY)} understood; wrong: {wrong}")
    assert accuracy >= 0.9, wrong


def test_answer_shape_is_rasas(ru_pipeline: Pipeline) -> None:
    result = ru_pipeline.parse_dict("сколько стоит доставка в Казань?")
    assert set(result) >= {"text", "intent", "intent_ranking", "entities"}
    assert result["intent"]["name"] == "delivery_terms"
    assert 0.5 < result["intent"]["confidence"] <= 1.0
    ranking = result["intent_ranking"]
    assert ranking[0]["name"] == "delivery_terms" and len(ranking) == 10
    assert all(a["confidence"] >= b["confidence"] for a, b in pairwise(ranking))
    assert result["model_version"] == ru_pipeline.version


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("мой телефон +7 912 345-67-89, перезвоните", "phone", "+7 912 345-67-89"),
        ("пишите на ivan.petrov@mail.ru", "email", "ivan.petrov@mail.ru"),
        ("где заказ №1234567?", "order_number", "1234567"),
        ("доставляете в Казани?", "city", "Казань"),
        ("а в Нижний Новгород везёте?", "city", "Нижний Новгород"),
        ("можно курьером?", "delivery_method", "courier"),
    ],
)
def test_entities(ru_pipeline: Pipeline, text: str, entity: str, value: str) -> None:
    found = {(e.entity, e.value) for e in ru_pipeline.parse(text).entities}
    assert (entity, value) in found, found


def test_entity_offsets_point_into_the_original_text(ru_pipeline: Pipeline) -> None:
    text = "Доставка в Казани есть?"
    (city,) = [e for e in ru_pipeline.parse(text).entities if e.entity == "city"]
    assert text[city.start : city.end] == "Казани"


def test_gibberish_falls_back_with_the_reason(ru_pipeline: Pipeline) -> None:
    message = ru_pipeline.parse("фыва олдж 12345 qwerty")
    assert message.intent is not None and message.intent.name == FALLBACK_INTENT
    # Gibberish is one of the kinds of off-topic messages the out_of_scope intent learns.
    assert message.fallback_reason == "out_of_scope"
    assert message.ranking, "the best guesses are kept for the editor inbox"


def test_button_payload_skips_the_nlu(ru_pipeline: Pipeline) -> None:
    message = ru_pipeline.parse("/store_address")
    assert message.intent is not None and message.intent.name == "store_address"
    assert message.intent.confidence == 1.0
    assert ru_pipeline.parse("/no_such_intent").intent.name != "no_such_intent"  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x02", "🙂" * 50, "а" * 100_000, "😀привет" * 1000])
def test_odd_input_does_not_crash(ru_pipeline: Pipeline, text: str) -> None:
    result = ru_pipeline.parse_dict(text)
    assert result["text"] == text
    assert isinstance(result["intent"]["name"], str)


def test_batch_and_single_parsing_agree(ru_pipeline: Pipeline) -> None:
    texts = [text for text, _ in MESSENGER_REALITY]
    batch = ru_pipeline.parse_many(texts, batch_size=7)
    for text, message in zip(texts, batch, strict=True):
        single = ru_pipeline.parse(text)
        assert single.to_parse_dict() == message.to_parse_dict()
