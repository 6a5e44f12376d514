"""Registries of named extension points: NLU components, escalation rules, CRM adapters...

config.yml lists ``- name: X`` items; a registry finds the class for X, checks the
item's options against the class's pydantic ``Options`` model, and explains a typo.
A plugin outside botdesk is named by its dotted path (``mypkg.module.ClassName``).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError, describe_input

P = TypeVar("P", bound=type[Any])


class Registry(Generic[P]):
    """Named classes of one kind: the one way botdesk finds a plugin from a name in config.yml.

    Built-in plugins are listed by module and imported on first use (so an unused channel's
    dependencies are never imported); each module registers its class with the registry's
    decorator. A name with a dot is imported as ``package.module.ClassName``, so a plugin
    outside botdesk needs no registry line at all.

    Args:
        kind: what the messages call one item, e.g. ``"pipeline component"``.
        base: the class every item must subclass (checked for dotted-path items).
        builtin_modules: modules imported on first lookup; each registers its classes.
        decorator: the decorator's name, quoted in the "unknown name" message.
        name_key: the config key that names an item (reported by :meth:`check`).
        noun: what the "unknown name" message calls a custom item ("A custom adapter is ...").
        items: a mapping the owner keeps, when the registry should fill that one.

    Usage::

        WIDGETS: Registry[type[Widget]] = Registry(
            "widget", Widget, ("myapp.widgets.clock",), "register_widget"
        )
        register_widget = WIDGETS.register

        @register_widget            # in myapp/widgets/clock.py
        class Clock(Widget):
            name = "clock"
            Options = ClockOptions  # a pydantic model: what config.yml may set

        WIDGETS.get("clock")        # -> Clock; "clok" -> ConfigError "did you mean 'clock'?"
        WIDGETS.check("clock", {"tz": "Europe/Moscow"})  # -> None, or (key, message)
    """

    def __init__(
        self,
        kind: str,
        base: type,
        builtin_modules: Iterable[str],
        decorator: str,
        *,
        name_key: str = "name",
        noun: str = "one",
        items: dict[str, P] | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.builtin_modules = tuple(builtin_modules)
        self.decorator = decorator
        self.name_key = name_key
        self.noun = noun
        self._items: dict[str, P] = items if items is not None else {}
        self._loaded = False

    def register(self, cls: P) -> P:
        """Add ``cls`` under its ``name`` (a class decorator).

        Args:
            cls: a subclass of the registry's base with a non-empty ``name`` class attribute.

        Returns:
            ``cls`` itself, so the decorator leaves the class as it was.
        """
        if not getattr(cls, "name", ""):
            raise TypeError(f"{cls.__qualname__} needs a 'name' class attribute")
        self._items[cls.name] = cls
        return cls

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.builtin_modules:
                importlib.import_module(module)

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._items)

    def get(self, name: str) -> P:
        """The class registered as ``name``, or the class a dotted path names.

        Args:
            name: a registered name (``"telegram"``) or ``"package.module.ClassName"``.

        Returns:
            The class.

        Raises:
            ConfigError: an unknown name (with the nearest known one), or a dotted path that
                does not import or does not name a subclass of the base.
        """
        self._load_builtins()
        if name in self._items:
            return self._items[name]
        if "." in name:
            module_name, _, attr = name.rpartition(".")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise ConfigError(f"{self.kind} '{name}': cannot import {module_name} ({exc})") from None
            cls = getattr(module, attr, None)
            if isinstance(cls, type) and issubclass(cls, self.base):
                return cls  # type: ignore[return-value]
            raise ConfigError(
                f"{self.kind} '{name}': {module_name} has no {self.base.__name__} class '{attr}'"
            )
        close = difflib.get_close_matches(name, list(self._items), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"unknown {self.kind} '{name}'; {hint}known: {', '.join(sorted(self._items))}. "
            f"A custom {self.noun} is a {self.base.__name__} subclass decorated with @{self.decorator}, "
            "or named by its dotted path (mypkg.module.ClassName)"
        )

    def options(self, name: str, options: dict[str, Any]) -> Any:
        """``name``'s ``Options`` model validated from a config item (pydantic errors propagate)."""
        return self.get(name).Options.model_validate(options)

    def check(self, name: str, options: dict[str, Any]) -> tuple[str | None, str] | None:
        """Validate one config item without raising (config.yml's checker collects all problems).

        Args:
            name: the item's name as written in config.yml.
            options: the item's other keys.

        Returns:
            None when the item is fine, else ``(offending key, message)``.
        """
        try:
            cls = self.get(name)
        except ConfigError as exc:
            return self.name_key, str(exc)
        try:
            cls.Options.model_validate(options)
        except ValidationError as exc:
            return self.explain(name, cls, exc)
        return None

    def explain(self, name: str, cls: P, exc: ValidationError) -> tuple[str | None, str]:
        """(offending key, message) for the first problem with ``name``'s options."""
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        key = loc[0] if loc else None
        if error["type"] == "extra_forbidden":  # a nested option (imap.port) names its section too
            unknown, section = (loc[-1] if loc else ""), loc[:-1]
            hint = suggest(unknown, _fields_at(cls.Options, section), "(no options)")
            return key, f"unknown option '{unknown}' for {'.'.join([name, *section])}; {hint}"
        where = ".".join(loc) or key
        return key, f"{name}.{where}: {error['msg']} (got {describe_input(error.get('input'))})"


def _fields_at(model: type[BaseModel], path: list[str]) -> list[str]:
    """The option names of the (nested) options model at ``path``; [] where there is none."""
    current: type[BaseModel] = model
    for part in path:
        annotation = getattr(current.model_fields.get(part), "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return list(current.model_fields)


def suggest(key: str, allowed: list[str], none: str) -> str:
    """A "did you mean 'x'?" hint for a near miss, else the allowed keys (``none`` if there are none)."""
    close = difflib.get_close_matches(key, allowed, n=1)
    return f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed) or none}"
