"""The lifecycle through the real publisher, on the in-process platform and the sandbox: an
engagement with a sandbox connection and an approved plan goes through setup and seeding and its
plan's posts end up on the sandbox; a post that fails for good shows on the engagement; the
publisher's engagement activities answer from its tables (the connections chosen, an
engagement's metrics collected once per key, a period's figures checked against known posts), and
a cycle's periodic report is the reporting service's KPIs of the same posts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.contracts import (
    COLLECT_METRICS,
    ENGAGEMENT_CONNECTIONS,
    ENGAGEMENT_PERIOD_SUMMARY,
    ChannelConnection,
    CollectMetricsCommand,
    EngagementConnections,
    EngagementConnectionsQuery,
    EngagementPeriodQuery,
    EngagementPeriodSummary,
    MetricsCollected,
    PostMetricsTotals,
)
from services.publisher.metrics import collection_event_id
from services.publisher.models import Connection, OutboxEvent
from services.reporting.contracts import (
    ENGAGEMENT_PERIOD_KPIS,
    EngagementKpis,
    EngagementPeriodKpisQuery,
)
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import engagement_state, stored_engagement
from tests.publisher_helpers import SandboxAccount, connect_sandbox, schedule, settled
from tests.test_plan_api import approve_plan, fill, slots_of
from tests.test_plan_publishing import clear_of_midnight, variant
from tests.test_thin_thread import create_org
from workflows.reporting.messages import (
    REPORT_WORKFLOW_NAME,
    PeriodicReportInput,
    PeriodicReportSummary,
)

# Time enough to prepare the plan and pass three gates before the first slot starts.
FIRST_SLOT_IN = timedelta(seconds=45)
SECOND_SLOT_IN = timedelta(seconds=60)
WINDOW = timedelta(seconds=30)
# Seeding lasts about a second; the go-live gate then waits for the test.
TIME_SCALE = 1e-6


def sandbox_rule(now: datetime) -> dict[str, Any]:
    starts = [now + FIRST_SLOT_IN, now + SECOND_SLOT_IN]
    return {
        "id": "live",
        "pillar": "Vita in agriturismo",
        "formats": ["text"],
        "channels": ["sandbox"],
        "days": [now.weekday()],
        "windows": [
            {"start": start.time().isoformat(), "end": (start + WINDOW).time().isoformat()}
            for start in starts
        ],
        "cadence": {"per": "day", "count": 2},
        "target": "famiglie",
    }


async def state_when(
    platform: Platform, engagement_id: str, condition: Any, timeout: float = 30
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def holds() -> bool:
        found.update(await engagement_state(platform, engagement_id))
        return bool(condition(found))

    await wait_until(holds, timeout=timeout, interval=0.2)
    return found


def deliverable(state: dict[str, Any], name: str, phase: str) -> dict[str, Any] | None:
    return next(
        (d["reference"] for d in state["deliverables"] if (d["name"], d["phase"]) == (name, phase)),
        None,
    )


async def approve(platform: Platform, engagement_id: str, gate: str, organization_id: str) -> None:
    await state_when(
        platform,
        engagement_id,
        lambda s: any(p["gate"] == gate for p in s["pending_approvals"]),
    )
    role = Role.CLIENT_APPROVER if gate in ("brief", "strategy") else Role.MANAGER
    decided = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/approvals",
        json={"gate": gate, "decision": "approve"},
        headers=platform.auth(role, orgs=[organization_id]),
    )
    assert decided.status_code == 200, decided.text


async def test_an_engagement_publishes_its_approved_plan_on_the_sandbox(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    now = await clear_of_midnight()
    organization_id = await create_org(platform, "Agriturismo Il Sentiero")
    account = await connect_sandbox(platform, sandbox, organization_id)
    today = date.today()
    created = await platform.gateway.post(
        "/v1/engagements",
        json={
            "organization_id": organization_id,
            "mode": "realizzazione",
            "channels": ["sandbox"],
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=13)).isoformat(),
            "time_scale": TIME_SCALE,
        },
        headers=platform.auth(Role.MANAGER),
    )
    assert created.status_code == 201, created.text
    engagement_id = created.json()["id"]
    generated = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan",
        json={
            "organization_id": organization_id,
            "period_start": now.date().isoformat(),
            "period_end": now.date().isoformat(),
            "rules": {"timezone": "Europe/Rome", "rules": [sandbox_rule(now)]},
        },
        headers=platform.auth(Role.EDITOR),
    )
    assert generated.status_code == 201, generated.text
    texts = ["Colazione in terrazza, vista Gubbio", "Il sentiero dei cappuccini al tramonto"]
    slots = sorted(await slots_of(platform, engagement_id), key=lambda s: s["starts_at"])
    for slot, text in zip(slots, texts, strict=True):
        _, variant_id = await variant(platform, organization_id, engagement_id, "sandbox", text)
        filled = await fill(platform, engagement_id, slot["id"], variant_id)
        assert filled.status_code == 200, filled.text
    await approve_plan(platform, engagement_id)

    for gate in ("brief", "strategy"):
        await approve(platform, engagement_id, gate, organization_id)
    at_gate = await state_when(
        platform,
        engagement_id,
        lambda s: any(p["gate"] == "editorial_plan" for p in s["pending_approvals"]),
    )
    connections = deliverable(at_gate, "channel_connections", "setup")
    assert connections is not None
    assert connections["verified"] is True
    assert [(c["channel"], c["status"], c["connection_id"]) for c in connections["channels"]] == [
        ("sandbox", "connected", account.connection_id)
    ]
    [pending] = at_gate["pending_approvals"]
    assert pending["missing_deliverables"] == []
    await approve(platform, engagement_id, "editorial_plan", organization_id)

    seeding = await state_when(
        platform, engagement_id, lambda s: deliverable(s, "plan_publishing", "seeding")
    )
    assert deliverable(seeding, "plan_publishing", "seeding") == {
        "status": "done",
        "workflow_id": f"plan-publishing-{engagement_id}",
        "plan_generation": 1,
        "connections": {"sandbox": account.connection_id},
        "scheduled": 2,
        "skipped": {},
    }
    listed = await platform.gateway.get(
        "/v1/publications",
        params={"engagement_id": engagement_id},
        headers=platform.auth(Role.MANAGER),
    )
    publications = listed.json()
    assert len(publications) == 2
    for publication in publications:
        due_at = datetime.fromisoformat(publication["due_at"])
        remaining = max((due_at - datetime.now(UTC)).total_seconds(), 0)
        done = await settled(platform, publication["id"], timeout=remaining + 30)
        assert done["status"] == "published", done
        assert [post["id"] for post in await account.posts(done["idempotency_key"])] == [
            done["platform_post_id"]
        ]
    assert sorted(post["text"] for post in await account.posts()) == sorted(texts)

    # A post of the engagement that fails for good (its connection was revoked) shows on it.
    revoked = await sandbox.post(f"/sandbox/accounts/{account.account_id}/revoke-tokens")
    assert revoked.status_code == 204
    failing = await schedule(platform, account, in_seconds=0.3, engagement_id=engagement_id)
    assert (await settled(platform, failing["id"]))["status"] == "failed"
    shown = await state_when(platform, engagement_id, lambda s: s["publication_failures_total"])
    [failure] = shown["publication_failures"]
    assert (failure["publication_id"], failure["channel"], failure["failure_class"]) == (
        failing["id"],
        "sandbox",
        "auth",
    )
    task_id = f"publication-{failing['id']}-failed"
    [task] = [t for t in shown["open_tasks"] if t["id"] == task_id]
    assert (task["owner"], task["kind"], task["phase"]) == ("agency", "operational", "seeding")
    assert task["title"] == "Re-authorise the sandbox connection: a post could not be published"

    # Go live: launch and the two support cycles find no active connection left to publish
    # through, and each cycle still collects and reports.
    await approve(platform, engagement_id, "go_live", organization_id)
    final = await state_when(
        platform, engagement_id, lambda s: s["status"] == "completed", timeout=60
    )
    assert deliverable(final, "plan_publishing", "launch") == {
        "status": "skipped",
        "reason": "no_connection",
    }
    reports = [d["reference"] for d in final["deliverables"] if d["name"] == "periodic_report"]
    assert [report["cycle"] for report in reports] == [1, 2]
    for report in reports:
        assert PeriodicReportSummary.model_validate(report).posts_failed >= 0
    assert final["publication_failures_total"] == 1


async def test_the_engagements_connection_is_the_newest_active_one_of_its_organisation(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    older = await connect_sandbox(platform, sandbox, organization_id)
    newer = await connect_sandbox(platform, sandbox, organization_id)
    # Newest of all, but another organisation's: never the answer.
    await connect_sandbox(platform, sandbox, await create_org(platform))
    query = EngagementConnectionsQuery(
        organization_id=uuid.UUID(organization_id), channels=[Channel.SANDBOX, Channel.FACEBOOK]
    )

    async def connections() -> list[ChannelConnection]:
        answer = await platform.run_activity(task_queues.PUBLISHER, ENGAGEMENT_CONNECTIONS, query)
        return EngagementConnections.model_validate(answer).channels

    sandbox_now, facebook = await connections()
    assert (sandbox_now.status, str(sandbox_now.connection_id)) == (
        "connected",
        newer.connection_id,
    )
    assert sandbox_now.account_id == newer.account_id
    assert (facebook.status, facebook.connection_id) == ("missing", None)

    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == uuid.UUID(newer.connection_id))
            .values(status="needs_reauth")
        )
    sandbox_now, _ = await connections()
    assert (sandbox_now.status, str(sandbox_now.connection_id)) == (
        "connected",
        older.connection_id,
    )
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == uuid.UUID(older.connection_id))
            .values(status="disconnected")
        )
    sandbox_now, _ = await connections()
    assert (sandbox_now.status, str(sandbox_now.connection_id)) == (
        "needs_reauth",
        newer.connection_id,
    )


async def published_posts(
    platform: Platform, account: SandboxAccount, engagement_id: str, count: int
) -> list[dict[str, Any]]:
    posts = [
        await schedule(platform, account, in_seconds=0.3, engagement_id=engagement_id)
        for _ in range(count)
    ]
    done = [await settled(platform, post["id"]) for post in posts]
    assert [post["status"] for post in done] == ["published"] * count
    return done


async def latest_samples(platform: Platform, publication_ids: list[str]) -> list[dict[str, Any]]:
    latest = []
    for publication_id in publication_ids:
        read = await platform.gateway.get(
            f"/v1/publications/{publication_id}/metrics", headers=platform.auth(Role.MANAGER)
        )
        assert read.status_code == 200, read.text
        latest.append(read.json()[-1])
    return latest


async def test_a_period_is_summed_from_the_publishers_tables_and_reported_with_its_kpis(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    account = await connect_sandbox(platform, sandbox, organization_id)
    # Outside the report: a post published before the period, and another engagement's.
    await published_posts(platform, account, engagement_id, 1)
    window_start = datetime.now(UTC)
    published = await published_posts(platform, account, engagement_id, 3)
    other_engagement = await stored_engagement(platform, organization_id)
    await published_posts(platform, account, other_engagement, 1)
    revoked_account = await connect_sandbox(platform, sandbox, organization_id)
    revoked = await sandbox.post(f"/sandbox/accounts/{revoked_account.account_id}/revoke-tokens")
    assert revoked.status_code == 204
    failing = await schedule(platform, revoked_account, in_seconds=0.3, engagement_id=engagement_id)
    assert (await settled(platform, failing["id"]))["status"] == "failed"

    key = f"engagement-{engagement_id}/cycle/1"
    command = CollectMetricsCommand(
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        collection_key=key,
    )
    collected = MetricsCollected.model_validate(
        await platform.run_activity(task_queues.PUBLISHER, COLLECT_METRICS, command)
    )
    again = MetricsCollected.model_validate(
        await platform.run_activity(task_queues.PUBLISHER, COLLECT_METRICS, command)
    )
    # The collection takes every recent post of the engagement, the report its period's.
    assert (collected.posts, collected.accounts, collected.repeated) == (4, 1, False)
    assert again == collected.model_copy(update={"repeated": True})
    async with session_scope(sessions, SYSTEM) as session:
        announced = await session.scalar(
            select(func.count()).where(OutboxEvent.event_id == str(collection_event_id(key)))
        )
        event = await session.scalar(
            select(OutboxEvent.envelope).where(
                OutboxEvent.event_id == str(collection_event_id(key))
            )
        )
    assert announced == 1
    assert event is not None
    assert event["data"]["engagement_id"] == engagement_id
    assert (event["data"]["posts"], event["data"]["accounts"]) == (4, 1)

    samples = await latest_samples(platform, [post["id"] for post in published])
    assert {datetime.fromisoformat(s["collected_at"]) for s in samples} == {collected.collected_at}
    expected = PostMetricsTotals(
        **{
            figure: sum(sample[figure] or 0 for sample in samples)
            for figure in PostMetricsTotals.model_fields
        }
    )
    assert expected.impressions > 0
    window_end = datetime.now(UTC) + timedelta(seconds=1)
    query = EngagementPeriodQuery(
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        starts_at=window_start,
        ends_at=window_end,
        metrics_as_of=collected.collected_at,
    )

    async def period_summary() -> EngagementPeriodSummary:
        answer = await platform.run_activity(
            task_queues.PUBLISHER, ENGAGEMENT_PERIOD_SUMMARY, query
        )
        return EngagementPeriodSummary.model_validate(answer)

    summary = await period_summary()
    assert (summary.posts_published, summary.posts_failed) == (3, 1)
    assert [(c.channel, c.published, c.failed) for c in summary.by_channel] == [
        (Channel.SANDBOX, 3, 1)
    ]
    assert summary.posts_with_metrics == 3
    assert summary.metrics == expected
    assert summary.metrics_collected_at == collected.collected_at

    # A later collection does not change the summary of samples up to its own.
    await platform.run_activity(
        task_queues.PUBLISHER,
        COLLECT_METRICS,
        command.model_copy(update={"collection_key": f"{key}-later"}),
    )
    read = await platform.gateway.get(
        f"/v1/publications/{published[0]['id']}/metrics", headers=platform.auth(Role.MANAGER)
    )
    assert len(read.json()) == 2
    assert await period_summary() == summary

    # The cycle's report is the reporting service's KPIs of the window, once its read model has
    # taken in the same posts.
    kpis_query = EngagementPeriodKpisQuery(
        engagement_id=uuid.UUID(engagement_id),
        organization_id=uuid.UUID(organization_id),
        starts_at=window_start,
        ends_at=window_end,
    )

    async def kpis_caught_up() -> bool:
        answer = await platform.run_activity(
            task_queues.REPORTING, ENGAGEMENT_PERIOD_KPIS, kpis_query
        )
        publishing = EngagementKpis.model_validate(answer).publishing
        return (publishing.published, publishing.failed) == (3, 1)

    await wait_until(kpis_caught_up, timeout=30, interval=0.5)
    prefix = platform.settings.temporal.task_queue_prefix
    request = PeriodicReportInput(
        engagement_id=uuid.UUID(engagement_id),
        organization_id=uuid.UUID(organization_id),
        cycle=1,
        period_start=window_start.date(),
        period_end=window_end.date(),
        window_start=window_start,
        window_end=window_end,
        metrics_as_of=collected.collected_at,
        task_queue_prefix=prefix,
    )

    async def report(run_id: str) -> PeriodicReportSummary:
        result: PeriodicReportSummary = await platform.temporal.execute_workflow(
            REPORT_WORKFLOW_NAME,
            request,
            id=run_id,
            task_queue=prefix + task_queues.WORKFLOWS,
            result_type=PeriodicReportSummary,
            execution_timeout=timedelta(seconds=60),
        )
        return result

    reported = await report(f"periodic-report-{engagement_id}-1")
    assert (reported.posts_published, reported.posts_failed) == (3, 1)
    assert reported.kpis is not None
    assert (reported.kpis.period.starts_at, reported.kpis.period.ends_at) == (
        window_start,
        window_end,
    )
    [channel] = reported.kpis.publishing.by_channel
    assert (channel.channel, channel.published, channel.failed) == ("sandbox", 3, 1)
    assert reported.metrics is None
