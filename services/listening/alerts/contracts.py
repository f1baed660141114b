"""Alerts' workflows and activities: names, payloads and ids (importable by workflows).

``ListeningAlerts`` runs from a schedule the listening worker keeps (every
``ENGAGE_LISTENING__ALERTS_EVERY_SECONDS``, else ``ALERTS_EVERY``, or ``ALERTS_EVERY_IN_DEV`` in
development): it evaluates every engagement with active rules (spikes over the last complete
hour, keywords over the mentions ingested lately) and starts a ``CrisisEscalation``
(``crisis-<alert id>``) per open alert. The activities run on ``engage-listening``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

ALERTS_WORKFLOW = "ListeningAlerts"
ALERTS_SCHEDULE_ID = "listening-alerts"
# Spikes compare complete hours: evaluating every few minutes raises a spike soon after its hour
# closes and counts mentions that arrive late (the same hour raises its alert once). Keywords
# slide with the evaluation, so the interval is how late a keyword alert can be.
ALERTS_EVERY = timedelta(minutes=5)
# ``make up``: a keyword alert within a minute, for the demo and for whoever tries the rules.
ALERTS_EVERY_IN_DEV = timedelta(seconds=30)
# A keyword rule reads the mentions ingested this long before the evaluation (and since its
# previous alert's window, so no mention alerts twice).
KEYWORD_WINDOW = timedelta(minutes=60)
ALERT_ENGAGEMENTS = "listening.alert_engagements"
EVALUATE_ALERTS = "listening.evaluate_alerts"
ALERT_ESCALATION_STEP = "listening.alert_escalation_step"

CRISIS_WORKFLOW = "CrisisEscalation"
ACKNOWLEDGE_SIGNAL = "acknowledge"
RESOLVE_SIGNAL = "resolve"
CRISIS_STATE_QUERY = "state"

AlertKind = Literal["volume_spike", "negative_spike", "keyword"]
AlertStatus = Literal["open", "acknowledged", "resolved"]
# Who answers for an open alert, in order: analysts (the agency's editors; there is no analyst
# role), then the engagement's managers, then admins.
ResponsibleRole = Literal["editor", "manager", "admin"]
ESCALATION_LADDER: tuple[ResponsibleRole, ...] = ("editor", "manager", "admin")
# How long each role has to acknowledge before the next is made responsible.
ESCALATE_AFTER = timedelta(minutes=30)


def crisis_workflow_id(alert_id: uuid.UUID) -> str:
    """One escalation per alert."""
    return f"crisis-{alert_id}"


class AlertsInput(BaseModel):
    """One round of evaluation: at most ``limit`` engagements."""

    task_queue_prefix: str = ""
    limit: int = Field(1000, ge=1, le=10_000)
    escalate_after: timedelta = ESCALATE_AFTER


class AlertEngagements(BaseModel):
    limit: int = Field(1000, ge=1, le=10_000)


class EngagementsWithRules(BaseModel):
    engagement_ids: list[uuid.UUID]


class EvaluateAlerts(BaseModel):
    """Evaluate the engagement's active rules: spikes over the complete hour ending at
    ``window_end`` (on the hour), keywords over the ``KEYWORD_WINDOW`` ending at the
    evaluation."""

    engagement_id: uuid.UUID
    window_end: AwareDatetime


class OpenAlert(BaseModel):
    alert_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID


class AlertsEvaluated(BaseModel):
    """``raised``: alerts new in this evaluation; ``open``: the engagement's alerts raised in
    the last hour and still open (new or raised by an earlier evaluation), whose escalation must
    be running."""

    engagement_id: uuid.UUID
    raised: int
    open: list[OpenAlert]


class AlertsRound(BaseModel):
    engagements: int
    raised: int
    escalations_started: int
    failed_engagements: list[uuid.UUID] = Field(default_factory=list)


class CrisisEscalationInput(BaseModel):
    alert_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    task_queue_prefix: str = ""
    escalate_after: timedelta = ESCALATE_AFTER


class AlertEscalationStep(BaseModel):
    """Make ``role`` (at ``level`` of the ladder) responsible for the alert if it is still
    open, announcing it; without ``role``, only read where the alert stands."""

    alert_id: uuid.UUID
    level: int = Field(0, ge=0, lt=len(ESCALATION_LADDER))
    role: ResponsibleRole | None = None


class AlertStanding(BaseModel):
    """The alert as stored: ``escalated`` when this step made ``role`` responsible."""

    alert_id: uuid.UUID
    status: AlertStatus
    responsible_role: ResponsibleRole
    escalation_level: int
    escalated: bool = False


class AlertAcknowledged(BaseModel):
    """The ``acknowledge`` signal: sent by the listening API once the acknowledgement is
    stored."""

    by: str
    note: str | None = None


class AlertResolved(BaseModel):
    """The ``resolve`` signal: sent by the listening API once the resolution is stored."""

    by: str
    note: str


class CrisisState(BaseModel):
    status: AlertStatus = "open"
    responsible_role: ResponsibleRole = "editor"
    escalation_level: int = 0
    acknowledged_by: str | None = None
    resolved_by: str | None = None
