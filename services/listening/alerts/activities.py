"""Temporal activities of alerts. Every one is idempotent: an alert is stored once per rule and
window, an escalation once per level."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.listening.alerts import evaluation, service
from services.listening.alerts.contracts import (
    ALERT_ENGAGEMENTS,
    ALERT_ESCALATION_STEP,
    EVALUATE_ALERTS,
    AlertEngagements,
    AlertEscalationStep,
    AlertsEvaluated,
    AlertStanding,
    EngagementsWithRules,
    EvaluateAlerts,
)
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


class AlertActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=ALERT_ENGAGEMENTS)
    @problems_as_application_errors
    async def alert_engagements(self, request: AlertEngagements) -> EngagementsWithRules:
        """Engagements with an active rule."""
        async with session_scope(self._sessions, SYSTEM) as session:
            found = await evaluation.engagements_with_rules(session, request.limit)
        return EngagementsWithRules(engagement_ids=found)

    @activity.defn(name=EVALUATE_ALERTS)
    @problems_as_application_errors
    async def evaluate_alerts(self, request: EvaluateAlerts) -> AlertsEvaluated:
        """Evaluate the engagement's rules over the hour ending at ``window_end``, storing each
        new alert with its ``alert_raised`` event in one transaction. Run again, it finds them."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await evaluation.evaluate(
                session, request.engagement_id, request.window_end, datetime.now(UTC)
            )

    @activity.defn(name=ALERT_ESCALATION_STEP)
    @problems_as_application_errors
    async def alert_escalation_step(self, step: AlertEscalationStep) -> AlertStanding:
        """Escalate a still-open alert to ``step.role`` (with ``alert_escalated``), or only read
        where it stands."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await service.escalation_step(session, step, datetime.now(UTC))

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.alert_engagements, self.evaluate_alerts, self.alert_escalation_step]
