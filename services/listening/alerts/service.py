"""Rules of alerts: who may set rules on which engagement, how an alert moves from open to
acknowledged to resolved, and the events that say so."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.alerts import rules
from services.listening.alerts.contracts import (
    AlertEscalationStep,
    AlertStanding,
    crisis_workflow_id,
)
from services.listening.alerts.schemas import (
    AlertFilters,
    AlertOut,
    AlertPage,
    AlertRuleCreate,
    AlertRuleOut,
    AlertRuleUpdate,
    Evidence,
)
from services.listening.models import Alert, AlertRule, ListeningQuery, engagements, outbox
from shared.auth import Principal
from shared.errors import ConflictError, FieldError, NotFoundError, validation_problem
from shared.events.envelope import new_event
from shared.paging import Keyset, PageQuery, encode_cursor, paged

# Rules oldest first, alerts newest first; the id breaks ties.
RULE_ORDER = Keyset((AlertRule.created_at, AlertRule.id))
ALERT_ORDER = Keyset((Alert.raised_at, Alert.id), descending=True)

# Rules


async def _check_query(
    session: AsyncSession, engagement_id: uuid.UUID, query_id: uuid.UUID | None
) -> None:
    if query_id is None:
        return
    query = await session.get(ListeningQuery, query_id)
    if query is None or query.engagement_id != engagement_id:
        raise validation_problem(
            [
                FieldError(
                    field="body.query_id",
                    message=f"query {query_id} is not a query of engagement {engagement_id}",
                    type="unknown_query",
                )
            ]
        )


async def create_rule(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: AlertRuleCreate
) -> AlertRule:
    organization_id = await engagements.require(session, engagement_id)
    figures = rules.with_defaults(data.kind, data)
    if problem := rules.problems(data.kind, int(figures["min_count"]), data.keywords):
        raise problem
    await _check_query(session, engagement_id, data.query_id)
    rule = AlertRule(
        id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=engagement_id,
        query_id=data.query_id,
        kind=data.kind,
        name=data.name,
        keywords=list(dict.fromkeys(data.keywords)),
        active=data.active,
        created_by=principal.subject,
        **figures,
    )
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    return rule


async def require_rule(session: AsyncSession, rule_id: uuid.UUID) -> AlertRule:
    rule = await session.get(AlertRule, rule_id, with_for_update=True)
    if rule is None:
        raise NotFoundError("alert rule", rule_id)
    return rule


async def list_rules(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery
) -> Sequence[AlertRule]:
    """A page of the engagement's rules from after the cursor: one more than the page when
    more follow."""
    await engagements.require(session, engagement_id)
    statement = select(AlertRule).where(AlertRule.engagement_id == engagement_id)
    return (await session.scalars(paged(statement, RULE_ORDER, page))).all()


async def update_rule(
    session: AsyncSession, rule_id: uuid.UUID, data: AlertRuleUpdate, now: datetime
) -> AlertRule:
    rule = await require_rule(session, rule_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("keywords") is not None:
        changes["keywords"] = list(dict.fromkeys(changes["keywords"]))
    for name, value in changes.items():
        if value is not None:
            setattr(rule, name, value)
    if problem := rules.problems(rule.kind, rule.min_count, rule.keywords):  # type: ignore[arg-type]
        raise problem
    rule.updated_at = now
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, rule_id: uuid.UUID) -> None:
    """Its alerts stay, with the rule's name."""
    await session.delete(await require_rule(session, rule_id))


def rule_view(rule: AlertRule) -> AlertRuleOut:
    return AlertRuleOut.model_validate(rule)


# Alerts


def alert_view(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        organization_id=alert.organization_id,
        engagement_id=alert.engagement_id,
        rule_id=alert.rule_id,
        rule_name=alert.rule_name,
        query_id=alert.query_id,
        kind=alert.kind,
        status=alert.status,
        window_start=alert.window_start,
        window_end=alert.window_end,
        evidence=Evidence.model_validate(alert.evidence),
        responsible_role=alert.responsible_role,
        escalation_level=alert.escalation_level,
        raised_at=alert.raised_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledge_note=alert.acknowledge_note,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolve_note=alert.resolve_note,
        workflow_id=crisis_workflow_id(alert.id),
    )


