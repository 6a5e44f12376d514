"""Labels for inbox messages: editors' are written at once, others' wait as proposals.

An editor's (or admin's) label goes straight into ``intents/*.yml`` and is stored as
``applied``; anyone else's is stored as ``proposed`` until an editor approves it
(then written) or rejects it. The server lets only editors label (the inbox quotes
every customer), so proposals come from earlier versions or from tools built on this
class. Text with a phone or an e-mail is stored and written
masked unless an editor confirms explicitly that it may stay as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.editor.annotate import (
    OUT_OF_SCOPE_ANSWER,
    IntentFiles,
    WriteResult,
    check_intent_name,
    check_response,
)
from bot.editor.pii import has_personal_data, mask_personal_data
from bot.editor.store import (
    already_labelled,
    annotations_by_id,
    applied_labels,
    customer_messages,
    list_annotations,
)
from bot.errors import BotdeskError, DataError
from bot.i18n.text import Text
from bot.store import Database, Operator, OperatorRole
from bot.store.models import Annotation, AnnotationAction, AnnotationStatus

EDITORS = frozenset({OperatorRole.EDITOR, OperatorRole.ADMIN})
MAX_BATCH = 500


class AnnotationError(BotdeskError):
    """A label that cannot be made (an unknown message, intent or annotation); said to the editor."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Label:
    """What to do with the chosen messages."""

    action: AnnotationAction
    intent: str | None = None
    response: str | None = None
    file: str | None = None


def annotation_json(row: Annotation) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "text": row.text,
        "action": row.action.value,
        "intent": row.intent,
        "response": row.response,
        "file": row.file,
        "masked": row.masked,
        "status": row.status.value,
        "proposed_by": row.proposed_by,
        "reviewed_by": row.reviewed_by,
        "created_at": row.created_at.isoformat(),
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
    }


