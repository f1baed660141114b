"""The listening service's facts about an engagement, kept on its timeline: an alert raised,
escalated, acknowledged or resolved, a conversation's SLA breached or escalated.

They are notes (``TimelineNote``), not lifecycle facts: the lifecycle's facts are the
``EngagementWorkflow``'s, fold into the engagement's summary and are published as
``engage.lifecycle.*``; an alert changes none of that. Each note is stored in the phase the
engagement's summary shows, under an id derived from the event's, so an event delivered twice
is one note.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events as listening
from services.strategy import repository as engagements
from services.strategy.events import TimelineNoteName
from services.strategy.lifecycle import repository
from services.strategy.models import ProcessedEvent
from shared.domain import Phase
from shared.events.consumer import PoisonMessageError, Subscription
from shared.events.envelope import CloudEvent

log = logging.getLogger(__name__)

# Before its first lifecycle fact an engagement has no summary: it is in its first phase.
FIRST_PHASE = Phase.ANALYSIS
# What a raised alert's note keeps of its evidence (the sample mentions stay in listening).
EVIDENCE_SUMMARY = ("observed", "baseline", "threshold", "mentions", "negative", "matched_keywords")


class About(BaseModel):
    """Whose fact it is: every alert's and conversation's event carries both."""

    organization_id: uuid.UUID
    engagement_id: uuid.UUID


@dataclass(frozen=True)
class Note:
    """What a fact leaves on the timeline, besides its engagement and phase."""

    actor: str | None
    details: dict[str, Any]
    occurred_at: datetime | None


def note_id(event_id: str) -> uuid.UUID:
    """A note's id, derived from its event's: never a lifecycle fact's (those derive from the
    engagement and an idempotency key), the same for every copy of the event."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"strategy-timeline-note/{event_id}")


def _alert(fact: listening.AlertFact) -> dict[str, Any]:
    return {
        "alert_id": str(fact.alert_id),
        "kind": fact.kind,
        "status": fact.status,
        "responsible_role": fact.responsible_role,
        "window_start": fact.window_start.isoformat(),
        "window_end": fact.window_end.isoformat(),
    }


def _raised(fact: listening.AlertRaised) -> Note:
    evidence = {key: fact.evidence[key] for key in EVIDENCE_SUMMARY if key in fact.evidence}
    details = {**_alert(fact), "rule_name": fact.rule_name, "evidence": evidence}
    return Note(actor=None, details=details, occurred_at=None)


def _escalated(fact: listening.AlertEscalated) -> Note:
    details = {
        **_alert(fact),
        "escalation_level": fact.escalation_level,
        "previous_role": fact.previous_role,
    }
    return Note(actor=None, details=details, occurred_at=fact.escalated_at)


def _acknowledged(fact: listening.AlertAcknowledged) -> Note:
    details = {**_alert(fact), "note": fact.note}
    return Note(actor=fact.acknowledged_by, details=details, occurred_at=fact.acknowledged_at)


def _resolved(fact: listening.AlertResolved) -> Note:
    details = {**_alert(fact), "note": fact.note}
    return Note(actor=fact.resolved_by, details=details, occurred_at=fact.resolved_at)


def _sla(fact: listening.ConversationSlaFact) -> Note:
    details = {
        "conversation_id": str(fact.conversation_id),
        "category": fact.category,
        "state": fact.state,
        "due_at": fact.due_at.isoformat(),
        "task_owner": fact.task_owner,
        "escalated_to": fact.escalated_to,
    }
    return Note(actor=None, details=details, occurred_at=fact.at)


@dataclass(frozen=True)
class Reading:
    """How one event's data is read, and what its note says."""

    payload: type[BaseModel]
    note: Callable[[Any], Note]


READINGS: dict[TimelineNoteName, Reading] = {
    TimelineNoteName.ALERT_RAISED: Reading(listening.AlertRaised, _raised),
    TimelineNoteName.ALERT_ESCALATED: Reading(listening.AlertEscalated, _escalated),
    TimelineNoteName.ALERT_ACKNOWLEDGED: Reading(listening.AlertAcknowledged, _acknowledged),
    TimelineNoteName.ALERT_RESOLVED: Reading(listening.AlertResolved, _resolved),
    TimelineNoteName.SLA_BREACHED: Reading(listening.ConversationSlaFact, _sla),
    TimelineNoteName.SLA_ESCALATED: Reading(listening.ConversationSlaFact, _sla),
}


async def record_note(session: AsyncSession, event: CloudEvent) -> None:
    """Keep the event on its engagement's timeline, if the engagement is its organisation's."""
    name = TimelineNoteName(event.name)
    reading = READINGS[name]
    try:
        fact = reading.payload.model_validate(event.data)
        about = About.model_validate(event.data)
    except ValidationError as error:
        raise PoisonMessageError(f"{event.name} {event.id}: {error}") from error
    engagement_id, organization_id = about.engagement_id, about.organization_id
    engagement = await engagements.get_engagement(session, engagement_id)
    if engagement is None or engagement.organization_id != organization_id:
        log.warning(
            "%s %s: engagement %s is not organisation %s's; not on any timeline",
            event.name,
            event.id,
            engagement_id,
            organization_id,
        )
        return
    note = reading.note(fact)
    phase = await repository.current_phase(session, engagement_id) or FIRST_PHASE.value
    await repository.insert_note(
        session,
        note_id(event.id),
        engagement_id,
        organization_id,
        phase,
        name.value,
        note.actor,
        note.details,
        note.occurred_at or event.time,
    )


def _durable(name: TimelineNoteName) -> str:
    return "strategy-timeline-" + name.value.replace(".", "-")


SUBSCRIPTIONS: Sequence[Subscription] = [
    Subscription(
        durable=_durable(name),
        event=name.value,
        handler=record_note,
        processed_model=ProcessedEvent,
    )
    for name in TimelineNoteName
]
