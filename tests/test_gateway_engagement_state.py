"""An engagement's live state and its updates while no workflow worker runs: Temporal holds a
query or an update until a worker takes it, so the gateway gives up after its deadline and answers
503 with ``Retry-After`` instead of hanging (found by the fault suite, killing the workflow
worker)."""

from __future__ import annotations

import time
import uuid

from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org
from workflows.engagement.messages import WORKFLOW_NAME


async def _engagement_without_a_worker(platform: Platform) -> tuple[str, dict[str, str]]:
    """An engagement whose workflow waits on a task queue no worker polls: a worker that is down."""
    organization = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization)
    manager = platform.auth(Role.MANAGER, orgs=[organization])
    engagement = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
    # Stored without its workflow: its state is simply absent.
    assert engagement.status_code == 200, engagement.text
    workflow_id = engagement.json()["workflow_id"]
    await platform.temporal.start_workflow(
        WORKFLOW_NAME, id=workflow_id, task_queue=f"nobody-polls-{uuid.uuid4()}"
    )
    return engagement_id, manager


async def test_the_engagement_answers_503_when_no_workflow_worker_takes_its_query(
    platform: Platform,
) -> None:
    engagement_id, manager = await _engagement_without_a_worker(platform)

    began = time.monotonic()
    answer = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
    took = time.monotonic() - began

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    # Not hanging: the deadline, and a margin for a loaded machine.
    assert took < platform.settings.dependency_timeout_seconds + 10


async def test_an_update_answers_503_when_no_workflow_worker_takes_it(platform: Platform) -> None:
    engagement_id, manager = await _engagement_without_a_worker(platform)

    began = time.monotonic()
    answer = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/pause", json={"reason": "fault test"}, headers=manager
    )
    took = time.monotonic() - began

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "may still" in answer.json()["detail"]
    assert int(answer.headers["Retry-After"]) > 0
    assert took < platform.settings.dependency_timeout_seconds * 3 + 10
