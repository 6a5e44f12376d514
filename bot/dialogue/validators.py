"""Slot validators: what a form accepts as a name, a phone, an email, a consent.

A validator returns the normalised value, or None when the answer does not fit (the
form then asks again). Registered by slot name; a project adds one by adding a module
that calls :func:`register_validator`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import phonenumbers

from bot.nlu.base import Message

Validator = Callable[[Any, Message, str], Any]
VALIDATORS: dict[str, Validator] = {}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")
NAME = re.compile(r"^[^\W\d_]+(?:[\s'\-][^\W\d_]+){0,3}$")
DEFAULT_REGION = {"ru": "RU", "en": "US"}


def register_validator(slot: str) -> Callable[[Validator], Validator]:
    def decorate(function: Validator) -> Validator:
        VALIDATORS[slot] = function
        return function

    return decorate


@register_validator("phone")
def phone(value: Any, message: Message, language: str) -> str | None:
    """Any way people write a number -> E.164 ("8 (912) 345-67-89" -> "+79123456789")."""
    text = str(value or "")
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION.get(language, "RU"))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@register_validator("email")
def email(value: Any, message: Message, language: str) -> str | None:
    text = str(value or "").strip()
    return text.lower() if EMAIL.match(text) and len(text) <= 254 else None


@register_validator("name")
def name(value: Any, message: Message, language: str) -> str | None:
    text = " ".join(str(value or "").split()).strip(".,!")
    if not text or len(text) > 60 or not NAME.match(text):
        return None
    return " ".join(part[:1].upper() + part[1:] for part in text.split(" "))


@register_validator("consent")
def consent(value: Any, message: Message, language: str) -> bool | None:
    return value if isinstance(value, bool) else None


def mask_phone(value: str) -> str:
    """For logs: "+79123456789" -> "+7912***6789"."""
    return value[:5] + "***" + value[-4:] if len(value) > 9 else "***"
