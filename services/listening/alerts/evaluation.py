"""Evaluating an engagement's rules: spikes over the last complete hour (PostgreSQL counts the
hours, only a row per hour comes back), keywords over the mentions ingested in the
``KEYWORD_WINDOW`` before the evaluation; ``detection`` decides, and each alert is stored once
per rule and window with its ``alert_raised`` event in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events, repository
from services.listening.alerts import detection
from services.listening.alerts.contracts import (
    ESCALATION_LADDER,
    KEYWORD_WINDOW,
    AlertKind,
    AlertsEvaluated,
    OpenAlert,
)
from services.listening.alerts.schemas import Evidence, SampleMention
from services.listening.models import Alert, AlertRule, Mention, outbox
from shared.events.envelope import new_event

HOUR = timedelta(hours=1)
SAMPLES = 5
SAMPLE_CHARACTERS = 500
# Keywords are matched in Python (folding accents as PostgreSQL's 'simple' search does not):
# at most this many of the window's mentions are read, newest first.
KEYWORD_SCAN_LIMIT = 5_000
UNRESOLVED = ("open", "acknowledged")
# An alert still open this long after it was raised is handed to the round again, so an
# escalation that failed to start is started by a later round (never twice: its id is the
# alert's).
ESCALATION_RETRY = timedelta(hours=1)


def window_of(window_end: datetime) -> tuple[datetime, datetime]:
    """The complete hour ending at ``window_end`` (on the hour)."""
    end = window_end.replace(minute=0, second=0, microsecond=0)
    return end - HOUR, end


def keyword_window(now: datetime, previous_end: datetime | None) -> tuple[datetime, datetime]:
    """The ``KEYWORD_WINDOW`` ending at ``now``, starting no earlier than the end of the rule's
    previous alert: mentions that raised an alert never raise another."""
    start = now - KEYWORD_WINDOW
    if previous_end is not None:
        start = max(start, min(previous_end, now))
    return start, now


@dataclass(frozen=True)
class HourlyCounts:
    """Counts per hour before the window (oldest first), and the window's own."""

    mentions: list[int]
    negative: list[int]
    labelled: list[int]
    window_mentions: int
    window_negative: int
    window_labelled: int


def _conditions(
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    query_id: uuid.UUID | None,
    since: datetime,
    until: datetime,
) -> list[ColumnElement[bool]]:
    return [
        Mention.organization_id == organization_id,
        *repository.mention_conditions(
            engagement_id, query_id=query_id, published_from=since, published_to=until
        ),
    ]


async def hourly_counts(
    session: AsyncSession,
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    query_id: uuid.UUID | None,
    window_start: datetime,
    baseline_hours: int,
) -> HourlyCounts:
    since = window_start - baseline_hours * HOUR
    window_end = window_start + HOUR
    placed = (
        select(
            func.date_bin(
                bindparam("bucket_width", HOUR),
                Mention.published_at,
                bindparam("bucket_origin", window_start, type_=DateTime(timezone=True)),
                type_=DateTime(timezone=True),
            ).label("bucket"),
            Mention.sentiment_label,
        )
        .where(*_conditions(organization_id, engagement_id, query_id, since, window_end))
        .subquery()
    )
    label = placed.c.sentiment_label
    rows = await session.execute(
        select(
            placed.c.bucket,
            func.count().label("mentions"),
            func.count().filter(label == "negative").label("negative"),
            func.count().filter(label.is_not(None)).label("labelled"),
        ).group_by(placed.c.bucket)
    )
    slots = baseline_hours + 1
    mentions, negative, labelled = [0] * slots, [0] * slots, [0] * slots
    for row in rows:
        index = int((row.bucket - since) / HOUR)
        if 0 <= index < slots:
            mentions[index], negative[index], labelled[index] = (
                row.mentions,
                row.negative,
                row.labelled,
            )
    return HourlyCounts(
        mentions=mentions[:-1],
        negative=negative[:-1],
        labelled=labelled[:-1],
        window_mentions=mentions[-1],
        window_negative=negative[-1],
        window_labelled=labelled[-1],
    )


def _sample(mention: Mention) -> SampleMention:
    return SampleMention(
        mention_id=mention.id,
        text=mention.text[:SAMPLE_CHARACTERS],
        source=mention.source,
        author_handle=mention.author_handle,
        published_at=mention.published_at,
        sentiment_label=mention.sentiment_label,
        url=mention.url,
    )


