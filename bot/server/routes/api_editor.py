"""The editor pages' JSON API: inbox, labels and proposals, retraining, gate, publish, test stories.

Every route needs the editor role (an account's own, or granted by an admin, see
``bot.store.roles``) or admin: the inbox quotes every customer's unanswered text, so an
operator gets 403 here (least privilege, docs/security.md). Proposals (labels waiting
for review) stored by earlier versions, when operators could propose, are still
approved or rejected here. State-changing requests need the session's CSRF token like
the rest of ``/api``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from bot.editor.annotations import MAX_BATCH, AnnotationError, Label
from bot.editor.inbox import inbox, parse_since
from bot.editor.stories import StoryError, append_story, conversation_steps, record_story, story_path
from bot.editor.training import TrainingError
from bot.errors import BotdeskError, DataError
from bot.i18n.catalog import Translator
from bot.project import Project
from bot.server.auth import CurrentLogin, EditorRole
from bot.server.editor import EditorTools, EditorToolsDep
from bot.server.i18n import texts_for
from bot.server.routes.api_shapes import BodyRowId
from bot.store import Operator
from bot.store.models import AnnotationAction, AnnotationStatus

router = APIRouter(prefix="/api/editor", tags=["editor"])
Editor = EditorRole


class AnnotateIn(BaseModel):
    message_ids: list[BodyRowId] = Field(min_length=1, max_length=MAX_BATCH)
    action: AnnotationAction
    intent: str | None = Field(default=None, min_length=1, max_length=100)
    response: str | None = Field(default=None, max_length=4000)
    file: str | None = Field(default=None, min_length=1, max_length=100)
    confirm_personal_data: bool = False


class ReviewIn(BaseModel):
    ids: list[BodyRowId] = Field(min_length=1, max_length=MAX_BATCH)


class PublishIn(BaseModel):
    override: bool = False


class StoryIn(BaseModel):
    conversation_id: BodyRowId
    name: str | None = Field(default=None, min_length=1, max_length=200)
    file: str | None = Field(default=None, min_length=1, max_length=200)
    confirm_personal_data: bool = False


def _since(value: str | None, t: Translator) -> datetime | None:
    try:
        return parse_since(value)
    except ValueError:
        raise HTTPException(
            422, t("since: {value!r} is not a date (2026-11-01) or an ISO date-time", value=value)
        ) from None


def _refused(exc: BotdeskError, status: int, t: Translator) -> HTTPException:
    """The error's sentence in the editor's language (a ``Text`` translates; a file's problem stays as is)."""
    message = exc.message if isinstance(exc, DataError) and exc.path is None else (exc.args or [str(exc)])[0]
    return HTTPException(status, t.text(message) if isinstance(message, str) else str(exc))


def _job_json(job: dict[str, Any] | None, tools: EditorTools, t: Translator) -> dict[str, Any] | None:
    """The training job with its phase, error and notes in the editor's language."""
    current = tools.trainer.job
    if job is None or current is None:
        return job
    job["phase"] = t.text(current.phase)
    if current.error is not None:
        job["error"] = t.text(current.error)
    if isinstance(job.get("gate"), dict):
        job["gate"] = {**job["gate"], "notes": [t.text(note) for note in job["gate"].get("notes", [])]}
    return job


@router.get("/inbox", summary="What the bot did not answer alone, grouped")
async def get_inbox(
    tools: EditorToolsDep,
    editor: Editor,
    since: Annotated[str | None, Query(description="ISO date or date-time")] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> dict[str, Any]:
    state = tools.state
    responses = tools.trainer.service_data.responses
    t = texts_for(editor, state)
    return await inbox(state.db, state.config, responses, state.operators.clock(), _since(since, t), limit)


@router.get("/intents", summary="The bot's intents, for the label menu")
async def get_intents(tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    try:
        data = tools.trainer.read_data()
    except DataError as exc:
        raise _refused(exc, 422, texts_for(editor, tools.state)) from None
    counts: dict[str, int] = {}
    for example in data.examples:
        counts[example.intent] = counts.get(example.intent, 0) + 1
    return {
        "intents": [{"name": name, "examples": n} for name, n in sorted(counts.items())],
        "out_of_scope_intent": tools.state.config.editor.out_of_scope_intent,
        "can_edit": True,  # only editors get here (kept for clients that read it)
    }


@router.post("/annotations", summary="Label messages: written into intents/*.yml at once")
async def annotate(
    body: AnnotateIn, tools: EditorToolsDep, editor: Editor, login: CurrentLogin
) -> dict[str, Any]:
    label = Label(body.action, body.intent, body.response, body.file)
    try:
        return await tools.annotations.label(
            editor,
            body.message_ids,
            label,
            body.confirm_personal_data,
            tools.state.operators.clock(),
            roles=login.roles,
        )
    except AnnotationError as exc:
        raise _refused(exc, exc.status, texts_for(editor, tools.state)) from None


@router.get("/annotations", summary="Labels, newest first (status=proposed: waiting for review)")
async def list_annotations(
    tools: EditorToolsDep,
    editor: Editor,
    status: AnnotationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return await tools.annotations.listing(status, limit)


async def _review(tools: Any, editor: Operator, ids: list[int], approve: bool) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await tools.annotations.review(
            editor, ids, approve, tools.state.operators.clock()
        )
        return result
    except AnnotationError as exc:
        raise _refused(exc, exc.status, texts_for(editor, tools.state)) from None


@router.post("/annotations/approve", summary="Approve proposals: write them into intents/*.yml")
async def approve(body: ReviewIn, tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    return await _review(tools, editor, body.ids, approve=True)


@router.post("/annotations/reject", summary="Reject proposals")
async def reject(body: ReviewIn, tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    return await _review(tools, editor, body.ids, approve=False)


@router.post("/train", status_code=202, summary="Retrain in the background, then run the gate")
async def train(tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    t = texts_for(editor, tools.state)
    try:
        return _job_json(tools.trainer.start(editor), tools, t) or {}
    except TrainingError as exc:
        raise _refused(exc, exc.status, t) from None


@router.get("/train", summary="The latest training: progress, then the gate report")
async def training(tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    job = _job_json(tools.trainer.status(), tools, texts_for(editor, tools.state))
    return job or {"status": "idle", "model_version": tools.state.model_version}


@router.get("/gate", summary="The gate report of the latest training")
async def gate(tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    job = tools.trainer.job
    if job is None or job.gate is None:
        raise HTTPException(
            404, texts_for(editor, tools.state)("no gate report yet: train a new model first")
        )
    return job.gate


@router.post("/publish", summary="Put the trained model in service (override: despite the gate)")
async def publish(body: PublishIn, tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    try:
        return await tools.trainer.publish(editor, body.override)
    except TrainingError as exc:
        raise _refused(exc, exc.status, texts_for(editor, tools.state)) from None


@router.get("/publications", summary="Models published from the editor pages")
async def publications(tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    return {
        "model_version": tools.state.model_version,
        "publications": await tools.trainer.publications(),
    }


@router.post("/stories", summary="A conversation as a test story for `botdesk test`")
async def make_story(body: StoryIn, tools: EditorToolsDep, editor: Editor) -> dict[str, Any]:
    project = tools.options.project
    try:
        path = story_path(project, body.file)
        at, steps = await conversation_steps(tools.state.db, body.conversation_id, body.confirm_personal_data)
        name = body.name or f"conversation {body.conversation_id} ({at.date().isoformat()})"
        story = await record_story(Project(project.root), tools.state.pipeline, name, at, steps)
        append_story(path, story)
    except StoryError as exc:
        raise _refused(exc, exc.status, texts_for(editor, tools.state)) from None
    return {"file": str(path.relative_to(project.root)), "story": story}
