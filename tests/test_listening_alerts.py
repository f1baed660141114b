"""Listening alerts: detection on hand-computed figures; rules, evaluation and alerts through the
gateway on mentions stored in hourly buckets (spikes) or just ingested (keywords); the alerts
schedule's interval; the ``ListeningAlerts`` round starting an alert's escalation;
``CrisisEscalation`` on Temporal's time-skipping server, with the listening activity replaced by
an in-memory alert under its real name."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.listening.alerts import detection, evaluation, rules
from services.listening.alerts.contracts import (
    ACKNOWLEDGE_SIGNAL,
    ALERT_ESCALATION_STEP,
    ALERTS_EVERY,
    ALERTS_EVERY_IN_DEV,
    ALERTS_SCHEDULE_ID,
    ALERTS_WORKFLOW,
    CRISIS_STATE_QUERY,
    CRISIS_WORKFLOW,
    ESCALATE_AFTER,
    EVALUATE_ALERTS,
    KEYWORD_WINDOW,
    RESOLVE_SIGNAL,
    AlertAcknowledged,
    AlertEscalationStep,
    AlertResolved,
    AlertsEvaluated,
    AlertsInput,
    AlertsRound,
    AlertStanding,
    CrisisEscalationInput,
    CrisisState,
    EvaluateAlerts,
    crisis_workflow_id,
)
from services.listening.models import Alert, Mention, OutboxEvent
from services.listening.worker import alerts_every, ensure_alerts_schedule
from shared import task_queues
from shared.auth import Role
from shared.settings import Settings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.lifecycle_helpers import start_time_skipping
from tests.test_thin_thread import create_org
from workflows.listening.alerts import CrisisEscalationWorkflow

HOUR = timedelta(hours=1)

# Detection, by hand


def test_ewma_weighs_recent_hours_most() -> None:
    assert detection.ewma([], 0.3) == 0.0
    assert detection.ewma([10], 0.3) == 10.0
    # 10, then 0.5·20 + 0.5·10 = 15, then 0.5·30 + 0.5·15 = 22.5.
    assert detection.ewma([10, 20, 30], 0.5) == 22.5
    # 8, then 0.25·0 + 0.75·8 = 6, then 0.25·4 + 0.75·6 = 5.5.
    assert detection.ewma([8, 0, 4], 0.25) == 5.5
    with pytest.raises(ValueError, match="alpha"):
        detection.ewma([1], 0)


def test_a_volume_spike_is_factor_times_the_baseline_and_never_under_the_minimum() -> None:
    steady = [4] * 168
    # Baseline 4: three times is 12, but the hour needs 20.
    assert detection.volume_spike(steady, 19, alpha=0.1, factor=3, min_count=20) == (
        detection.Verdict(alert=False, observed=19, baseline=4.0, threshold=20.0)
    )
    assert detection.volume_spike(steady, 20, alpha=0.1, factor=3, min_count=20).alert
    # Baseline 10: the threshold is 30.
    busy = detection.volume_spike([10] * 24, 29, alpha=0.1, factor=3, min_count=20)
    assert (busy.alert, busy.threshold) == (False, 30.0)


def test_three_mentions_after_silence_are_never_a_crisis() -> None:
    silence = [0] * 168
    # From nothing, 3 mentions are infinite growth: the floor and the minimum count say no.
    verdict = detection.volume_spike(silence, 3, alpha=0.1, factor=3, min_count=5)
    assert (verdict.alert, verdict.baseline, verdict.threshold) == (False, 0.0, 5.0)
    negative = detection.negative_share_spike(
        silence, silence, 3, 3, alpha=0.1, share_increase=0.25, min_count=5
    )
    assert (negative.alert, negative.observed) == (False, 1.0)
    # Rules cannot set a spike's minimum under the floor.
    problem = rules.problems("volume_spike", 3, [])
    assert problem is not None
    assert problem.status == 422


def test_a_negative_share_spike_is_the_share_over_the_baseline_share_plus_the_increase() -> None:
    # One negative in ten labelled an hour: a baseline share of 0.1, a threshold of 0.35.
    negatives, labelled = [1] * 24, [10] * 24
    verdict = detection.negative_share_spike(
        negatives, labelled, 12, 20, alpha=0.1, share_increase=0.25, min_count=10
    )
    assert verdict == detection.Verdict(alert=True, observed=0.6, baseline=0.1, threshold=0.35)
    calm = detection.negative_share_spike(
        negatives, labelled, 10, 40, alpha=0.1, share_increase=0.25, min_count=10
    )
    assert (calm.alert, calm.observed) == (False, 0.25)
    # A share that is already high needs the same increase on top, at most 1.
    gloomy = detection.negative_share_spike(
        [9] * 24, [10] * 24, 20, 20, alpha=0.1, share_increase=0.25, min_count=10
    )
    assert (gloomy.alert, gloomy.threshold) == (True, 1.0)


def test_keywords_match_whole_words_ignoring_case_and_accents() -> None:
    pattern = detection.keyword_pattern(["Intossicazione", "perché", "rimborso totale"])
    assert detection.keyword_matches("INTOSSICAZIONE dopo la cena, perche?", pattern) == [
        "intossicazione",
        "perche",
    ]
    assert detection.keyword_matches("Voglio il rimborso totale!", pattern) == ["rimborso totale"]
    assert detection.keyword_matches("rimborsototale, intossicazioni", pattern) == []
    assert detection.keyword_alert(1, min_count=1).alert
    assert not detection.keyword_alert(0, min_count=1).alert


def test_a_keyword_window_slides_with_the_evaluation_from_the_previous_alert_on() -> None:
    now = datetime(2026, 12, 3, 11, 47, 30, tzinfo=UTC)
    assert evaluation.keyword_window(now, None) == (now - KEYWORD_WINDOW, now)
    # An alert 5 minutes ago: its mentions are behind the new window's start.
    recent = now - timedelta(minutes=5)
    assert evaluation.keyword_window(now, recent) == (recent, now)
    # One older than the window changes nothing; one in the future (a clock ahead) empties it.
    assert evaluation.keyword_window(now, now - 2 * HOUR) == (now - KEYWORD_WINDOW, now)
    assert evaluation.keyword_window(now, now + HOUR) == (now, now)


def test_alerts_are_evaluated_every_30_seconds_in_development_else_every_5_minutes() -> None:
    dev = Settings().model_copy(update={"environment": "dev"})
    assert alerts_every(dev) == ALERTS_EVERY_IN_DEV == timedelta(seconds=30)
    assert alerts_every(dev.model_copy(update={"environment": "test"})) == ALERTS_EVERY
    assert timedelta(minutes=5) == ALERTS_EVERY
    configured = dev.listening.model_copy(update={"alerts_every_seconds": 90})
    assert alerts_every(dev.model_copy(update={"listening": configured})) == timedelta(seconds=90)


# Through the gateway

WINDOW_END = datetime(2026, 11, 20, 10, tzinfo=UTC)
WINDOW_START = WINDOW_END - HOUR


def mention(
    organization_id: str,
    engagement_id: str,
    published_at: datetime,
    *,
    text: str = "La Quercia",
    sentiment_label: str | None = "positive",
    ingested_at: datetime | None = None,
) -> Mention:
    stored = Mention(
        organization_id=uuid.UUID(organization_id),
        engagement_ids=[uuid.UUID(engagement_id)],
        query_ids=[],
        source="instagram",
        external_id=uuid.uuid4().hex,
        author_handle="lucia",
        text=text,
        published_at=published_at,
        hashtags=[],
        accounts=[],
        language="it",
        sentiment_label=sentiment_label,
        sentiment_model_version="test",
    )
    if ingested_at is not None:
        stored.ingested_at = ingested_at
    return stored


def quiet_day(organization_id: str, engagement_id: str) -> list[Mention]:
    """Two positive mentions in each of the 24 hours before the window."""
    return [
        mention(organization_id, engagement_id, WINDOW_START - hours * HOUR + minutes)
        for hours in range(1, 25)
        for minutes in (timedelta(minutes=10), timedelta(minutes=40))
    ]


def storm(organization_id: str, engagement_id: str) -> list[Mention]:
    """25 mentions in the window, 10 of them negative, one naming a food poisoning."""
    return [
        mention(
            organization_id,
            engagement_id,
            WINDOW_START + timedelta(minutes=2 * index),
            text="Intossicazione dopo la cena!" if index == 0 else f"Mention {index}",
            sentiment_label="negative" if index < 10 else "neutral",
        )
        for index in range(25)
    ]


async def create_rule(
    platform: Platform, engagement_id: str, body: dict[str, Any], role: Role = Role.MANAGER
) -> httpx.Response:
    return await platform.gateway.post(
        f"/v1/listening/engagements/{engagement_id}/alert-rules",
        json=body,
        headers=platform.auth(role),
    )


async def known_engagement(platform: Platform) -> tuple[str, str]:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)

    async def known() -> bool:
        response = await platform.gateway.get(
            f"/v1/listening/engagements/{engagement_id}/alert-rules",
            headers=platform.auth(Role.MANAGER),
        )
        return response.status_code == 200

    await wait_until(known, timeout=15)
    return organization_id, engagement_id


async def evaluate(platform: Platform, engagement_id: str, window_end: datetime) -> AlertsEvaluated:
    result = await platform.run_activity(
        task_queues.LISTENING,
        EVALUATE_ALERTS,
        EvaluateAlerts(engagement_id=uuid.UUID(engagement_id), window_end=window_end),
    )
    return AlertsEvaluated.model_validate(result)


@pytest.fixture(scope="module")
async def raised(platform: Platform, sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """An engagement with a rule of each kind, a quiet day and a storm, evaluated once."""
    organization_id, engagement_id = await known_engagement(platform)
    for body in (
        {"kind": "volume_spike", "name": "Volume"},
        {"kind": "negative_spike", "name": "Negative"},
        {"kind": "keyword", "name": "Food safety", "keywords": ["intossicazione"]},
    ):
        response = await create_rule(platform, engagement_id, body)
        assert response.status_code == 201, response.text
    async with sessions() as session:
        session.add_all(
            [*quiet_day(organization_id, engagement_id), *storm(organization_id, engagement_id)]
        )
        await session.commit()
    evaluated = await evaluate(platform, engagement_id, WINDOW_END)
    return {
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "evaluated": evaluated,
    }


async def alerts_of(platform: Platform, engagement_id: str, **params: Any) -> dict[str, Any]:
    response = await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/alerts",
        params=params,
        headers=platform.auth(Role.EDITOR),
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_rules_take_the_kinds_defaults_and_refuse_what_cannot_work(
    platform: Platform, raised: dict[str, Any]
) -> None:
    engagement_id = raised["engagement_id"]
    response = await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/alert-rules",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[raised["organization_id"]]),
    )
    by_kind = {rule["kind"]: rule for rule in response.json()}
    volume = by_kind["volume_spike"]
    assert (volume["min_count"], volume["factor"], volume["alpha"], volume["baseline_hours"]) == (
        20,
        3.0,
        0.1,
        168,
    )
    assert (by_kind["negative_spike"]["min_count"], by_kind["keyword"]["min_count"]) == (10, 1)
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"kind": "keyword", "name": "No words"}, "body.keywords"),
        ({"kind": "volume_spike", "name": "Tiny", "min_count": 3}, "body.min_count"),
        ({"kind": "volume_spike", "name": "Lax", "factor": 1.1}, "body.factor"),
        ({"kind": "negative_spike", "name": "Words", "keywords": ["x y"]}, "body.keywords"),
        ({"kind": "volume_spike", "name": "Q", "query_id": str(uuid.uuid4())}, "body.query_id"),
        ({"kind": "flood", "name": "Unknown kind"}, "body.kind"),
    ]
    for body, field in refusals:
        refused = await create_rule(platform, engagement_id, body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == field, (body, refused.text)
    forbidden = await create_rule(
        platform, engagement_id, {"kind": "volume_spike", "name": "E"}, Role.EDITOR
    )
    assert forbidden.status_code == 403
    # A change is checked as the rule would be.
    rule_id = volume["id"]
    changed = await platform.gateway.patch(
        f"/v1/listening/alert-rules/{rule_id}",
        json={"min_count": 2},
        headers=platform.auth(Role.MANAGER),
    )
    assert changed.status_code == 422, changed.text


async def test_an_hour_over_its_baseline_raises_an_alert_per_rule_with_its_evidence(
    platform: Platform, raised: dict[str, Any]
) -> None:
    evaluated: AlertsEvaluated = raised["evaluated"]
    assert (evaluated.raised, len(evaluated.open)) == (3, 3)
    page = await alerts_of(platform, raised["engagement_id"])
    by_kind = {alert["kind"]: alert for alert in page["alerts"]}
    assert set(by_kind) == {"volume_spike", "negative_spike", "keyword"}
    assert page["next_cursor"] is None
    volume = by_kind["volume_spike"]
    assert (volume["status"], volume["responsible_role"], volume["escalation_level"]) == (
        "open",
        "editor",
        0,
    )
    assert volume["workflow_id"] == f"crisis-{volume['id']}"
    evidence = volume["evidence"]
    assert datetime.fromisoformat(evidence["window_start"]) == WINDOW_START
    assert datetime.fromisoformat(evidence["window_end"]) == WINDOW_END
    # 2 an hour for a day, none the week before it: the EWMA (alpha 0.1) from 0 towards 2.
    expected = detection.ewma([0] * 144 + [2] * 24, 0.1)
    assert evidence["baseline"] == round(expected, 4)
    assert (evidence["observed"], evidence["threshold"], evidence["mentions"]) == (25, 20, 25)
    assert len(evidence["samples"]) == 5
    negative = by_kind["negative_spike"]["evidence"]
    # 10 negative of 25 labelled against a baseline share of 0.
    assert (negative["observed"], negative["baseline"], negative["threshold"]) == (0.4, 0.0, 0.25)
    assert (negative["negative"], negative["labelled"]) == (10, 25)
    assert {sample["sentiment_label"] for sample in negative["samples"]} == {"negative"}
    keyword = by_kind["keyword"]["evidence"]
    # Keywords read what was ingested in the last hour, up to the evaluation, whatever the hour.
    keyword_window = datetime.fromisoformat(keyword["window_end"]) - datetime.fromisoformat(
        keyword["window_start"]
    )
    assert keyword_window == KEYWORD_WINDOW
    assert datetime.fromisoformat(keyword["window_end"]) > datetime.now(UTC) - HOUR
    assert keyword["matched_keywords"] == ["intossicazione"]
    assert [sample["text"] for sample in keyword["samples"]] == ["Intossicazione dopo la cena!"]
    only_open = await alerts_of(platform, raised["engagement_id"], status="resolved")
    assert only_open["alerts"] == []
    first = await alerts_of(platform, raised["engagement_id"], limit=2)
    rest = await alerts_of(platform, raised["engagement_id"], cursor=first["next_cursor"])
    assert {a["id"] for a in first["alerts"] + rest["alerts"]} == {a["id"] for a in page["alerts"]}


async def test_evaluating_the_window_again_raises_nothing_new(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], raised: dict[str, Any]
) -> None:
    engagement_id = raised["engagement_id"]
    again = await evaluate(platform, engagement_id, WINDOW_END + timedelta(minutes=7))
    assert again.raised == 0
    assert {a.alert_id for a in again.open} == {a.alert_id for a in raised["evaluated"].open}
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count()).where(Alert.engagement_id == uuid.UUID(engagement_id))
        )
        announced = await session.scalar(
            select(func.count()).where(
                OutboxEvent.name == "listening.alert_raised",
                OutboxEvent.envelope["data"]["engagement_id"].astext == engagement_id,
            )
        )
    assert (stored, announced) == (3, 3)


async def test_a_keyword_alerts_on_what_was_just_ingested_and_never_twice_on_it(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await known_engagement(platform)
    body = {"kind": "keyword", "name": "Unanswered", "keywords": ["nessuno mi ha risposto"]}
    assert (await create_rule(platform, engagement_id, body)).status_code == 201
    now = datetime.now(UTC)
    complaint = "Ho scritto tre volte e nessuno mi ha risposto."
    async with sessions() as session:
        # Published hours ago but ingested now (a slow source): it counts; one ingested two
        # hours ago is behind the window.
        session.add_all(
            [
                mention(organization_id, engagement_id, now - 3 * HOUR, text=complaint),
                mention(organization_id, engagement_id, now - 3 * HOUR, text=complaint,
                        ingested_at=now - 2 * HOUR),
            ]
        )  # fmt: skip
        await session.commit()
    # Any hour: the spikes' hour does not matter to a keyword rule.
    first = await evaluate(platform, engagement_id, WINDOW_END)
    assert (first.raised, len(first.open)) == (1, 1)
    [alert] = (await alerts_of(platform, engagement_id))["alerts"]
    evidence = alert["evidence"]
    assert (evidence["observed"], evidence["mentions"]) == (1, 1)
    assert evidence["matched_keywords"] == ["nessuno mi ha risposto"]
    # Evaluated again while the alert is open: the same crisis, still handed to the round.
    again = await evaluate(platform, engagement_id, WINDOW_END)
    assert (again.raised, again.open) == (0, first.open)
    resolved = await platform.gateway.post(
        f"/v1/listening/alerts/{alert['id']}/resolve",
        json={"note": "Answered in private"},
        headers=platform.auth(Role.MANAGER),
    )
    assert resolved.status_code == 200, resolved.text
    # Resolved, the rule is armed again, but the complaint it saw is behind its window now.
    after = await evaluate(platform, engagement_id, WINDOW_END)
    assert (after.raised, after.open) == (0, [])
    async with sessions() as session:
        session.add(mention(organization_id, engagement_id, now, text=complaint))
        await session.commit()
    fresh = await evaluate(platform, engagement_id, WINDOW_END)
    assert fresh.raised == 1
    newest = (await alerts_of(platform, engagement_id))["alerts"][0]
    assert newest["evidence"]["window_start"] == evidence["window_end"]
    assert newest["evidence"]["mentions"] == 1


async def test_three_mentions_in_an_hour_raise_nothing(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await known_engagement(platform)
    for body in (
        {"kind": "volume_spike", "name": "Volume", "min_count": 5},
        {"kind": "negative_spike", "name": "Negative", "min_count": 5},
    ):
        assert (await create_rule(platform, engagement_id, body)).status_code == 201
    async with sessions() as session:
        session.add_all(
            [
                mention(organization_id, engagement_id, WINDOW_START + timedelta(minutes=m),
                        sentiment_label="negative")
                for m in (5, 15, 25)
            ]
        )  # fmt: skip
        await session.commit()
    evaluated = await evaluate(platform, engagement_id, WINDOW_END)
    assert (evaluated.raised, evaluated.open) == (0, [])


async def test_acknowledge_then_resolve_with_a_note_and_409_once_over(
    platform: Platform, raised: dict[str, Any]
) -> None:
    page = await alerts_of(platform, raised["engagement_id"])
    alert_id = next(a["id"] for a in page["alerts"] if a["kind"] == "keyword")
    url = f"/v1/listening/alerts/{alert_id}"
    viewer = await platform.gateway.post(
        f"{url}/acknowledge", json={}, headers=platform.auth(Role.CLIENT_VIEWER)
    )
    assert viewer.status_code == 403
    acknowledged = await platform.gateway.post(
        f"{url}/acknowledge",
        json={"note": "Calling the kitchen"},
        headers=platform.auth(Role.EDITOR),
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert (acknowledged.json()["status"], acknowledged.json()["acknowledge_note"]) == (
        "acknowledged",
        "Calling the kitchen",
    )
    twice = await platform.gateway.post(
        f"{url}/acknowledge", json={}, headers=platform.auth(Role.EDITOR)
    )
    assert twice.status_code == 409
    no_note = await platform.gateway.post(
        f"{url}/resolve", json={"note": "  "}, headers=platform.auth(Role.MANAGER)
    )
    assert no_note.status_code == 422
    assert no_note.json()["errors"][0]["field"] == "body.note"
    resolved = await platform.gateway.post(
        f"{url}/resolve",
        json={"note": "A single customer; refunded and answered in public"},
        headers=platform.auth(Role.MANAGER),
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolve_note"]) == (
        "resolved",
        "A single customer; refunded and answered in public",
    )
    for action, payload in (("resolve", {"note": "again"}), ("acknowledge", {})):
        refused = await platform.gateway.post(
            f"{url}/{action}", json=payload, headers=platform.auth(Role.ADMIN)
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "urn:engage:problem:conflict"
    viewer_of_the_client = platform.auth(Role.CLIENT_VIEWER, orgs=[raised["organization_id"]])
    fetched = await platform.gateway.get(url, headers=viewer_of_the_client)
    assert fetched.json()["status"] == "resolved"


async def test_another_organisation_sees_no_alert_and_no_rule(
    platform: Platform, raised: dict[str, Any]
) -> None:
    other = await create_org(platform, "Another client")
    outsider = platform.auth(Role.ADMIN, orgs=[other])
    page = await alerts_of(platform, raised["engagement_id"])
    alert_id = page["alerts"][0]["id"]
    for response in (
        await platform.gateway.get(f"/v1/listening/alerts/{alert_id}", headers=outsider),
        await platform.gateway.post(
            f"/v1/listening/alerts/{alert_id}/acknowledge", json={}, headers=outsider
        ),
        await platform.gateway.get(
            f"/v1/listening/engagements/{raised['engagement_id']}/alerts", headers=outsider
        ),
        await platform.gateway.post(
            f"/v1/listening/engagements/{raised['engagement_id']}/alert-rules",
            json={"kind": "volume_spike", "name": "Spy"},
            headers=outsider,
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"


# The round and the escalation on the platform


async def test_the_worker_keeps_one_alerts_schedule(platform: Platform) -> None:
    settings = platform.settings
    await ensure_alerts_schedule(platform.temporal, settings)
    await ensure_alerts_schedule(platform.temporal, settings)
    handle = platform.temporal.get_schedule_handle(
        f"{settings.temporal.task_queue_prefix}{ALERTS_SCHEDULE_ID}"
    )
    try:
        described = await handle.describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(minutes=5)
        assert described.schedule.action.workflow == ALERTS_WORKFLOW  # type: ignore[attr-defined]
        # Started again with another interval, the worker retimes the schedule it finds.
        faster = settings.listening.model_copy(update={"alerts_every_seconds": 30})
        await ensure_alerts_schedule(
            platform.temporal, settings.model_copy(update={"listening": faster})
        )
        [interval] = (await handle.describe()).schedule.spec.intervals
        assert interval.every == timedelta(seconds=30)
    finally:
        await handle.delete()


async def test_a_round_raises_a_keyword_alert_and_its_escalation_hears_the_gateway(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await known_engagement(platform)
    response = await create_rule(
        platform, engagement_id, {"kind": "keyword", "name": "Refunds", "keywords": ["rimborso"]}
    )
    assert response.status_code == 201
    last_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - HOUR
    async with sessions() as session:
        session.add(mention(organization_id, engagement_id, last_hour + timedelta(minutes=30),
                            text="Voglio un rimborso"))  # fmt: skip
        await session.commit()
    prefix = platform.settings.temporal.task_queue_prefix
    summary: AlertsRound = await platform.temporal.execute_workflow(
        ALERTS_WORKFLOW,
        AlertsInput(task_queue_prefix=prefix),
        id=f"alerts-test-{uuid.uuid4()}",
        task_queue=platform.settings.task_queue(task_queues.WORKFLOWS),
        result_type=AlertsRound,
    )
    assert summary.raised >= 1
    [alert] = (await alerts_of(platform, engagement_id))["alerts"]
    handle = platform.temporal.get_workflow_handle(alert["workflow_id"], result_type=CrisisState)

    async def state() -> CrisisState:
        found: CrisisState = await handle.query(CRISIS_STATE_QUERY, result_type=CrisisState)
        return found

    assert (await state()).status == "open"
    acknowledged = await platform.gateway.post(
        f"/v1/listening/alerts/{alert['id']}/acknowledge",
        json={"note": "On it"},
        headers=platform.auth(Role.EDITOR),
    )
    assert acknowledged.status_code == 200

    async def heard() -> bool:
        return (await state()).status == "acknowledged"

    await wait_until(heard)
    resolved = await platform.gateway.post(
        f"/v1/listening/alerts/{alert['id']}/resolve",
        json={"note": "Refund sent"},
        headers=platform.auth(Role.EDITOR),
    )
    assert resolved.status_code == 200
    async with asyncio.timeout(10):
        result: CrisisState = await handle.result()
    assert (result.status, result.resolved_by) == ("resolved", "tester")


# Escalation on durable timers


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


class StoredAlert:
    """Listening's alert, in memory: escalation steps as the service takes them."""

    def __init__(self) -> None:
        self.alert_id = uuid.uuid4()
        self.status = "open"
        self.level = 0
        self.role = "editor"
        self.steps: list[AlertEscalationStep] = []

    @activity.defn(name=ALERT_ESCALATION_STEP)
    async def step(self, step: AlertEscalationStep) -> AlertStanding:
        self.steps.append(step)
        escalated = step.role is not None and self.status == "open" and self.level < step.level
        if escalated:
            assert step.role is not None
            self.level, self.role = step.level, step.role
        return AlertStanding(
            alert_id=self.alert_id,
            status=self.status,
            responsible_role=self.role,
            escalation_level=self.level,
            escalated=escalated,
        )

    def roles(self) -> list[str | None]:
        return [step.role for step in self.steps]


