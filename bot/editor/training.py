"""Retrain in the background, run the gate, and publish without a restart.

One training at a time. A job reads ``intents/*.yml`` and the ``pipeline`` of
config.yml from disk (so edits made in git count too), trains the candidate in a
worker thread, then runs the gate against the model in service; its progress is
read with :meth:`Trainer.status`. Publishing saves the candidate as the project's
current model (``models/current``, so a restart serves it too) and hands it to
``swap``, which replaces one reference in the running server: a message already
being handled finishes on the model it started with, the next one gets the new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.dialogue.engine import DialogueEngine
from bot.editor.annotations import Annotations
from bot.editor.gate import Side, compare
from bot.editor.store import last_published_at, recent_publications
from bot.errors import BotdeskError
from bot.i18n.text import Text
from bot.nlu.data import TrainingData, intent_files, load_training_data
from bot.nlu.pipeline import Pipeline
from bot.project import Project, load_checked_config
from bot.settings import BotdeskConfig, ComponentSpec
from bot.store import Database, Operator
from bot.store.models import ModelPublication

log = logging.getLogger("botdesk.editor")
Swap = Callable[[Pipeline, DialogueEngine], None]
Clock = Callable[[], datetime]


class TrainingError(BotdeskError):
    """Training or publishing cannot go on now; the sentence says why."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Job:
    id: int
    started_by: str
    started_at: datetime
    status: str = "running"  # running | done | failed
    phase: str = field(default_factory=lambda: Text("starting"))  # a Text: the panel translates it
    step: int = 0
    steps: int = 1
    finished_at: datetime | None = None
    error: str | None = None
    gate: dict[str, Any] | None = None
    published: str | None = None  # the version it was published as
    examples: int = 0
    intents: int = 0
    candidate: Pipeline | None = field(default=None, repr=False)
    config: BotdeskConfig | None = field(default=None, repr=False)
    data: TrainingData | None = field(default=None, repr=False)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "phase": self.phase,
            "progress": round(min(1.0, self.step / max(1, self.steps)), 3),
            "started_by": self.started_by,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "examples": self.examples,
            "intents": self.intents,
            "gate": self.gate,
            "published": self.published,
        }


