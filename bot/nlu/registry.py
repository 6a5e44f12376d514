"""Components by name: config.yml lists names, this module finds the classes.

A new component is one module with a class decorated by :func:`register_component`;
a component outside botdesk is named by its dotted path (``mypkg.nlu.MyClassifier``).
"""

from __future__ import annotations

import difflib
import importlib
from typing import TypeVar

from pydantic import ValidationError

from bot.errors import ConfigError
from bot.nlu.base import Component, ComponentOptions

BUILTIN_MODULES = (
    "bot.nlu.tokenizer",
    "bot.nlu.featurizers",
    "bot.nlu.classifier",
    "bot.nlu.entities",
    "bot.nlu.fallback",
    "bot.nlu.rasa_backend",
)

_REGISTRY: dict[str, type[Component]] = {}
C = TypeVar("C", bound=type[Component])


def register_component(cls: C) -> C:
    """Class decorator: make ``cls`` usable as ``- name: <cls.name>`` in config.yml."""
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} needs a 'name' class attribute")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def known_components() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def component_class(name: str) -> type[Component]:
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"component '{name}': cannot import {module_name} ({exc})") from None
        cls = getattr(module, attr, None)
        if isinstance(cls, type) and issubclass(cls, Component):
            return cls
        raise ConfigError(f"component '{name}': {module_name} has no Component class '{attr}'")
    close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ConfigError(
        f"unknown pipeline component '{name}'; {hint}known: {', '.join(sorted(_REGISTRY))}. "
        "A custom component is a Component subclass decorated with @register_component, "
        "or named by its dotted path (mypkg.module.ClassName)"
    )


def build_options(name: str, options: dict[str, object]) -> ComponentOptions:
    return component_class(name).Options.model_validate(options)


def validate_pipeline(spec: object) -> tuple[str | None, str] | None:
    """Check one pipeline item; returns (offending key, message) or None when fine."""
    from bot.settings import ComponentSpec

    assert isinstance(spec, ComponentSpec)
    try:
        cls = component_class(spec.name)
    except ConfigError as exc:
        return "name", str(exc)
    try:
        cls.Options.model_validate(spec.options())
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else None
        if error["type"] == "extra_forbidden":
            allowed = list(cls.Options.model_fields)
            close = difflib.get_close_matches(key or "", allowed, n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"expected one of: {', '.join(allowed) or '(no options)'}"
            )
            return key, f"unknown option '{key}' for {spec.name}; {hint}"
        return key, f"{spec.name}.{key}: {error['msg']} (got {error.get('input')!r})"
    return None
