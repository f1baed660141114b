"""An engagement's live state while no workflow worker runs: Temporal holds a query until a
worker takes it, so the gateway gives up after its dependency timeout and answers 503 with
``Retry-After`` instead of hanging (found by the fault suite, killing the workflow worker)."""

from __future__ import annotations

import time
import uuid

from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org
from workflows.engagement.messages import WORKFLOW_NAME


async def test_the_engagement_answers_503_when_no_workflow_worker_takes_its_query(
    platform: Platform,
) -> None:
    organization = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization)
    manager = platform.auth(Role.MANAGER, orgs=[organization])
    engagement = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
    # Stored without its workflow: its state is simply absent.
    assert engagement.status_code == 200, engagement.text
    workflow_id = engagement.json()["workflow_id"]
    # Its workflow waits on a task queue no worker polls: a worker that is down.
    await platform.temporal.start_workflow(
        WORKFLOW_NAME, id=workflow_id, task_queue=f"nobody-polls-{uuid.uuid4()}"
    )

    began = time.monotonic()
    answer = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
    took = time.monotonic() - began

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    assert took < platform.settings.dependency_timeout_seconds + 5
