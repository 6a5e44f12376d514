"""Fixtures of the dialogue tests: the shop stub the default bot asks for order statuses."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bot.stubs.shop import create_shop_app
from tests.live import serving


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The shop stub served on 127.0.0.1; the default bot's BOTDESK_SHOP_URL points at it."""
    with serving(create_shop_app()) as url:
        monkeypatch.setenv("BOTDESK_SHOP_URL", url)
        yield url


@pytest.fixture
def shop_down(monkeypatch: pytest.MonkeyPatch) -> str:
    """BOTDESK_SHOP_URL at a port nobody listens on: the shop is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("BOTDESK_SHOP_URL", url)
    return url