class Annotations:
    """Labels in the store and in the YAML files; one write at a time."""

    def __init__(self, db: Database, files: IntentFiles, language: str, out_of_scope_intent: str) -> None:
        self.db = db
        self.files = files
        self.language = language
        self.out_of_scope_intent = out_of_scope_intent
        self.lock = asyncio.Lock()

    async def _index(self) -> tuple[dict[str, Any], dict[str, str]]:
        try:
            return await asyncio.to_thread(self.files.index)
        except DataError as exc:  # a file broken by hand: say which and where
            raise AnnotationError(exc.message if isinstance(exc, DataError) else str(exc)) from None

    def _check(self, label: Label, known_intents: set[str]) -> Label:
        if label.action == AnnotationAction.ASSIGN:
            if not label.intent or label.intent not in known_intents:
                raise AnnotationError(
                    Text(
                        "there is no intent {intent!r}; choose one of the bot's intents", intent=label.intent
                    )
                )
        elif label.action == AnnotationAction.NEW_INTENT:
            try:
                check_intent_name(label.intent or "")
            except DataError as exc:
                raise AnnotationError(exc.message if isinstance(exc, DataError) else str(exc)) from None
            if label.intent in known_intents:
                raise AnnotationError(
                    Text("intent {intent!r} exists already; assign the messages to it", intent=label.intent)
                )
            if not (label.response or "").strip():
                raise AnnotationError(Text("a new intent needs its answer (response)"))
            try:
                check_response(label.response or "")
            except DataError as exc:
                raise AnnotationError(exc.message if isinstance(exc, DataError) else str(exc)) from None
        elif label.action == AnnotationAction.OUT_OF_SCOPE:
            return Label(label.action, self.out_of_scope_intent)
        return label

    async def label(
        self,
        who: Operator,
        message_ids: Sequence[int],
        label: Label,
        confirm_personal_data: bool,
        now: datetime,
        *,
        roles: Collection[OperatorRole] | None = None,
    ) -> dict[str, Any]:
        """Label customer messages; returns the annotations and what was written.

        ``roles``: all of ``who``'s roles (granted ones included); default: their own role.
        """
        ids = list(dict.fromkeys(message_ids))
        if not ids or len(ids) > MAX_BATCH:
            raise AnnotationError(Text("choose between 1 and {n} messages", n=MAX_BATCH))
        editor = bool(EDITORS & set(roles if roles is not None else {who.role}))
        async with self.lock:
            where, _ = await self._index()
            label = self._check(label, set(where))
            async with self.db.session() as session:
                found = await customer_messages(session, ids)
                missing = [i for i in ids if i not in found]
                if missing:
                    raise AnnotationError(
                        Text("no customer message with id {ids}", ids=", ".join(map(str, missing))), 404
                    )
                done = await already_labelled(session, ids)
                if done:
                    raise AnnotationError(
                        Text(
                            "already labelled (or proposed): message {ids}",
                            ids=", ".join(str(d) for d in sorted({d for d in done if d is not None})),
                        ),
                        409,
                    )
                rows = []
                for message_id in ids:
                    text = found[message_id].text
                    keep = editor and confirm_personal_data
                    masked = has_personal_data(text) and not keep
                    rows.append(
                        Annotation(
                            message_id=message_id,
                            text=mask_personal_data(text) if masked else text,
                            action=label.action,
                            intent=label.intent,
                            response=label.response,
                            file=label.file,
                            masked=masked,
                            status=AnnotationStatus.PROPOSED,
                            proposed_by=who.id,
                            created_at=now,
                        )
                    )
                session.add_all(rows)
                await session.flush()
                written = await self._apply(rows, who, now) if editor else None
                await session.commit()
                return {
                    "annotations": [annotation_json(r) for r in rows],
                    "written": _written_json(written),
                }

    async def _apply(self, rows: Sequence[Annotation], who: Operator, now: datetime) -> WriteResult | None:
        """Write ``rows`` (one label) into the YAML; they become ``applied``, reviewed by ``who``."""
        first = rows[0]
        texts = [r.text for r in rows]
        result: WriteResult | None = None
        try:
            if first.action == AnnotationAction.ASSIGN and first.intent:
                result = await asyncio.to_thread(self.files.add_examples, first.intent, texts)
            elif first.action == AnnotationAction.NEW_INTENT and first.intent:
                result = await asyncio.to_thread(
                    self.files.add_intent, first.intent, texts, first.response, first.file
                )
            elif first.action == AnnotationAction.OUT_OF_SCOPE and first.intent:
                answer = OUT_OF_SCOPE_ANSWER.get(self.language, OUT_OF_SCOPE_ANSWER["en"])
                result = await asyncio.to_thread(self.files.add_intent, first.intent, texts, answer, None)
        except DataError as exc:
            raise AnnotationError(exc.message if isinstance(exc, DataError) else str(exc)) from None
        for row in rows:
            row.status, row.reviewed_by, row.reviewed_at = AnnotationStatus.APPLIED, who.id, now
        return result

    async def review(self, who: Operator, ids: Sequence[int], approve: bool, now: datetime) -> dict[str, Any]:
        """Approve (write) or reject operators' proposals."""
        async with self.lock, self.db.session() as session:
            rows = await annotations_by_id(session, ids)
            if len(rows) != len(set(ids)):
                raise AnnotationError(Text("some of these annotations do not exist"), 404)
            if any(r.status != AnnotationStatus.PROPOSED for r in rows):
                raise AnnotationError(Text("only proposed annotations can be approved or rejected"), 409)
            written: list[dict[str, Any]] = []
            if approve:
                where, _ = await self._index()
                batches: dict[tuple[Any, ...], list[Annotation]] = {}
                for row in sorted(rows, key=lambda r: r.id):
                    batches.setdefault((row.action, row.intent, row.response, row.file), []).append(row)
                for batch in batches.values():
                    first = batch[0]
                    if first.action == AnnotationAction.NEW_INTENT and first.intent in where:
                        for row in batch:  # created meanwhile by another approval: just examples
                            row.action = AnnotationAction.ASSIGN
                    try:
                        self._check(Label(first.action, first.intent, first.response), set(where))
                        written.append(_written_json(await self._apply(batch, who, now)) or {})
                    except AnnotationError:
                        await session.commit()  # the batches already written stay applied
                        raise
                    where, _ = await self._index()
            else:
                for row in rows:
                    row.status, row.reviewed_by, row.reviewed_at = AnnotationStatus.REJECTED, who.id, now
            await session.commit()
            return {"annotations": [annotation_json(r) for r in rows], "written": written}

    async def listing(self, status: AnnotationStatus | None, limit: int = 200) -> list[dict[str, Any]]:
        async with self.db.reader() as session:
            return [annotation_json(r) for r in await list_annotations(session, status, limit)]

    async def applied_since(self, since: datetime | None) -> list[tuple[str, str]]:
        """``(text, intent)`` of labels written since ``since``: the gate's inbox messages."""
        async with self.db.reader() as session:
            return await applied_labels(session, since)


def _written_json(result: WriteResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"file": result.path.name, "added": result.added, "skipped": result.skipped}
