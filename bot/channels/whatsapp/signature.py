"""Meta's signature on every webhook call: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``.

The key is the Meta app's secret (``WHATSAPP_APP_SECRET``); the HMAC is taken over the
raw body exactly as it arrived, so it is checked before anything parses the body, in
constant time (``hmac.compare_digest``): a wrong or missing signature is refused and its
body never read as JSON.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="
HEX_CHARS = 64


def sign(body: bytes, app_secret: str) -> str:
    """The header's value Meta sends with ``body`` (the tests' fake signs with it too)."""
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is the app secret's signature of ``body``.

    Example::

        signature_ok(b'{"object":"whatsapp_business_account"}', request.headers.get(SIGNATURE_HEADER), secret)
    """
    if not header or len(header) != len(PREFIX) + HEX_CHARS or not header.startswith(PREFIX):
        return False
    given = header[len(PREFIX) :].lower().encode("ascii", "replace")
    expected = sign(body, app_secret)[len(PREFIX) :].encode("ascii")
    return hmac.compare_digest(given, expected)
