"""Labels in the store and the YAML: editors apply, operators propose, editors review.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation import ConversationService
from bot.editor.annotate import IntentFiles
from bot.editor.annotations import AnnotationError, Annotations, Label
from bot.messages import InboundMessage
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.store import Database, Message, Operator, OperatorRole, Sender, create_operator
from bot.store.models import AnnotationAction, AnnotationStatus
from tests.helpers.projects import REPO, copy_project

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def messages(project: Project, pipeline: Pipeline, db: Database, texts: list[str]) -> list[int]:
    service = ConversationService(
        project.config, db.turns, lambda: pipeline, project.engine(0), clock=lambda: NOW
    )
    ids = []
    for number, text in enumerate(texts):
        handled = await service.handle(InboundMessage("web", f"c{number}", text))
        async with db.reader() as session:
            stored = await session.scalar(
                select(Message.id).where(
                    Message.conversation_id == handled.conversation_id, Message.sender == Sender.CUSTOMER
                )
            )
        assert stored is not None
        ids.append(stored)
    return ids


async def account(db: Database, login: str, role: OperatorRole) -> Operator:
    async with db.session() as session:
        operator = await create_operator(session, login, login.capitalize(), role=role)
        await session.commit()
        return operator


async def test_operators_propose_editors_apply_approve_and_reject(
    ru_pipeline: Pipeline,
    db: Database,
    tmp_path: Path,
) -> None:
    project = Project.open(copy_project(REPO, tmp_path / "bot"))
    labels = Annotations(db, IntentFiles(project.intents_dir), "ru", "out_of_scope")
    first, second, third = await messages(
        project,
        ru_pipeline,
        db,
        ["продаёте подарочные карты", "звоните 89123456789 про прокат", "какая погода завтра"],
    )
    olga = await account(db, "olga", OperatorRole.EDITOR)
    oleg = await account(db, "oleg", OperatorRole.OPERATOR)
    before = (project.intents_dir / "payment.yml").read_text(encoding="utf-8")

    proposed = await labels.label(oleg, [first], Label(AnnotationAction.ASSIGN, "payment_methods"), True, NOW)
    assert proposed["written"] is None and proposed["annotations"][0]["status"] == "proposed"
    assert (project.intents_dir / "payment.yml").read_text(encoding="utf-8") == before
    with pytest.raises(AnnotationError, match="already labelled") as again:
        await labels.label(olga, [first], Label(AnnotationAction.IGNORE), False, NOW)
    assert again.value.status == 409

    reviewed = await labels.review(olga, [proposed["annotations"][0]["id"]], True, NOW)
    assert reviewed["annotations"][0]["status"] == "applied"
    assert reviewed["annotations"][0]["reviewed_by"] == olga.id
    assert "    - продаёте подарочные карты\n" in (project.intents_dir / "payment.yml").read_text(
        encoding="utf-8"
    )
    with pytest.raises(AnnotationError, match="only proposed"):
        await labels.review(olga, [proposed["annotations"][0]["id"]], False, NOW)

    # An operator cannot keep personal data; the proposal is stored masked.
    masked = await labels.label(
        oleg, [second], Label(AnnotationAction.NEW_INTENT, "bike_rental", "Прокат есть."), True, NOW
    )
    assert masked["annotations"][0]["text"] == "звоните <phone> про прокат"
    assert masked["annotations"][0]["masked"] is True
    rejected = await labels.review(olga, [masked["annotations"][0]["id"]], False, NOW)
    assert rejected["annotations"][0]["status"] == "rejected"
    assert not (project.intents_dir / "bike_rental.yml").exists()

    # An editor may confirm it explicitly (the rejected proposal does not block a new label).
    kept = await labels.label(
        olga, [second], Label(AnnotationAction.NEW_INTENT, "bike_rental", "Прокат есть."), True, NOW
    )
    assert kept["annotations"][0]["text"] == "звоните 89123456789 про прокат"
    assert kept["written"]["file"] == "bike_rental.yml"

    out = await labels.label(olga, [third], Label(AnnotationAction.OUT_OF_SCOPE), False, NOW)
    assert out["annotations"][0]["intent"] == "out_of_scope"
    assert "вне моей темы" in (project.intents_dir / "out_of_scope.yml").read_text(encoding="utf-8")

    assert [a["status"] for a in await labels.listing(AnnotationStatus.APPLIED)] == ["applied"] * 3
    assert sorted(t for t, _ in await labels.applied_since(None)) == [
        "звоните 89123456789 про прокат",
        "какая погода завтра",
        "продаёте подарочные карты",
    ]
    with pytest.raises(AnnotationError, match="no intent 'nope'"):
        await labels.label(olga, [third], Label(AnnotationAction.ASSIGN, "nope"), False, NOW)
    with pytest.raises(AnnotationError, match="needs its answer"):
        await labels.label(olga, [third], Label(AnnotationAction.NEW_INTENT, "x_y", " "), False, NOW)
    with pytest.raises(AnnotationError, match="no customer message") as missing:
        await labels.label(olga, [999_999], Label(AnnotationAction.IGNORE), False, NOW)
    assert missing.value.status == 404
