"""The strategy activities workflows call, on the strategy worker through Temporal: typed, and
refusing what does not exist without retries."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from services.strategy.contracts import (
    GET_APPROVED_DELIVERABLE,
    GET_DELIVERABLE_VERSIONS,
    GetApprovedDeliverable,
    GetDeliverableVersions,
)
from services.strategy.deliverables.kinds import DeliverableKind
from shared import task_queues
from shared.auth import Role
from shared.editorial import EditorialRules
from tests.conftest import Platform
from tests.test_strategy_deliverables import (
    Json,
    approve,
    brief_body,
    create_engagement,
    editorial_rules_body,
    save,
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

    saved = await save(platform, engagement, "editorial_rules", editorial_rules_body())
    assert saved.status_code == 201, saved.text
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    approved = await approve(platform, engagement, "editorial_rules", 1, client)
    assert approved.status_code == 200, approved.text

    found = await run(platform, GET_APPROVED_DELIVERABLE, lookup)
    assert found["approved"]["deliverable_id"] == saved.json()["id"]
    assert found["approved"]["version"] == 1
    assert found["approved"]["approved_by"] == "tester"
    rules = EditorialRules.model_validate(found["approved"]["body"])
    assert rules == EditorialRules.model_validate(editorial_rules_body())


async def test_the_latest_version_of_each_asked_kind_that_has_one(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    for context in ("first", "second"):
        saved = await save(platform, engagement, "brief", {**brief_body(), "context": context})
        assert saved.status_code == 201, saved.text
    request = GetDeliverableVersions(
        engagement_id=engagement["id"],
        kinds=[DeliverableKind.BRIEF, DeliverableKind.OBJECTIVES],
    )
    found = await run(platform, GET_DELIVERABLE_VERSIONS, request)
    assert [(ref["kind"], ref["version"], ref["status"]) for ref in found["latest"]] == [
        ("brief", 2, "draft")
    ]
    assert found["latest"][0]["deliverable_id"] == saved.json()["id"]


@pytest.mark.parametrize(
    ("activity", "request_for"),
    [
        (
            GET_APPROVED_DELIVERABLE,
            lambda engagement_id: GetApprovedDeliverable(
                engagement_id=engagement_id, kind=DeliverableKind.BRIEF
            ),
        ),
        (
            GET_DELIVERABLE_VERSIONS,
            lambda engagement_id: GetDeliverableVersions(
                engagement_id=engagement_id, kinds=[DeliverableKind.BRIEF]
            ),
        ),
    ],
    ids=["approved-deliverable", "deliverable-versions"],
)
async def test_an_unknown_engagement_is_refused_without_retries_and_with_its_fields(
    platform: Platform, activity: str, request_for: Callable[[uuid.UUID], BaseModel]
) -> None:
    engagement_id = uuid.uuid4()
    with pytest.raises(WorkflowFailureError) as missing:
        await run(platform, activity, request_for(engagement_id))
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
