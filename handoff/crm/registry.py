"""CRM adapters by name: config.yml says ``adapter: webhook``, this module finds the class.

A new CRM is one module with a :class:`~handoff.crm.base.BaseAdapter` subclass decorated
by :func:`register_adapter` (listed in ``BUILTIN_MODULES`` when it ships with botdesk);
an adapter outside botdesk is named by its dotted path (``mypkg.crm.MyCRM``). Lookup,
dotted paths and did-you-mean hints are :class:`bot.plugins.Registry`'s; this module adds
the ``crm`` item's shape (:class:`CRMSpec`) and its wording of option errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigError, describe_input
from bot.plugins import Registry, suggest
from handoff.crm.base import AdapterOptions, BaseAdapter

BUILTIN_MODULES = ("handoff.crm.webhook",)

_REGISTRY: dict[str, type[BaseAdapter]] = {}
A = TypeVar("A", bound=type[BaseAdapter])


class CRMSpec(BaseModel):
    """The ``crm`` item of config.yml: ``adapter: <name>`` plus that adapter's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    adapter: str

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class _Adapters(Registry[type[BaseAdapter]]):
    """The CRM adapters, keyed by ``adapter:``, with option errors worded for the crm section."""

    def __init__(self, items: dict[str, type[BaseAdapter]]) -> None:
        super().__init__(
            "CRM adapter",
            BaseAdapter,
            BUILTIN_MODULES,
            "register_adapter",
            name_key="adapter",
            noun="adapter",
            items=items,
        )

    def explain(self, name: str, cls: type[BaseAdapter], exc: ValidationError) -> tuple[str | None, str]:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else None
        if error["type"] == "extra_forbidden":
            hint = suggest(key or "", list(cls.Options.model_fields), "(none)")
            return key, f"unknown option '{key}' for CRM adapter {name}; {hint}"
        if error["type"] == "missing":
            return key, f"CRM adapter {name} needs '{key}'"
        return key, f"crm.{key}: {error['msg']} (got {describe_input(error.get('input'))})"


def _adapters() -> _Adapters:
    """The registry over ``_REGISTRY`` as it is now (a test may swap in a copy)."""
    return _Adapters(_REGISTRY)


def register_adapter(cls: A) -> A:
    """Class decorator: make ``cls`` usable as ``adapter: <cls.name>`` in config.yml."""
    _adapters().register(cls)
    return cls


def known_adapters() -> list[str]:
    return _adapters().names()


def adapter_class(name: str) -> type[BaseAdapter]:
    """The adapter class for a config name or dotted path; ConfigError with a hint otherwise."""
    return _adapters().get(name)


def _as_spec(spec: CRMSpec | Mapping[str, Any]) -> CRMSpec:
    if isinstance(spec, CRMSpec):
        return spec
    try:
        return CRMSpec.model_validate(dict(spec))
    except ValidationError:
        raise ConfigError("the crm section needs 'adapter: <name>' (e.g. adapter: webhook)") from None


def check_spec(spec: CRMSpec | Mapping[str, Any]) -> tuple[str | None, str] | None:
    """Check one crm item without building it; (offending key, message) or None when fine.

    Meant for config loading, so a typo is reported with its line before anything runs.
    """
    try:
        parsed = _as_spec(spec)
    except ConfigError as exc:
        return "adapter", str(exc)
    return _adapters().check(parsed.adapter, parsed.options())


def build_options(spec: CRMSpec | Mapping[str, Any]) -> AdapterOptions:
    parsed = _as_spec(spec)
    adapters = _adapters()
    cls = adapters.get(parsed.adapter)
    try:
        return cls.Options.model_validate(parsed.options())
    except ValidationError as exc:
        raise ConfigError(adapters.explain(parsed.adapter, cls, exc)[1]) from None


def build_adapter(
    spec: CRMSpec | Mapping[str, Any], *, transport: httpx.AsyncBaseTransport | None = None
) -> BaseAdapter:
    """Build the configured adapter; ``transport`` replaces the network in tests."""
    parsed = _as_spec(spec)
    return adapter_class(parsed.adapter)(build_options(parsed), transport=transport)
