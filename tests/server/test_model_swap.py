"""Publishing swaps the model in a running server; a message being handled keeps its model."""

from __future__ import annotations

import copy
from typing import Any, cast

from sqlalchemy import select

from bot.nlu.base import Message as Parsed
from bot.nlu.pipeline import Pipeline
from bot.server.editor import swap_model
from bot.store import Message, Sender
from tests.helpers.server import AppFactory, asgi_client, state_of
from tests.server.api_helpers import WEBHOOK


async def test_a_message_in_flight_finishes_on_the_old_model_the_next_gets_the_new(
    make_app: AppFactory, ru_pipeline: Pipeline
) -> None:
    app = make_app()
    async with asgi_client(app) as client:
        state = state_of(app)
        engine = state.conversations.engine
        published = copy.copy(ru_pipeline)
        published.version = "20991231-000000-published"

        class PublishedWhileParsing:
            """The model in service; an editor publishes while it parses this message."""

            version = ru_pipeline.version

            def parse(self, text: str) -> Parsed:
                swap_model(state, published, engine)
                return ru_pipeline.parse(text)

        swap_model(state, cast(Pipeline, PublishedWhileParsing()), engine)
        for sender in ("first", "second"):
            answer = await client.post(
                WEBHOOK, json={"sender": sender, "message": "какие способы оплаты есть"}
            )
            assert answer.status_code == 200
        metrics = (await client.get("/metrics")).text
        async with state.db.reader() as session:
            stored = list(
                await session.scalars(
                    select(Message).where(Message.sender == Sender.CUSTOMER).order_by(Message.id)
                )
            )
    versions = [(m.model_version, cast(dict[str, Any], m.nlu).get("model_version")) for m in stored]
    assert versions == [
        (ru_pipeline.version, ru_pipeline.version),  # started before the publish: the old model, all through
        (published.version, published.version),
    ]
    assert state.model_version == published.version
    assert published.version in metrics
