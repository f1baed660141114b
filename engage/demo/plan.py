"""The editorial plan and its posts: a plan of ``POSTS`` due during seeding and launch, each a
text post submitted and approved by the agency, in a slot of the approved plan."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from engage.demo.gateway import (
    _expect,
    connect_sandbox,
    listen_to_sandbox,
    watch_inbox_and_alerts,
)
from engage.demo.run import DemoRun, Tokens
from engage.demo.script import (
    FIRST_POST_AFTER_SECONDS,
    MIN_POST_GAP_SECONDS,
    PLAN_TIMEZONE,
    POST_WINDOW_SECONDS,
    POSTS,
)


def post_times(now: datetime, publishing_seconds: float) -> list[datetime]:
    """When the plan's posts fall due: spread over seeding and launch."""
    gap = max((publishing_seconds - FIRST_POST_AFTER_SECONDS) / len(POSTS), MIN_POST_GAP_SECONDS)
    first = now + timedelta(seconds=FIRST_POST_AFTER_SECONDS)
    return [first + timedelta(seconds=gap * index) for index in range(len(POSTS))]


def plan_rules(times: list[datetime]) -> dict[str, Any]:
    """Editorial rules giving one sandbox slot at each of ``times`` (one local day)."""
    rule = {
        "id": "demo",
        "pillar": "Vita in agriturismo",
        "formats": ["text"],
        "channels": ["sandbox"],
        "days": [times[0].weekday()],
        "windows": [
            {
                "start": at.time().isoformat(),
                "end": (at + timedelta(seconds=POST_WINDOW_SECONDS)).time().isoformat(),
            }
            for at in times
        ],
        "cadence": {"per": "day", "count": len(times)},
        "target": "famiglie",
    }
    return {"timezone": str(PLAN_TIMEZONE), "rules": [rule]}


async def prepare_plan(
    client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, publishing_seconds: float
) -> None:
    """An approved plan of ``POSTS`` due during seeding and launch, on a connected sandbox
    account; near midnight in Rome (the posts would fall on two days) there is no plan."""
    now = datetime.now(PLAN_TIMEZONE).replace(microsecond=0)
    times = post_times(now, publishing_seconds)
    last = times[-1] + timedelta(seconds=POST_WINDOW_SECONDS)
    if last.date() != now.date():
        return
    manager = tokens.headers(tokens.manager)
    connection_id = await connect_sandbox(client, tokens, run.organization_id)
    await watch_inbox_and_alerts(client, tokens, run)
    await listen_to_sandbox(client, tokens, run, connection_id)
    engagement = f"/v1/engagements/{run.engagement_id}"
    day = now.date().isoformat()
    await _expect(
        await client.post(
            f"{engagement}/plan",
            json={
                "organization_id": run.organization_id,
                "period_start": day,
                "period_end": day,
                "rules": plan_rules(times),
            },
            headers=manager,
        ),
        201,
        "generating the editorial plan",
    )
    plan = await _expect(
        await client.get(f"{engagement}/plan", params={"view": "daily"}, headers=manager),
        200,
        "reading the editorial plan",
    )
    slots = sorted(
        (slot for period in plan["periods"] for slot in period["slots"]),
        key=lambda slot: slot["starts_at"],
    )
    for slot, text in zip(slots, POSTS, strict=False):
        variant_id = await approved_post(client, manager, run, text)
        await _expect(
            await client.put(
                f"{engagement}/plan/slots/{slot['id']}",
                json={"variant_id": variant_id},
                headers=manager,
            ),
            200,
            "filling a slot of the plan",
        )
        run.posts_planned += 1
    await _expect(
        await client.post(f"{engagement}/plan/approval", json={}, headers=manager),
        200,
        "approving the editorial plan",
    )


async def approved_post(
    client: httpx.AsyncClient, manager: dict[str, str], run: DemoRun, text: str
) -> str:
    """A text post for the sandbox, submitted and approved by the agency; its variant id."""
    item = await _expect(
        await client.post(
            "/v1/content-items",
            json={
                "organization_id": run.organization_id,
                "engagement_id": run.engagement_id,
                "kind": "text",
                "title": text[:60],
                "body": text,
                "variants": [{"channel": "sandbox"}],
            },
            headers=manager,
        ),
        201,
        "writing a post",
    )
    for action in ("submit", "approve"):
        await _expect(
            await client.post(f"/v1/content-items/{item['id']}/{action}", json={}, headers=manager),
            200,
            f"{action} of a post",
        )
    variant_id: str = item["variants"][0]["id"]
    return variant_id
