"""Sentiment corrections and per-organisation models, through the gateway: a person relabels a
mention (the correction is kept, one per mention); an organisation's corrections train its own
model in ``TrainOrganizationSentimentModel``, announced by ``sentiment_model_trained``; the
organisation's new mentions are labelled by it, another organisation's by the default model."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Replayer

from services.listening.contracts import (
    TRAINING_WORKFLOW,
    TrainedSentimentModel,
    TrainOrganizationSentimentModelInput,
    training_workflow_id,
)
from services.listening.intake import publish_raw_mentions
from services.listening.models import Mention, OutboxEvent, SentimentCorrection
from services.listening.sentiment.model import DEFAULT_VERSION
from services.listening.sentiment_training import MIN_CORRECTIONS
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform, wait_until
from tests.test_mentions import raw
from tests.test_replay import HISTORIES
from tests.test_thin_thread import create_org
from workflows.worker import WORKFLOWS

T0 = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)

# Wine words the default lexicon does not read as polar: "sa di tappo" is a fault, "beverina"
# praise. The organisation's corrections teach them.
NEGATIVE = [
    "Il rosso sa di tappo",
    "Bottiglia aperta ieri, sa di tappo",
    "Anche questa annata sa di tappo purtroppo",
    "Il bianco era ossidato e sa di tappo",
    "Terza bottiglia che sa di tappo",
    "La riserva sa di tappo, che peccato",
    "Il vino della cena sa di tappo",
    "Il rosato sa di tappo e di cartone",
]
POSITIVE = [
    "Il rosso è beverina e profumato",
    "Una bottiglia beverina per l'estate",
    "Questa annata è proprio beverina",
    "Il bianco fresco e beverina",
    "La riserva è beverina anche da giovane",
    "Vino beverina da aperitivo",
    "Il rosato è beverina e sapido",
    "Una beverina che finisce subito",
]
NEUTRAL = [
    "La cantina apre alle nove",
    "Il rosso si vende in bottiglie da 75 cl",
    "La vendemmia comincia a settembre",
    "Il bianco è fatto con uve trebbiano",
    "La riserva resta in botte due anni",
    "Il vino della cena era un chianti",
    "Il rosato si beve fresco",
    "La cantina è a Montalcino",
]


async def stored_mention(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: str,
    text: str,
    *,
    language: str = "it",
) -> str:
    mention_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        session.add(
            Mention(
                id=mention_id,
                organization_id=uuid.UUID(organization_id),
                source="instagram",
                external_id=mention_id.hex,
                author_handle="lucia",
                text=text,
                published_at=T0,
                hashtags=[],
                accounts=[],
                language=language,
                sentiment_label="neutral",
                sentiment_score=0.0,
                sentiment_model_version=DEFAULT_VERSION,
            )
        )
    return str(mention_id)


async def relabel(
    platform: Platform, mention_id: str, label: str, *roles: Role, orgs: list[str] | None = None
) -> Any:
    return await platform.gateway.post(
        f"/v1/listening/mentions/{mention_id}/sentiment",
        json={"label": label},
        headers=platform.auth(*(roles or (Role.EDITOR,)), orgs=orgs),
    )


async def corrections_of(
    sessions: async_sessionmaker[AsyncSession], mention_id: str
) -> list[SentimentCorrection]:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.scalars(
            select(SentimentCorrection).where(
                SentimentCorrection.mention_id == uuid.UUID(mention_id)
            )
        )
        return list(found.all())


async def test_a_relabel_corrects_the_mention_and_a_second_one_replaces_the_correction(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    other_organization = await create_org(platform, "Cantina Altrove")
    mention_id = await stored_mention(sessions, organization_id, "Il rosso sa di tappo")

    first = await relabel(platform, mention_id, "negative", orgs=[organization_id])
    assert first.status_code == 200, first.text
    assert first.json()["sentiment"] == {
        "label": "negative",
        "score": -1.0,
        "model_version": "manual",
    }
    second = await relabel(platform, mention_id, "mixed", Role.MANAGER, orgs=[organization_id])
    assert second.status_code == 200, second.text
    assert second.json()["sentiment"]["label"] == "mixed"

    [correction] = await corrections_of(sessions, mention_id)
    assert correction.label == "mixed"
    # What the model had said, kept from the first correction.
    assert correction.previous_label == "neutral"
    assert correction.previous_model_version == DEFAULT_VERSION
    assert str(correction.organization_id) == organization_id

    read = await platform.gateway.get(
        f"/v1/listening/mentions/{mention_id}",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert read.json()["sentiment"]["label"] == "mixed"

    # Another organisation's mention is not found, like one that does not exist.
    assert (
        await relabel(platform, mention_id, "positive", orgs=[other_organization])
    ).status_code == 404
    assert (await relabel(platform, str(uuid.uuid4()), "positive")).status_code == 404
    bad = await relabel(platform, mention_id, "furious")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.label"
    for role in (Role.CLIENT_VIEWER, Role.CLIENT_APPROVER):
        assert (await relabel(platform, mention_id, "positive", role)).status_code == 403
    [unchanged] = await corrections_of(sessions, mention_id)
    assert unchanged.label == "mixed"


async def train(platform: Platform, organization_id: str, *roles: Role) -> Any:
    return await platform.gateway.post(
        "/v1/listening/sentiment-models",
        json={"organization_id": organization_id},
        headers=platform.auth(*(roles or (Role.MANAGER,))),
    )


async def stored_by_external_id(
    sessions: async_sessionmaker[AsyncSession], external_id: str
) -> Mention | None:
    async with session_scope(sessions, SYSTEM) as session:
        found: Mention | None = await session.scalar(
            select(Mention).where(Mention.external_id == external_id)
        )
        return found


async def test_an_organisations_corrections_train_the_model_of_its_new_mentions(
    platform: Platform, nats_client: NatsClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    other_organization = await create_org(platform, "Cantina Altrove")

    refused = await train(platform, organization_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("too-few-corrections")
    assert (await train(platform, organization_id, Role.EDITOR)).status_code == 403

    labelled = [
        *((text, "negative") for text in NEGATIVE),
        *((text, "positive") for text in POSITIVE),
        *((text, "neutral") for text in NEUTRAL),
    ]
    assert len(labelled) >= MIN_CORRECTIONS
    for text, label in labelled:
        mention_id = await stored_mention(sessions, organization_id, text)
        response = await relabel(platform, mention_id, label, orgs=[organization_id])
        assert response.status_code == 200, response.text

    started = await train(platform, organization_id)
    assert started.status_code == 202, started.text
    again = await train(platform, organization_id)
    assert again.json() == started.json()
    training = started.json()

    handle = platform.temporal.get_workflow_handle(
        training["workflow_id"], result_type=TrainedSentimentModel
    )
    version = (await handle.result()).version
    history = await handle.fetch_history()
    replayed = await Replayer(
        workflows=WORKFLOWS, data_converter=pydantic_data_converter
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    if os.environ.get("ENGAGE_RECORD_HISTORIES"):
        (HISTORIES / "sentiment-model-trained.json").write_text(history.to_json())

    listed = await platform.gateway.get(
        "/v1/listening/sentiment-models",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert listed.status_code == 200, listed.text
    [model] = listed.json()
    assert model["training_id"] == training["training_id"]
    assert model["status"] == "ready"
    assert model["current"] is True
    assert model["version"] == version
    assert model["trained_on"] == len(labelled)
    assert model["languages"] == ["it"]
    assert 0 <= model["cross_validated_score"] <= 1

    async with sessions() as session:
        announced = (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.name == "listening.sentiment_model_trained",
                    OutboxEvent.envelope["subject"].astext == organization_id,
                )
            )
        ).all()
    [event] = [row.envelope["data"] for row in announced]
    assert event["version"] == version
    assert event["examples"] == len(labelled)
    assert event["training_id"] == training["training_id"]

    mine = raw(
        organization_id,
        "Il nuovo rosso sa di tappo",
        language="it",
        published_at=T0 + timedelta(days=1),
    )
    theirs = raw(other_organization, "Il nuovo rosso sa di tappo", language="it")
    await publish_raw_mentions(nats_client.jetstream(), platform.settings, [mine, theirs])

    async def both_stored() -> bool:
        return all(
            [
                await stored_by_external_id(sessions, mine.external_id),
                await stored_by_external_id(sessions, theirs.external_id),
            ]
        )

    await wait_until(both_stored, timeout=15)
    stored_mine = await stored_by_external_id(sessions, mine.external_id)
    stored_theirs = await stored_by_external_id(sessions, theirs.external_id)
    assert stored_mine is not None
    assert stored_theirs is not None
    assert stored_mine.sentiment_model_version == version
    assert stored_mine.sentiment_label == "negative"
    assert stored_theirs.sentiment_model_version == DEFAULT_VERSION

    # Nothing corrected since: asking again names the same training, trained once.
    repeated = await train(platform, organization_id)
    assert repeated.status_code == 202
    assert repeated.json() == training
    listed_again = await platform.gateway.get(
        "/v1/listening/sentiment-models",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.MANAGER),
    )
    assert len(listed_again.json()) == 1


async def test_a_training_with_too_few_corrections_is_refused_once_and_recorded(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Started without the API's check, the activity refuses: non-retryable, one attempt."""
    organization_id = uuid.UUID(await create_org(platform))
    mention_id = await stored_mention(sessions, str(organization_id), "Il rosso sa di tappo")
    await relabel(platform, mention_id, "negative", orgs=[str(organization_id)])
    training_id = uuid.uuid4()
    settings = platform.settings
    handle = await platform.temporal.start_workflow(
        TRAINING_WORKFLOW,
        TrainOrganizationSentimentModelInput(
            organization_id=organization_id,
            training_id=training_id,
            requested_by="tester",
            task_queue_prefix=settings.temporal.task_queue_prefix,
        ),
        id=training_workflow_id(organization_id, training_id),
        task_queue=settings.task_queue(task_queues.WORKFLOWS),
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    activity_error = failed.value.cause
    assert isinstance(activity_error, ActivityError)
    refusal = activity_error.cause
    assert isinstance(refusal, ApplicationError)
    assert refusal.type == "too-few-corrections"
    assert refusal.non_retryable
    assert f"at least {MIN_CORRECTIONS}" in refusal.message

    listed = await platform.gateway.get(
        "/v1/listening/sentiment-models",
        params={"organization_id": str(organization_id)},
        headers=platform.auth(Role.MANAGER),
    )
    [model] = listed.json()
    assert model["status"] == "failed"
    assert model["version"] is None
    assert model["current"] is False
    assert "too few sentiment corrections" in model["failure"]
