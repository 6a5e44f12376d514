"""The editor tools of one running server: labels, retraining and the model swap.

Built on first use from the server's state (``editor_tools``), kept on the app. The
swap is the one place that changes the model in service: it replaces
``ServerState.pipeline`` (which the conversation service reads once per message) and
the dialogue engine (new intents' answers), and reports the version to /metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bot.dialogue.engine import DialogueEngine
from bot.editor.annotate import IntentFiles
from bot.editor.annotations import Annotations
from bot.editor.training import Trainer
from bot.errors import BotdeskError
from bot.nlu.pipeline import Pipeline
from bot.server.deps import ReadyStateDep
from bot.server.lifespan import ServerOptions, ServerState


@dataclass
class EditorTools:
    state: ServerState
    options: ServerOptions
    annotations: Annotations
    trainer: Trainer


def swap_model(state: ServerState, pipeline: Pipeline, engine: DialogueEngine) -> None:
    """Put ``pipeline`` and ``engine`` in service; one assignment each, no await in between."""
    state.pipeline = pipeline
    state.conversations.pipeline = lambda: state.pipeline
    state.conversations.engine = engine
    state.operators.engine = engine
    state.metrics.set_model(pipeline.version)


def build_tools(state: ServerState, options: ServerOptions) -> EditorTools:
    project = options.project
    config = state.config
    annotations = Annotations(
        state.db, IntentFiles(project.intents_dir), config.language, config.editor.out_of_scope_intent
    )
    trainer = Trainer(
        project.root,
        config,
        state.db,
        annotations,
        service=lambda: state.pipeline,
        swap=lambda pipeline, engine: swap_model(state, pipeline, engine),
        clock=state.operators.clock,
    )
    return EditorTools(state, options, annotations, trainer)


async def editor_tools(request: Request, state: ReadyStateDep) -> EditorTools:
    tools: EditorTools | None = getattr(request.app.state, "editor", None)
    if tools is None or tools.state is not state:  # a restarted lifespan has new services
        try:
            tools = request.app.state.editor = build_tools(state, request.app.state.options)
        except BotdeskError as exc:  # intents/*.yml broken by hand: which file, which line
            raise HTTPException(422, str(exc)) from None
    return tools


EditorToolsDep = Annotated[EditorTools, Depends(editor_tools)]
