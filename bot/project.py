"""A botdesk project on disk: config.yml, intents/, stories/, models/ — read, checked and trained.

``Project.config`` is config.yml, each plugin item checked by its own registry
(``check_plugins``); ``Project.train`` trains the NLU model unless the current one still
fits the data and config; ``engine`` and ``load_pipeline`` give the dialogue engine and
the model that the server, the shell and the tests run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.actions.base import ActionExecutor, Executors
from bot.actions.endpoints import EndpointConfig, read_action_endpoint
from bot.actions.http import HttpActions
from bot.actions.rasa_server import ActionServerClient
from bot.dialogue.engine import BUILTIN_ACTIONS as ENGINE_ACTIONS
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.stories import DialogueData, load_dialogue_data, validate_references
from bot.errors import ConfigError
from bot.nlu.data import TrainingData, intent_files, load_training_data
from bot.nlu.model_store import ModelInfo, ModelStore
from bot.nlu.pipeline import Pipeline, Progress
from bot.plugins import Registry
from bot.settings import CONFIG_FILE, BotdeskConfig, ComponentSpec, load_config
from bot.store.db import Database
from bot.yamlio import line_of, load_yaml

BUILTIN_ACTIONS = set(ENGINE_ACTIONS)


@dataclass
class Project:
    root: Path

    @classmethod
    def open(cls, root: Path | str = ".") -> Project:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(f"project directory {path} does not exist")
        if not (path / CONFIG_FILE).is_file():
            raise ConfigError(
                f"no {CONFIG_FILE} in {path}; create a project with `botdesk init DIR` "
                "or point to one with --project DIR"
            )
        return cls(path)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def intents_dir(self) -> Path:
        return self.root / "intents"

    @property
    def stories_dir(self) -> Path:
        return self.root / "stories"

    @cached_property
    def config(self) -> BotdeskConfig:
        return load_checked_config(self.config_path)

    @cached_property
    def data(self) -> TrainingData:
        return load_training_data(intent_files(self.intents_dir))

    @cached_property
    def dialogue(self) -> DialogueData:
        """Rules, stories, slots and forms, checked against the intents and responses."""
        files = sorted(self.stories_dir.glob("*.yml")) if self.stories_dir.is_dir() else []
        data = load_dialogue_data(files)
        validate_references(data, set(self.data.intents), set(self.data.responses) | BUILTIN_ACTIONS)
        return data

    @cached_property
    def action_endpoint(self) -> EndpointConfig | None:
        """endpoints.yml's ``action_endpoint``, read as Rasa reads it (None: no action server)."""
        return read_action_endpoint(self.root)

    def action_executor(self) -> ActionExecutor:
        """Declarative HTTP actions, then the action server for every other declared action."""
        executors: list[ActionExecutor] = [HttpActions(self.dialogue.http_actions)]
        if self.action_endpoint is not None:
            executors.append(ActionServerClient(self.action_endpoint, set(self.dialogue.actions)))
        return Executors(executors)

    def engine(self, seed: int | None = None, actions: ActionExecutor | None = None) -> DialogueEngine:
        return DialogueEngine(
            self.config,
            self.data.responses,
            self.dialogue,
            seed,
            actions=actions if actions is not None else self.action_executor(),
            intents=list(self.data.intents),
            titles=dict(self.data.titles),
            entities=sorted(
                self.data.declared_entities | {a.entity for e in self.data.examples for a in e.entities}
            ),
        )

    def database(self) -> Database:
        """The store (storage.url or BOTDESK_DATABASE_URL); a SQLite path is relative to the project."""
        return Database.open(self.config.database_url(), base_dir=self.root)

    @property
    def models(self) -> ModelStore:
        return ModelStore(self.root / "models")

    def load_pipeline(self) -> Pipeline:
        return self.models.load(self.config)

    def train(self, *, force: bool = False, progress: Progress | None = None) -> tuple[ModelInfo, bool]:
        """Train unless the current model already fits data and config.

        Args:
            force: train even when the current model is up to date.
            progress: told each training step (the CLI shows a progress line).

        Returns:
            The model to use, and whether it was trained now.
        """
        if not force:
            current = self.models.is_up_to_date(self.config, self.data)
            if current is not None:
                return current, False
        return self.models.train(self.config, self.data, progress), True


def load_checked_config(path: Path) -> BotdeskConfig:
    """config.yml, its own sections and its plugin items checked (``load_config`` + ``check_plugins``)."""
    config = load_config(path)
    check_plugins(config, path)
    return config


def check_plugins(config: BotdeskConfig, path: Path) -> None:
    """Check config.yml's plugin items with their registries: a typo is an error naming the line.

    Pipeline components, escalation rules and CRM adapters each declare their options
    (bot/plugins.py); this is the one place that knows all three registries. Channels,
    a layer above, check theirs when the server builds them (``configured_channels``).
    """
    from bot.dialogue.escalation import RULES
    from bot.nlu.registry import COMPONENTS
    from handoff.crm import check_spec

    raw = load_yaml(path, ConfigError)
    _check_items(COMPONENTS, ("pipeline",), config.pipeline, raw, path)
    _check_items(RULES, ("escalation", "rules"), config.escalation.rules, raw, path)
    for index, item in enumerate(config.crm):
        problem = check_spec({"adapter": item.adapter, **item.options()})
        if problem is not None:
            key, message = problem
            raise ConfigError(message, path, line_of(raw, ["crm", index, *([key] if key else [])]))


def _check_items(
    registry: Registry[Any], section: tuple[str, ...], specs: Sequence[ComponentSpec], raw: Any, path: Path
) -> None:
    for index, spec in enumerate(specs):
        problem = registry.check(spec.name, spec.options())
        if problem is not None:
            key, message = problem
            location: list[str | int] = [*section, index]
            if key is not None:
                location.append(key)
            raise ConfigError(message, path, line_of(raw, location))