async def list_alerts(
    session: AsyncSession, engagement_id: uuid.UUID, filters: AlertFilters
) -> AlertPage:
    """The engagement's alerts, newest first (ties by id), one page."""
    organization_id = await engagements.require(session, engagement_id)
    statement = select(Alert).where(
        Alert.organization_id == organization_id, Alert.engagement_id == engagement_id
    )
    if filters.status is not None:
        statement = statement.where(Alert.status == filters.status)
    if filters.kind is not None:
        statement = statement.where(Alert.kind == filters.kind)
    found = (await session.scalars(paged(statement, ALERT_ORDER, filters))).all()
    page = found[: filters.limit]
    return AlertPage(
        alerts=[alert_view(alert) for alert in page],
        next_cursor=encode_cursor(ALERT_ORDER.key_of(page[-1]))
        if len(found) > filters.limit
        else None,
    )


async def require_alert(
    session: AsyncSession, alert_id: uuid.UUID, *, for_update: bool = False
) -> Alert:
    alert = await session.get(Alert, alert_id, with_for_update=for_update)
    if alert is None:
        raise NotFoundError("alert", alert_id)
    return alert


def _fact(alert: Alert) -> dict[str, object]:
    return {
        "alert_id": alert.id,
        "organization_id": alert.organization_id,
        "engagement_id": alert.engagement_id,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "status": alert.status,
        "responsible_role": alert.responsible_role,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
    }


async def acknowledge(
    session: AsyncSession,
    principal: Principal,
    alert_id: uuid.UUID,
    note: str | None,
    now: datetime,
) -> Alert:
    """Someone is on it: escalation stops. Only an open alert can be acknowledged (409)."""
    alert = await require_alert(session, alert_id, for_update=True)
    if alert.status != "open":
        raise ConflictError(
            f"alert {alert_id} is {alert.status} already", alert_status=alert.status
        )
    alert.status = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = principal.subject
    alert.acknowledge_note = note
    await outbox.add(
        session,
        new_event(
            events.ALERT_ACKNOWLEDGED,
            events.AlertAcknowledged(
                **_fact(alert),
                acknowledged_by=principal.subject,
                note=note,
                acknowledged_at=now,
            ),
            source=events.SOURCE,
            subject=str(alert.engagement_id),
            event_id=events.alert_event_id(alert.id, "acknowledged"),
        ),
    )
    return alert


async def resolve(
    session: AsyncSession, principal: Principal, alert_id: uuid.UUID, note: str, now: datetime
) -> Alert:
    """Over, with a note saying how. An open alert resolved at once counts as acknowledged by
    the same person; a resolved one is a 409."""
    alert = await require_alert(session, alert_id, for_update=True)
    if alert.status == "resolved":
        raise ConflictError(f"alert {alert_id} is resolved already", alert_status=alert.status)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = principal.subject
    alert.status = "resolved"
    alert.resolved_at = now
    alert.resolved_by = principal.subject
    alert.resolve_note = note
    await outbox.add(
        session,
        new_event(
            events.ALERT_RESOLVED,
            events.AlertResolved(
                **_fact(alert),
                resolved_by=principal.subject,
                note=note,
                resolved_at=now,
            ),
            source=events.SOURCE,
            subject=str(alert.engagement_id),
            event_id=events.alert_event_id(alert.id, "resolved"),
        ),
    )
    return alert


async def escalation_step(
    session: AsyncSession, step: AlertEscalationStep, now: datetime
) -> AlertStanding:
    """Make ``step.role`` responsible for the alert, with its ``alert_escalated`` event, if the
    alert is still open and not that far up the ladder yet; run again, it changes nothing."""
    alert = await session.get(Alert, step.alert_id, with_for_update=True)
    if alert is None:
        raise NotFoundError("alert", step.alert_id)
    escalated = False
    if step.role is not None and alert.status == "open" and alert.escalation_level < step.level:
        previous = alert.responsible_role
        alert.responsible_role = step.role
        alert.escalation_level = step.level
        escalated = True
        await outbox.add(
            session,
            new_event(
                events.ALERT_ESCALATED,
                events.AlertEscalated(
                    **_fact(alert),
                    escalation_level=step.level,
                    previous_role=previous,
                    escalated_at=now,
                ),
                source=events.SOURCE,
                subject=str(alert.engagement_id),
                event_id=events.alert_event_id(alert.id, f"escalated/{step.level}"),
            ),
        )
    return AlertStanding(
        alert_id=alert.id,
        status=alert.status,
        responsible_role=alert.responsible_role,
        escalation_level=alert.escalation_level,
        escalated=escalated,
    )