Handle = WorkflowHandle[CrisisEscalationWorkflow, CrisisState]


@asynccontextmanager
async def escalation(env: WorkflowEnvironment, alert: StoredAlert) -> AsyncIterator[Handle]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    workflows = Worker(
        env.client, task_queue=prefix + task_queues.WORKFLOWS, workflows=[CrisisEscalationWorkflow]
    )
    listening = Worker(
        env.client, task_queue=prefix + task_queues.LISTENING, activities=[alert.step]
    )
    async with workflows, listening:
        yield await env.client.start_workflow(
            CRISIS_WORKFLOW,
            CrisisEscalationInput(
                alert_id=alert.alert_id,
                organization_id=uuid.uuid4(),
                engagement_id=uuid.uuid4(),
                task_queue_prefix=prefix,
            ),
            id=crisis_workflow_id(alert.alert_id),
            task_queue=prefix + task_queues.WORKFLOWS,
            result_type=CrisisState,
        )


async def state_when(handle: Handle, condition: Callable[[CrisisState], bool]) -> CrisisState:
    async with asyncio.timeout(10):
        while True:
            state: CrisisState = await handle.query(CRISIS_STATE_QUERY, result_type=CrisisState)
            if condition(state):
                return state
            await asyncio.sleep(0.05)


async def test_an_unanswered_alert_climbs_to_the_manager_then_the_admin(
    time_skipping: WorkflowEnvironment,
) -> None:
    alert = StoredAlert()
    async with escalation(time_skipping, alert) as handle:
        await time_skipping.sleep(ESCALATE_AFTER + timedelta(minutes=1))
        state = await state_when(handle, lambda s: s.escalation_level == 1)
        assert (state.status, state.responsible_role) == ("open", "manager")
        await time_skipping.sleep(ESCALATE_AFTER)
        state = await state_when(handle, lambda s: s.escalation_level == 2)
        assert state.responsible_role == "admin"
        await handle.signal(ACKNOWLEDGE_SIGNAL, AlertAcknowledged(by="boss"))
        await state_when(handle, lambda s: s.status == "acknowledged")
        await time_skipping.sleep(timedelta(days=3))
        assert alert.roles() == ["manager", "admin", None, None, None]
        alert.status = "resolved"
        await handle.signal(RESOLVE_SIGNAL, AlertResolved(by="boss", note="Handled"))
        result = await handle.result()
    assert (result.status, result.acknowledged_by, result.resolved_by) == (
        "resolved",
        "boss",
        "boss",
    )


