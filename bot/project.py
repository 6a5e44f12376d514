"""A botdesk project on disk: config.yml, intents/, stories/, models/."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.actions.base import ActionExecutor, Executors
from bot.actions.endpoints import EndpointConfig, read_action_endpoint
from bot.actions.http import HttpActions
from bot.actions.rasa_server import ActionServerClient
from bot.dialogue.engine import BUILTIN_ACTIONS as ENGINE_ACTIONS
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.stories import DialogueData, load_dialogue_data, validate_references
from bot.errors import ConfigError
from bot.nlu.data import TrainingData, intent_files, load_training_data
from bot.nlu.model_store import ModelStore
from bot.nlu.pipeline import Pipeline
from bot.settings import CONFIG_FILE, BotdeskConfig, load_config
from bot.store.db import Database

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
        return load_config(self.config_path)

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
