"""Personal data in free text: phones and e-mail addresses, found and masked.

Training files live in git and are read by many people, so an example that carries a
customer's phone or address goes in masked (``<phone>``, ``<email>``) unless an editor
confirms explicitly that the text may be kept as it is.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
# +7 912 345-67-89, 8 (912) 345 67 89, 89123456789, +44 20 7946 0958: ten or more digits
# with the usual separators; order numbers and dates (2026-11-23) stay.
PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s\-().]{0,2}\d){9,14}(?!\w)")
EMAIL_MASK = "<email>"
PHONE_MASK = "<phone>"


def has_personal_data(text: str) -> bool:
    return bool(EMAIL.search(text) or PHONE.search(text))


def mask_personal_data(text: str) -> str:
    """``"мой номер +7 912 345-67-89"`` -> ``"мой номер <phone>"``; e-mail addresses first."""
    return PHONE.sub(PHONE_MASK, EMAIL.sub(EMAIL_MASK, text))
