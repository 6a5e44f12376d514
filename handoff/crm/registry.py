"""CRM adapters by name: config.yml says ``adapter: webhook``, this module finds the class.

A new CRM is one module with a :class:`~handoff.crm.base.BaseAdapter` subclass decorated
by :func:`register_adapter` (listed in ``BUILTIN_MODULES`` when it ships with botdesk);
an adapter outside botdesk is named by its dotted path (``mypkg.crm.MyCRM``).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigError
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


def register_adapter(cls: A) -> A:
    """Class decorator: make ``cls`` usable as ``adapter: <cls.name>`` in config.yml."""
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} needs a 'name' class attribute")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def known_adapters() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def adapter_class(name: str) -> type[BaseAdapter]:
    """The adapter class for a config name or dotted path; ConfigError with a hint otherwise."""
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"CRM adapter '{name}': cannot import {module_name} ({exc})") from None
        cls = getattr(module, attr, None)
        if isinstance(cls, type) and issubclass(cls, BaseAdapter):
            return cls
        raise ConfigError(f"CRM adapter '{name}': {module_name} has no BaseAdapter class '{attr}'")
    close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ConfigError(
        f"unknown CRM adapter '{name}'; {hint}known: {', '.join(sorted(_REGISTRY))}. "
        "A custom adapter is a BaseAdapter subclass decorated with @register_adapter, "
        "or named by its dotted path (mypkg.module.ClassName)"
    )


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
        cls = adapter_class(parsed.adapter)
    except ConfigError as exc:
        return "adapter", str(exc)
    try:
        cls.Options.model_validate(parsed.options())
    except ValidationError as exc:
        return _explain(parsed.adapter, cls.Options, exc)
    return None


def build_options(spec: CRMSpec | Mapping[str, Any]) -> AdapterOptions:
    parsed = _as_spec(spec)
    cls = adapter_class(parsed.adapter)
    try:
        return cls.Options.model_validate(parsed.options())
    except ValidationError as exc:
        raise ConfigError(_explain(parsed.adapter, cls.Options, exc)[1]) from None


def build_adapter(
    spec: CRMSpec | Mapping[str, Any], *, transport: httpx.AsyncBaseTransport | None = None
) -> BaseAdapter:
    """Build the configured adapter; ``transport`` replaces the network in tests."""
    parsed = _as_spec(spec)
    return adapter_class(parsed.adapter)(build_options(parsed), transport=transport)


def _explain(name: str, options: type[AdapterOptions], exc: ValidationError) -> tuple[str | None, str]:
    error = exc.errors()[0]
    key = str(error["loc"][0]) if error["loc"] else None
    if error["type"] == "extra_forbidden":
        allowed = list(options.model_fields)
        close = difflib.get_close_matches(key or "", allowed, n=1)
        hint = (
            f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed) or '(none)'}"
        )
        return key, f"unknown option '{key}' for CRM adapter {name}; {hint}"
    if error["type"] == "missing":
        return key, f"CRM adapter {name} needs '{key}'"
    got = error.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    return key, f"crm.{key}: {error['msg']} (got {shown})"
