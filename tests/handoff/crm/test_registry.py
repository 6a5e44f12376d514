"""Adapters by name, as config.yml chooses them."""

from __future__ import annotations

import sys
import types
from typing import ClassVar

import httpx
import pytest

from bot.errors import ConfigError
from handoff.crm import (
    AdapterOptions,
    BaseAdapter,
    CRMSpec,
    LeadCard,
    PushResult,
    WebhookAdapter,
    adapter_class,
    build_adapter,
    check_spec,
    known_adapters,
    register_adapter,
    registry,
)
from tests.helpers.crm import make_card


def test_webhook_is_built_from_a_config_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_CRM_SECRET", "s")
    spec = {
        "adapter": "webhook",
        "url": "http://127.0.0.1:9/leads",
        "secret_env": "MY_CRM_SECRET",
        "timeout": 3,
    }
    assert "webhook" in known_adapters()
    assert check_spec(spec) is None
    adapter = build_adapter(CRMSpec.model_validate(spec))
    assert isinstance(adapter, WebhookAdapter) and adapter.settings.timeout == 3


@pytest.mark.parametrize(
    ("spec", "key", "message"),
    [
        ({"adapter": "webhok"}, "adapter", "did you mean 'webhook'"),
        ({"adapter": "webhook", "url": "http://x", "timout": 3}, "timout", "did you mean 'timeout'"),
        ({"adapter": "webhook"}, "url", "needs 'url'"),
        ({"adapter": "webhook", "url": "http://x", "timeout": "soon"}, "timeout", "crm.timeout"),
        ({"adapter": "nowhere.Module"}, "adapter", "cannot import nowhere"),
        ({"url": "http://x"}, "adapter", "adapter: <name>"),
    ],
)
def test_mistakes_name_the_key(spec: dict[str, object], key: str, message: str) -> None:
    problem = check_spec(spec)
    assert problem is not None and problem[0] == key and message in problem[1]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_adapter(spec)


class MemoryOptions(AdapterOptions):
    label: str = "memory"


class MemoryCRM(BaseAdapter):
    """A whole new CRM in a few lines: what docs/crm.md shows."""

    name: ClassVar[str] = "memory-test"
    Options: ClassVar[type[AdapterOptions]] = MemoryOptions

    def __init__(self, options: AdapterOptions, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(options, transport=transport)
        self.cards: dict[str, LeadCard] = {}

    async def push(self, card: LeadCard) -> PushResult:
        duplicate = card.idempotency_key in self.cards
        self.cards.setdefault(card.idempotency_key, card)
        return PushResult(self.name, card.idempotency_key, duplicate=duplicate)


async def test_a_new_adapter_is_one_registered_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_adapter(MemoryCRM)
    assert "memory-test" in known_adapters()
    adapter = build_adapter({"adapter": "memory-test", "label": "x"})
    card = make_card()
    assert (await adapter.push(card)).duplicate is False
    assert (await adapter.push(card)).duplicate is True
    module = types.ModuleType("custom_crm_for_test")
    module.MemoryCRM = MemoryCRM  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "custom_crm_for_test", module)
    assert adapter_class("custom_crm_for_test.MemoryCRM") is MemoryCRM
    with pytest.raises(ConfigError, match="no BaseAdapter class 'Nope'"):
        adapter_class("custom_crm_for_test.Nope")


def test_register_needs_a_name() -> None:
    class Nameless(BaseAdapter):
        pass

    with pytest.raises(TypeError, match="name"):
        register_adapter(Nameless)