async def _hour_mentions(
    session: AsyncSession,
    rule: AlertRule,
    window_start: datetime,
    *,
    limit: int,
    negative_only: bool = False,
) -> list[Mention]:
    conditions = _conditions(
        rule.organization_id, rule.engagement_id, rule.query_id, window_start, window_start + HOUR
    )
    if negative_only:
        conditions.append(Mention.sentiment_label == "negative")
    found = await session.scalars(
        select(Mention)
        .where(*conditions)
        .order_by(Mention.published_at.desc(), Mention.id)
        .limit(limit)
    )
    return list(found.all())


async def _ingested_mentions(
    session: AsyncSession, rule: AlertRule, start: datetime, end: datetime
) -> list[Mention]:
    """The rule's mentions ingested in ``[start, end)``, newest first."""
    found = await session.scalars(
        select(Mention)
        .where(
            Mention.organization_id == rule.organization_id,
            *repository.mention_conditions(rule.engagement_id, query_id=rule.query_id),
            Mention.ingested_at >= start,
            Mention.ingested_at < end,
        )
        .order_by(Mention.ingested_at.desc(), Mention.id)
        .limit(KEYWORD_SCAN_LIMIT)
    )
    return list(found.all())


async def _keyword_evidence(
    session: AsyncSession, rule: AlertRule, start: datetime, end: datetime
) -> Evidence | None:
    """The rule's evidence when enough mentions ingested in ``[start, end)`` hold a keyword,
    else None."""
    pattern = detection.keyword_pattern(rule.keywords)
    mentions = await _ingested_mentions(session, rule, start, end)
    matching = [
        (mention, found)
        for mention in mentions
        if (found := detection.keyword_matches(mention.text, pattern))
    ]
    verdict = detection.keyword_alert(len(matching), min_count=rule.min_count)
    if not verdict.alert:
        return None
    return Evidence(
        window_start=start,
        window_end=end,
        mentions=len(mentions),
        baseline_hours=rule.baseline_hours,
        alpha=rule.alpha,
        observed=verdict.observed,
        baseline=verdict.baseline,
        threshold=verdict.threshold,
        matched_keywords=list(dict.fromkeys(word for _, words in matching for word in words)),
        samples=[_sample(mention) for mention, _ in matching[:SAMPLES]],
    )


async def _spike_evidence(
    session: AsyncSession, rule: AlertRule, window_start: datetime, counts: HourlyCounts
) -> Evidence | None:
    """The rule's evidence for the hour when the hour is a spike, else None."""
    kind: AlertKind = rule.kind  # type: ignore[assignment]
    figures = {
        "window_start": window_start,
        "window_end": window_start + HOUR,
        "mentions": counts.window_mentions,
        "baseline_hours": rule.baseline_hours,
        "alpha": rule.alpha,
    }
    if kind == "volume_spike":
        verdict = detection.volume_spike(
            counts.mentions,
            counts.window_mentions,
            alpha=rule.alpha,
            factor=rule.factor,
            min_count=rule.min_count,
        )
    else:
        verdict = detection.negative_share_spike(
            counts.negative,
            counts.labelled,
            counts.window_negative,
            counts.window_labelled,
            alpha=rule.alpha,
            share_increase=rule.share_increase,
            min_count=rule.min_count,
        )
    if not verdict.alert:
        return None
    samples = await _hour_mentions(
        session, rule, window_start, limit=SAMPLES, negative_only=kind == "negative_spike"
    )
    return Evidence(
        **figures,
        observed=verdict.observed,
        baseline=verdict.baseline,
        threshold=verdict.threshold,
        negative=counts.window_negative if kind == "negative_spike" else None,
        labelled=counts.window_labelled if kind == "negative_spike" else None,
        samples=[_sample(mention) for mention in samples],
    )


