"""``engage demo`` against the in-process platform, and the ``time_scale`` it relies on."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from rich.console import Console

from engage.demo import POSTS, DemoError, run_demo, time_scale_for
from services.strategy.app import build_app as build_strategy
from shared.auth import Role, issue_dev_token
from shared.domain import Phase
from shared.settings import LifecycleSettings
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import engagement_body

PHASE_NAMES = [phase.value for phase in Phase]
GATES = [
    ("brief", Role.CLIENT_APPROVER),
    ("strategy", Role.CLIENT_APPROVER),
    ("editorial_plan", Role.MANAGER),
    ("go_live", Role.MANAGER),
]


def gateway_url(platform: Platform) -> str:
    return f"http://127.0.0.1:{platform.settings.ports.gateway}"


async def test_demo_runs_an_engagement_through_every_phase(platform: Platform) -> None:
    output = io.StringIO()
    run = await run_demo(
        platform.settings,
        gateway_url(platform),
        Console(file=output, width=120),
        target_seconds=8,
        timeout_seconds=90,
    )

    assert run.completed
    assert run.phases_started == PHASE_NAMES
    assert run.approvals == GATES
    assert run.tasks_completed > 0
    seen = [frame.event for frame in run.events]
    assert seen.count("lifecycle.engagement_completed") == 1
    assert seen.count("lifecycle.deliverable_recorded") >= 2
    assert run.workflow_id == f"engagement-{run.engagement_id}"
    printed = output.getvalue()
    assert f"/namespaces/default/workflows/{run.workflow_id}" in printed
    assert f"/v1/engagements/{run.engagement_id}" in printed

    read = await platform.gateway.get(
        f"/v1/engagements/{run.engagement_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    state = read.json()["state"]
    assert (state["status"], state["phase"]) == ("completed", "post_launch")
    assert state["post_launch"]["cycles_done"] == 2

    # The plan's posts: scheduled from seeding on, then out on the sandbox at their time (some
    # after this short demo has ended). Near midnight in Rome the demo makes no plan.
    assert run.posts_planned in (0, len(POSTS))
    assert run.posts_scheduled == run.posts_planned
    seeding = next(
        d["reference"]
        for d in state["deliverables"]
        if (d["name"], d["phase"]) == ("plan_publishing", "seeding")
    )
    if run.posts_planned:
        assert (seeding["status"], seeding["scheduled"]) == ("done", len(POSTS))
    publications: list[dict[str, Any]] = []

    async def all_published() -> bool:
        listed = await platform.gateway.get(
            "/v1/publications",
            params={"engagement_id": run.engagement_id},
            headers=platform.auth(Role.MANAGER),
        )
        publications[:] = listed.json()
        return all(p["status"] == "published" for p in publications)

    await wait_until(all_published, timeout=60, interval=0.5)
    assert len(publications) == run.posts_planned


async def test_demo_says_to_start_the_platform_when_the_gateway_is_away(
    platform: Platform,
) -> None:
    with pytest.raises(DemoError, match="start the platform with `make up` first"):
        await run_demo(platform.settings, "http://127.0.0.1:9", Console(file=io.StringIO()))


def test_time_scale_fits_the_timed_steps_into_the_target() -> None:
    lifecycle = LifecycleSettings()
    # Seeding 14 days, launch 7, two weekly cycles: 35 days of engagement in 70 seconds.
    assert time_scale_for(70, lifecycle, support_weeks=2) == pytest.approx(70 / (35 * 86_400))
    assert time_scale_for(10**9, lifecycle, support_weeks=2) == 1.0


async def test_prod_refuses_a_compressed_engagement(platform: Platform) -> None:
    """The strategy service's own rule: the gateway forwards time_scale and strategy refuses it."""
    prod = platform.settings.model_copy(update={"environment": "prod"})
    headers = {"Authorization": f"Bearer {issue_dev_token(prod, 'pm', [Role.MANAGER], ['*'])}"}
    body = engagement_body("00000000-0000-4000-8000-000000000001")
    transport = httpx.ASGITransport(app=build_strategy(prod))
    async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as strategy:
        refused = await strategy.post(
            "/engagements", json={**body, "time_scale": 0.001}, headers=headers
        )
        plain = await strategy.post("/engagements", json=body, headers=headers)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in refused.json()["errors"]] == ["body.time_scale"]
    # Without time_scale the request goes past that check (to the unknown organisation).
    assert plain.status_code == 404, plain.text


async def test_time_scale_outside_its_range_is_a_validation_error(platform: Platform) -> None:
    body = {**engagement_body("00000000-0000-4000-8000-000000000001"), "time_scale": 2}
    response = await platform.gateway.post(
        "/v1/engagements", json=body, headers=platform.auth(Role.MANAGER)
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.time_scale"
