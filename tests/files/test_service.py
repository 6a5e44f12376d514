"""Files with their rows: whose file it is decides who reads it; orphans go with their bytes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.files import FilePolicy, FileRefused, FileTooLarge, file_store_from_config
from bot.files.service import FileService, stored_file_ids
from bot.settings import FilesSettings
from bot.store import Database, Sender
from bot.store.models import StoredFileRow, utcnow
from bot.store.privacy import forget_customer
from tests.helpers import files
from tests.helpers.store import inbound, new_conversation


async def service(db: Database, tmp_path: Path, **settings: object) -> FileService:
    config = FilesSettings.model_validate(settings)
    store = file_store_from_config(config, tmp_path)
    await store.start()
    return FileService(store, FilePolicy(config), db)


async def test_a_customer_reads_only_their_own_linked_files(db: Database, tmp_path: Path) -> None:
    files_ = await service(db, tmp_path)
    async with db.sessions() as session:
        _, mine = await new_conversation(session, "visitor-anna-0000001", "web")
        _, theirs = await new_conversation(session, "visitor-boris-000001", "web")
        message = await inbound(session, mine, "")
        mine_id, message_id = mine.id, message.id
    kept = await files_.accept(files.png(), name="чек.png", channel="web", sender=Sender.CUSTOMER)
    assert kept.attachment["type"] == "photo" and kept.attachment["stored"] is True
    assert stored_file_ids([kept.attachment, {"kind": "button"}]) == [kept.file.id]
    # Not linked yet: nobody reads it as a customer, not even the uploader.
    assert await files_.for_sender(kept.file.id, "web", "visitor-anna-0000001") is None
    assert await files_.link([kept.file.id], conversation_id=mine_id, message_id=message_id) == 1
    assert await files_.link([kept.file.id], conversation_id=theirs.id, message_id=message_id) == 0
    row = await files_.for_sender(kept.file.id, "web", "visitor-anna-0000001")
    assert row is not None and row.mime == "image/png" and row.name == "чек.png"
    assert await files_.for_sender(kept.file.id, "web", "visitor-boris-000001") is None
    assert await files_.for_sender(kept.file.id, "telegram", "visitor-anna-0000001") is None
    assert (await files_.for_operator(kept.file.id)) is not None
    assert await files_.read(kept.file.id) == files.png()


async def test_refused_and_oversized_files_leave_nothing_behind(db: Database, tmp_path: Path) -> None:
    files_ = await service(db, tmp_path, max_bytes=2048)
    with pytest.raises(FileRefused):
        await files_.accept(files.HTML, name="x.jpg", channel="web", sender=Sender.CUSTOMER)
    with pytest.raises(FileTooLarge):
        await files_.accept(b"a" * 4096, name="x.txt", channel="web", sender=Sender.CUSTOMER)
    async with db.reader() as session:
        assert (await session.get(StoredFileRow, "x" * 32)) is None
        assert await session.scalar(select(func.count()).select_from(StoredFileRow)) == 0
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()]


async def test_orphans_are_swept_with_their_bytes(db: Database, tmp_path: Path) -> None:
    files_ = await service(db, tmp_path)
    async with db.sessions() as session:
        _, conversation = await new_conversation(session, "visitor-anna-0000001", "web")
        message = await inbound(session, conversation, "")
        ids = conversation.id, message.id
    orphan = await files_.accept(files.PDF, name="a.pdf", channel="web", sender=Sender.CUSTOMER)
    linked = await files_.accept(files.PDF, name="b.pdf", channel="web", sender=Sender.CUSTOMER)
    await files_.link([linked.file.id], conversation_id=ids[0], message_id=ids[1])
    assert await files_.sweep_orphans(utcnow()) == 0  # too young: an upload whose message is on its way
    assert await files_.sweep_orphans(utcnow() + timedelta(days=2)) == 1
    assert await files_.for_operator(orphan.file.id) is None
    assert await files_.read(linked.file.id) == files.PDF
    assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == [linked.file.id]


async def test_a_forgotten_customer_s_files_go_with_their_bytes(db: Database, tmp_path: Path) -> None:
    files_ = await service(db, tmp_path)
    async with db.sessions() as session:
        customer, conversation = await new_conversation(session, "visitor-anna-0000001", "web")
        message = await inbound(session, conversation, "")
        customer_id, ids = customer.id, (conversation.id, message.id)
    kept = await files_.accept(files.png(), name="паспорт.png", channel="web", sender=Sender.CUSTOMER)
    await files_.link([kept.file.id], conversation_id=ids[0], message_id=ids[1])
    async with db.sessions() as session:
        await forget_customer(session, customer_id)
    assert await files_.for_sender(kept.file.id, "web", "visitor-anna-0000001") is None
    assert await files_.sweep_orphans(utcnow() + timedelta(days=2)) == 1
    assert await files_.for_operator(kept.file.id) is None
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
