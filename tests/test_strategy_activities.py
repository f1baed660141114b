"""The strategy deliverables as Temporal activities on the strategy worker: idempotent, typed."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from services.strategy.channel_mix.schemas import ChannelMixInputs
from services.strategy.contracts import (
    GET_APPROVED_DELIVERABLE,
    RECORD_ANALYSIS,
    SAVE_DELIVERABLE,
    SCORE_CHANNEL_MIX,
    GetApprovedDeliverable,
    RecordAnalysis,
    SaveDeliverable,
    ScoreChannelMix,
)
from services.strategy.deliverables.kinds import Analysis, DeliverableKind
from shared import task_queues
from shared.auth import Role
from shared.editorial import EditorialRules
from tests.conftest import Platform
from tests.test_strategy_channel_mix import mix_inputs
from tests.test_strategy_deliverables import (
    Json,
    analysis_body,
    approve,
    create_engagement,
    editorial_rules_body,
    outbox_envelopes,
)


async def run(platform: Platform, name: str, payload: BaseModel) -> Json:
    result: Json = await platform.run_activity(task_queues.STRATEGY, name, payload)
    return result


def application_error(failure: WorkflowFailureError) -> ApplicationError:
    activity_error = failure.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_retried_save_with_the_same_key_yields_the_same_version(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    engagement = await create_engagement(platform)
    request = SaveDeliverable(
        engagement_id=engagement["id"],
        kind="editorial_rules",
        body=editorial_rules_body(),
        idempotency_key="design/editorial-rules/attempt-1",
    )
    first = await run(platform, SAVE_DELIVERABLE, request)
    retried = await run(platform, SAVE_DELIVERABLE, request)
    assert first["newly_created"] is True
    assert (first["kind"], first["version"], first["status"]) == ("editorial_rules", 1, "draft")
    assert retried == {**first, "newly_created": False}
    assert len(await outbox_envelopes(sessions, first["deliverable_id"])) == 1

    changed = {**editorial_rules_body(), "timezone": "Europe/London"}
    other_key = request.model_copy(update={"body": changed, "idempotency_key": "attempt-2"})
    second = await run(platform, SAVE_DELIVERABLE, other_key)
    assert second["version"] == 2
    assert second["deliverable_id"] != first["deliverable_id"]
    # The first key still names the version it made, even after a newer one.
    assert await run(platform, SAVE_DELIVERABLE, request) == retried

    versions = await platform.gateway.get(
        f"/v1/engagements/{engagement['id']}/deliverables/editorial_rules/versions",
        headers=platform.auth(Role.MANAGER),
    )
    assert [v["version"] for v in versions.json()] == [1, 2]
    assert versions.json()[0]["created_by"].startswith("workflow:probe-")


async def test_the_approved_editorial_rules_are_served_to_the_content_service(
    platform: Platform,
) -> None:
    engagement = await create_engagement(platform)
    lookup = GetApprovedDeliverable(
        engagement_id=engagement["id"], kind=DeliverableKind.EDITORIAL_RULES
    )
    nothing = await run(platform, GET_APPROVED_DELIVERABLE, lookup)
    assert nothing == {
        "engagement_id": engagement["id"],
        "kind": "editorial_rules",
        "approved": None,
    }

    saved = await run(
        platform,
        SAVE_DELIVERABLE,
        SaveDeliverable(
            engagement_id=engagement["id"],
            kind="editorial_rules",
            body=editorial_rules_body(),
            idempotency_key="rules",
        ),
    )
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    approved = await approve(platform, engagement, "editorial_rules", 1, client)
    assert approved.status_code == 200, approved.text

    found = await run(platform, GET_APPROVED_DELIVERABLE, lookup)
    assert found["approved"]["deliverable_id"] == saved["deliverable_id"]
    assert found["approved"]["version"] == 1
    assert found["approved"]["approved_by"] == "tester"
    rules = EditorialRules.model_validate(found["approved"]["body"])
    assert rules == EditorialRules.model_validate(editorial_rules_body())


async def test_record_analysis_is_idempotent(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    request = RecordAnalysis(
        engagement_id=engagement["id"],
        analysis=Analysis.model_validate(analysis_body()),
        idempotency_key="analysis/1",
    )
    first = await run(platform, RECORD_ANALYSIS, request)
    again = await run(platform, RECORD_ANALYSIS, request)
    assert first["kind"] == "analysis"
    assert first["newly_created"] is True
    assert again == {**first, "newly_created": False}


async def test_score_channel_mix_returns_the_stored_mix_on_retry(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    request = ScoreChannelMix(
        engagement_id=engagement["id"],
        inputs=ChannelMixInputs.model_validate(mix_inputs()),
        idempotency_key="analysis/channel-mix",
    )
    first = await run(platform, SCORE_CHANNEL_MIX, request)
    again = await run(platform, SCORE_CHANNEL_MIX, request)
    assert first["kind"] == "channel_mix"
    assert first["version"] == 1
    assert first["mix"]["recommended"] == ["instagram", "facebook"]
    assert again == {**first, "newly_created": False}


async def test_refusals_are_not_retried(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    invalid = SaveDeliverable(
        engagement_id=engagement["id"],
        kind="brief",
        body={"context": "missing everything else"},
        idempotency_key="brief",
    )
    with pytest.raises(WorkflowFailureError) as refused:
        await run(platform, SAVE_DELIVERABLE, invalid)
    error = application_error(refused.value)
    assert error.type == "validation-error"
    assert error.non_retryable
    invalid_fields = {item["field"] for item in error.details[0]["errors"]}
    assert {"body.objectives", "body.targets", "body.timing"} <= invalid_fields

    engagement_id = uuid.uuid4()
    unknown = GetApprovedDeliverable(engagement_id=engagement_id, kind=DeliverableKind.BRIEF)
    with pytest.raises(WorkflowFailureError) as missing:
        await run(platform, GET_APPROVED_DELIVERABLE, unknown)
    not_found = application_error(missing.value)
    assert (not_found.type, not_found.non_retryable) == ("not-found", True)
    assert list(not_found.details) == [
        {
            "type": "not-found",
            "title": "Not Found",
            "status": 404,
            "detail": f"engagement {engagement_id} was not found",
            "resource": "engagement",
        }
    ]