async def test_acknowledging_in_time_stops_the_escalation(
    time_skipping: WorkflowEnvironment,
) -> None:
    alert = StoredAlert()
    async with escalation(time_skipping, alert) as handle:
        await time_skipping.sleep(ESCALATE_AFTER / 2)
        await handle.signal(ACKNOWLEDGE_SIGNAL, AlertAcknowledged(by="analyst", note="Looking"))
        await state_when(handle, lambda s: s.status == "acknowledged")
        await time_skipping.sleep(ESCALATE_AFTER * 4)
        state = await state_when(handle, lambda s: s.status == "acknowledged")
        assert (state.responsible_role, state.escalation_level) == ("editor", 0)
        assert alert.roles() == []
        await handle.signal(RESOLVE_SIGNAL, AlertResolved(by="analyst", note="Spam wave"))
        result = await handle.result()
    assert (result.status, result.acknowledged_by) == ("resolved", "analyst")


async def test_an_acknowledgement_whose_signal_was_lost_still_stops_the_escalation(
    time_skipping: WorkflowEnvironment,
) -> None:
    alert = StoredAlert()
    # Acknowledged, then resolved, through the API while the workflow heard nothing.
    alert.status = "acknowledged"
    async with escalation(time_skipping, alert) as handle:
        await time_skipping.sleep(ESCALATE_AFTER + timedelta(minutes=1))
        await state_when(handle, lambda s: s.status == "acknowledged")
        assert alert.level == 0
        alert.status = "resolved"
        await time_skipping.sleep(timedelta(days=1, minutes=1))
        result = await handle.result()
    assert result.status == "resolved"
    assert alert.roles() == ["manager", None]
