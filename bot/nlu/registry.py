"""NLU components by name: config.yml's ``pipeline`` lists names, this finds the classes.

A new component is one module with a class decorated by :func:`register_component`;
a component outside botdesk is named by its dotted path (``mypkg.nlu.MyClassifier``).
"""

from __future__ import annotations

from bot.nlu.base import Component, ComponentOptions
from bot.plugins import Registry

COMPONENTS: Registry[type[Component]] = Registry(
    "pipeline component",
    Component,
    (
        "bot.nlu.tokenizer",
        "bot.nlu.featurizers",
        "bot.nlu.embeddings",
        "bot.nlu.word_vectors",
        "bot.nlu.classifier",
        "bot.nlu.entities",
        "bot.nlu.fallback",
        "bot.nlu.rasa_backend",
    ),
    "register_component",
)

register_component = COMPONENTS.register


def component_class(name: str) -> type[Component]:
    return COMPONENTS.get(name)


def known_components() -> list[str]:
    return COMPONENTS.names()


def build_options(name: str, options: dict[str, object]) -> ComponentOptions:
    built: ComponentOptions = COMPONENTS.options(name, dict(options))
    return built
