"""The lead card contract and retry pacing."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pytest
from pydantic import ValidationError

from handoff.crm import CRMTemporaryError, LeadCard, mask_phone, next_backoff, retry_delay
from handoff.crm.base import MAX_LINE_CHARS, MAX_TRANSCRIPT_LINES
from tests.helpers.crm import NOW, make_card


def test_card_normalises_phone_and_email() -> None:
    card = make_card()
    assert card.phone == "+79991234567"
    assert card.email == "anna@example.ru"
    assert card.kind == "lead" and card.consent_at == NOW
    assert len(card.idempotency_key) == 32


@pytest.mark.parametrize("phone", ["8 999 123-45-67", "hello", "+7 12", ""])
def test_card_refuses_a_phone_that_is_not_international(phone: str) -> None:
    with pytest.raises(ValidationError, match="phone"):
        make_card(phone=phone)


def test_consent_needs_its_time_and_the_other_way_round() -> None:
    with pytest.raises(ValidationError, match="consent_at is required"):
        make_card(consent_at=None)
    with pytest.raises(ValidationError, match="consent is false"):
        make_card(consent=False)
    assert make_card(consent=False, consent_at=None).consent is False


def test_times_must_carry_a_timezone() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        make_card(created_at=datetime(2026, 1, 1, 12, 0))


def test_unknown_fields_and_bad_kinds_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        make_card(phone_raw="x")
    with pytest.raises(ValidationError, match="kind"):
        make_card(kind="order")
    with pytest.raises(ValidationError, match="idempotency_key"):
        make_card(idempotency_key="short")


def test_long_transcripts_are_cut_not_refused() -> None:
    lines = [{"sender": "customer", "text": f"{i} " + "х" * 5000, "at": NOW} for i in range(50)]
    card = make_card(last_messages=lines)
    assert len(card.last_messages) == MAX_TRANSCRIPT_LINES
    assert card.last_messages[0].text.startswith("30 ")
    assert all(len(line.text) == MAX_LINE_CHARS for line in card.last_messages)


def test_repr_leaves_out_personal_data() -> None:
    shown = repr(make_card())
    assert "+7999" not in shown and "Анна" not in shown and "anna@" not in shown
    assert "conv-1" in shown
    assert mask_phone("+79991234567") == "+7999*****67"


def test_body_is_stable_compact_utf8_json() -> None:
    card = make_card()
    body = card.body()
    assert body == make_card(idempotency_key=card.idempotency_key).body()
    assert "Анна".encode() in body and b", " not in body
    data = json.loads(body)
    assert list(data) == sorted(data)
    assert data["created_at"] == "2026-11-23T10:00:00Z"
    assert data["last_messages"][0] == {
        "sender": "customer",
        "text": "Сколько стоит велосипед Stels?",
        "at": "2026-11-23T10:00:00Z",
    }
    assert LeadCard.model_validate_json(body) == card


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    delays = [next_backoff(n, base=1.0, cap=60.0, jitter=0.5, rng=rng) for n in range(1, 12)]
    for attempt, delay in enumerate(delays, start=1):
        full = min(60.0, 2.0 ** (attempt - 1))
        assert full * 0.5 <= delay <= full
    assert next_backoff(10_000, cap=30.0, jitter=0.0) == 30.0
    assert next_backoff(3, base=2.0, jitter=0.0) == 8.0
    assert len({next_backoff(5) for _ in range(20)}) > 1  # jitter spreads retries
    with pytest.raises(ValueError):
        next_backoff(0)


def test_retry_delay_honours_retry_after() -> None:
    assert retry_delay(CRMTemporaryError("busy", status=429, retry_after=42.0), 1) == 42.0
    assert retry_delay(CRMTemporaryError("busy", retry_after=99_999.0), 1, cap=600.0) == 600.0
    assert 2.5 <= retry_delay(CRMTemporaryError("down"), 1) <= 5.0