class Trainer:
    """Background retraining and publishing for one running server."""

    def __init__(
        self,
        project_root: Any,
        config: BotdeskConfig,
        db: Database,
        annotations: Annotations,
        service: Callable[[], Pipeline],
        swap: Swap,
        clock: Clock,
    ) -> None:
        self.project = Project(project_root)
        self.config = config
        self.db = db
        self.annotations = annotations
        self.service = service
        self.swap = swap
        self.clock = clock
        # What the model in service learnt from: the files as they were at start (the
        # server trained on them) or at the last publish.
        self.service_specs: list[ComponentSpec] = list(config.pipeline)
        self.service_data = self.read_data()
        self.snapshot_note = self._check_snapshot(service())
        self.job: Job | None = None
        self._task: asyncio.Task[None] | None = None
        self._count = 0

    def _check_snapshot(self, service: Pipeline) -> str | None:
        """Whether the files read now are what the model in service learnt from (its fingerprint)."""
        current = self.project.models.current()
        if current is None or current.version != service.version:
            return None
        if current.metadata.get("fingerprint", {}).get("data") == self.service_data.fingerprint():
            return None
        return Text(
            "intents/*.yml changed after the model in service was trained and before the editor pages "
            "were first opened: the gate's in-service side learns from the files as they are now"
        )

    def read_data(self) -> TrainingData:
        return load_training_data(intent_files(self.project.intents_dir))

    def status(self) -> dict[str, Any] | None:
        return self.job.to_json() if self.job else None

    def start(self, who: Operator) -> dict[str, Any]:
        if self.job is not None and self.job.status == "running":
            raise TrainingError(Text("a training is already running; wait for it to finish"))
        self._count += 1
        self.job = Job(self._count, who.display_name, self.clock())
        self._task = asyncio.create_task(self._run(self.job), name=f"botdesk-training-{self._count}")
        return self.job.to_json()

    async def wait(self) -> None:
        """Until the running job (if any) ends (tests and shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _since(self) -> datetime | None:
        async with self.db.reader() as session:
            return await last_published_at(session)

    async def _run(self, job: Job) -> None:
        try:
            inbox = await self.annotations.applied_since(await self._since())
            await asyncio.to_thread(self._train, job, inbox)
            job.status, job.phase, job.step = "done", Text("done"), job.steps
        except BotdeskError as exc:
            job.status, job.error = (
                "failed",
                exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc),
            )
        except Exception as exc:  # unexpected: logged with its traceback, the editor reads a sentence
            log.exception("training job %s failed", job.id)
            job.status, job.error = (
                "failed",
                Text("training failed unexpectedly ({error})", error=f"{type(exc).__name__}: {exc}"),
            )
        finally:
            job.finished_at = self.clock()

    def _train(self, job: Job, inbox: list[tuple[str, str]]) -> None:
        job.phase = Text("reading intents and config.yml")
        config = load_checked_config(self.project.config_path)
        if config.language != self.config.language:
            raise TrainingError(
                Text("config.yml changed the bot's language; restart the server for that"), 422
            )
        data = self.read_data()
        candidate = Pipeline(config.language, config.pipeline)
        components = len(candidate.components)
        folds = self.config.editor.gate_folds
        job.steps = components + 2 * folds + 1
        job.examples, job.intents = len(data.examples), len(data.intents)

        def trained(name: str, step: int, total: int) -> None:
            job.phase, job.step = Text("training the new model: {component}", component=name), step

        job.seconds = candidate.train(data, trained)
        job.step = components

        def gate(phase: str) -> None:
            job.phase, job.step = phase, min(job.steps - 1, job.step + 1)

        service = self.service()
        job.gate = compare(
            config.language,
            Side(self.service_specs, self.service_data, service),
            Side(config.pipeline, data, candidate),
            inbox,
            folds,
            self.config.editor.max_regression,
            gate,
        )
        job.gate["service_version"] = service.version
        job.gate["notes"] = [self.snapshot_note] if self.snapshot_note else []
        job.candidate, job.config, job.data = candidate, config, data

    async def publish(self, who: Operator, override: bool) -> dict[str, Any]:
        job = self.job
        if job is None or job.status != "done" or job.candidate is None or job.gate is None:
            raise TrainingError(Text("nothing to publish: train a new model first and wait for the gate"))
        if job.published:
            raise TrainingError(Text("this model is in service already ({version})", version=job.published))
        if not job.gate["passed"] and not override:
            raise TrainingError(Text("the gate refused this model; override to publish anyway"))
        assert job.config is not None and job.data is not None
        config, data, candidate = job.config, job.data, job.candidate
        project = Project(self.project.root)
        try:
            engine = project.engine(seed=None)  # new intents' answers and rules, checked
        except BotdeskError as exc:
            raise TrainingError(
                Text("the bot's files do not fit together: {problem}", problem=str(exc)), 422
            ) from None
        info = await asyncio.to_thread(project.models.save, candidate, config, data, job.seconds)
        previous = self.service().version
        self.swap(candidate, engine)
        self.service_specs, self.service_data, self.snapshot_note = list(config.pipeline), data, None
        job.published = info.version
        async with self.db.session() as session:
            session.add(
                ModelPublication(
                    version=info.version,
                    previous_version=previous,
                    published_by=who.id,
                    gate=job.gate,
                    overridden=not job.gate["passed"],
                    published_at=self.clock(),
                )
            )
            await session.commit()
        log.info(
            "model %s published by %s (was %s%s)",
            info.version,
            who.login,
            previous,
            ", gate overridden" if not job.gate["passed"] else "",
        )
        return {"version": info.version, "previous_version": previous, "overridden": not job.gate["passed"]}

    async def publications(self, limit: int = 20) -> list[dict[str, Any]]:
        async with self.db.reader() as session:
            rows = await recent_publications(session, limit)
            return [
                {
                    "version": r.version,
                    "previous_version": r.previous_version,
                    "published_by": r.published_by,
                    "published_at": r.published_at.isoformat(),
                    "overridden": r.overridden,
                    "passed": bool(r.gate.get("passed")),
                    "delta": r.gate.get("delta"),
                }
                for r in rows
            ]