async def _raise(
    session: AsyncSession, rule: AlertRule, evidence: Evidence, now: datetime
) -> uuid.UUID | None:
    """Store the rule's alert for the window, with its event; None when it has one already."""
    responsible = ESCALATION_LADDER[0]
    alert_id: uuid.UUID | None = await session.scalar(
        insert(Alert)
        .values(
            id=uuid.uuid4(),
            organization_id=rule.organization_id,
            engagement_id=rule.engagement_id,
            rule_id=rule.id,
            query_id=rule.query_id,
            kind=rule.kind,
            rule_name=rule.name,
            window_start=evidence.window_start,
            window_end=evidence.window_end,
            status="open",
            evidence=evidence.model_dump(mode="json"),
            responsible_role=responsible,
            escalation_level=0,
            raised_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Alert.rule_id, Alert.window_start])
        .returning(Alert.id)
    )
    if alert_id is None:
        return None
    await outbox.add(
        session,
        new_event(
            events.ALERT_RAISED,
            events.AlertRaised(
                alert_id=alert_id,
                organization_id=rule.organization_id,
                engagement_id=rule.engagement_id,
                rule_id=rule.id,
                kind=rule.kind,
                status="open",
                responsible_role=responsible,
                window_start=evidence.window_start,
                window_end=evidence.window_end,
                rule_name=rule.name,
                query_id=rule.query_id,
                evidence=evidence.model_dump(mode="json"),
            ),
            source=events.SOURCE,
            subject=str(rule.engagement_id),
            event_id=events.alert_event_id(alert_id, "raised"),
        ),
    )
    return alert_id


async def evaluate(
    session: AsyncSession, engagement_id: uuid.UUID, window_end: datetime, now: datetime
) -> AlertsEvaluated:
    """Evaluate the engagement's active rules: spikes over the hour ending at ``window_end``,
    keywords over the mentions ingested in the ``KEYWORD_WINDOW`` ending at ``now``.

    A rule whose alert is still unresolved raises no other (the crisis goes on: the alert
    already open says so); resolving it re-arms the rule. The hour's own alert does not count
    for a spike, so evaluating the hour again finds it rather than skipping the rule."""
    hour_start, _ = window_of(window_end)
    rules = list(
        (
            await session.scalars(
                select(AlertRule)
                .where(AlertRule.engagement_id == engagement_id, AlertRule.active)
                .order_by(AlertRule.created_at, AlertRule.id)
            )
        ).all()
    )
    unresolved = await session.execute(
        select(Alert.rule_id, Alert.kind, Alert.window_start).where(
            Alert.engagement_id == engagement_id, Alert.status.in_(UNRESOLVED)
        )
    )
    busy = {
        row.rule_id for row in unresolved if row.kind == "keyword" or row.window_start != hour_start
    }
    ended = await session.execute(
        select(Alert.rule_id, func.max(Alert.window_end).label("window_end"))
        .where(Alert.engagement_id == engagement_id, Alert.kind == "keyword")
        .group_by(Alert.rule_id)
    )
    previous_ends: dict[uuid.UUID, datetime] = {row.rule_id: row.window_end for row in ended}
    counted: dict[tuple[uuid.UUID | None, int], HourlyCounts] = {}
    raised = 0
    for rule in rules:
        if rule.id in busy:
            continue
        if rule.kind == "keyword":
            start, end = keyword_window(now, previous_ends.get(rule.id))
            evidence = await _keyword_evidence(session, rule, start, end)
        else:
            key = (rule.query_id, rule.baseline_hours)
            if key not in counted:
                counted[key] = await hourly_counts(
                    session,
                    rule.organization_id,
                    engagement_id,
                    rule.query_id,
                    hour_start,
                    rule.baseline_hours,
                )
            evidence = await _spike_evidence(session, rule, hour_start, counted[key])
        if evidence is not None and await _raise(session, rule, evidence, now) is not None:
            raised += 1
    still_open = await session.execute(
        select(Alert.id, Alert.organization_id).where(
            Alert.engagement_id == engagement_id,
            Alert.status == "open",
            Alert.raised_at >= now - ESCALATION_RETRY,
        )
    )
    return AlertsEvaluated(
        engagement_id=engagement_id,
        raised=raised,
        open=[
            OpenAlert(
                alert_id=row.id, organization_id=row.organization_id, engagement_id=engagement_id
            )
            for row in still_open
        ],
    )


async def engagements_with_rules(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Engagements with an active rule, oldest rule first."""
    first_rule = func.min(AlertRule.created_at)
    found = await session.scalars(
        select(AlertRule.engagement_id)
        .where(AlertRule.active)
        .group_by(AlertRule.engagement_id)
        .order_by(first_rule, AlertRule.engagement_id)
        .limit(limit)
    )
    return list(found.all())
