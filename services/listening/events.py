"""Events the listening service emits (``engage.listening.*``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from services.listening.contracts import RawMention, SourceKind
from shared.events.envelope import CloudEvent

SOURCE = "urn:atlantide-engage:listening"

QUERY_STARTED = "listening.query_started"
QUERY_STOPPED = "listening.query_stopped"
# A source read mentions; the ingestion consumer stores them. Version 1 carries one
# (``contracts.RawMention``), version 2 a page of one organisation and source (``MentionPage``).
MENTION_RECEIVED = "listening.mention_received"
MENTION_PAGE_VERSION = 2
# Ingestion stored mentions: one event per organisation per batch of ``mention_received``.
MENTIONS_INGESTED = "listening.mentions_ingested"
# A source's poll failed after working (or at its first poll), and worked again after failing.
SOURCE_FAILING = "listening.source_failing"
SOURCE_RECOVERED = "listening.source_recovered"


def query_event_id(query_id: uuid.UUID, fact: str) -> uuid.UUID:
    """A query starts once and stops once: the same fact recorded again keeps its id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-query/{query_id}/{fact}")


def mention_event_id(dedup_key: str) -> uuid.UUID:
    """A mention read again by its source is the same fact, under the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-mention/{dedup_key}")


def page_event_id(dedup_keys: Sequence[str]) -> uuid.UUID:
    """A page of mentions read again by its source is the same fact, under the same id (also
    its ``Nats-Msg-Id``), whatever the order of its mentions."""
    keys = json.dumps(sorted(dedup_keys), ensure_ascii=False)
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-mention-page/{keys}")


def page_subject(organization_id: uuid.UUID, source: str) -> str:
    """A page's CloudEvents ``subject``: its organisation and source."""
    return f"{organization_id}/{source}"


def source_event_id(source_id: uuid.UUID, fact: str, at: datetime) -> uuid.UUID:
    """A source fails and recovers many times; each time is one fact."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-source/{source_id}/{fact}/{at.isoformat()}")


def ingested_event_id(received_event_ids: Sequence[str]) -> uuid.UUID:
    """What ingesting a batch of ``mention_received`` events stored is recorded once."""
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"listening-ingested/{','.join(sorted(received_event_ids))}"
    )


class MentionPage(BaseModel):
    """``mention_received`` version 2: raw mentions of one organisation and source, as a source
    read them. The consumer validates each mention on its own, so one it cannot read is
    dead-lettered and the others are stored."""

    organization_id: uuid.UUID
    source: SourceKind
    mentions: list[RawMention]


def is_mention_page(event: CloudEvent) -> bool:
    """Whether a ``mention_received`` event carries a page (version 2) rather than one mention."""
    return event.type.endswith(f".v{MENTION_PAGE_VERSION}")


def received_mentions(event: CloudEvent) -> list[Any] | None:
    """The mentions a ``mention_received`` event carries, each as the JSON it came in (not
    validated): its data (version 1) or its page's ``mentions``; None when a page has none."""
    if not is_mention_page(event):
        return [event.data]
    mentions = event.data.get("mentions")
    return mentions if isinstance(mentions, list) and mentions else None


def page_mentions(event: CloudEvent) -> list[RawMention]:
    """The mentions of a page (version 2) that can be read and are of the page's organisation
    and source: what a consumer other than ingestion takes from it (ingestion dead-letters the
    others, each with its reason)."""
    organization_id, source = event.organization_id, event.data.get("source")
    found = []
    for data in received_mentions(event) or []:
        try:
            mention = RawMention.model_validate(data)
        except ValidationError:
            continue
        if mention.organization_id == organization_id and mention.source.value == source:
            found.append(mention)
    return found


class QueryFact(BaseModel):
    query_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None


class QueryStarted(QueryFact):
    name: str
    # The expression's words, phrases, hashtags and accounts (or the terms it was made from).
    terms: list[str]
    channels: list[str]
    languages: list[str]
    created_by: str
    # Canonical texts (``services.listening.query_language``).
    expression: str
    exclusions: str | None
    sources: list[str]
    starts_on: date
    competitor: bool


class QueryStopped(QueryFact):
    reason: str
    stopped_by: str
    stopped_at: datetime


class SentimentCounts(BaseModel):
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    mixed: int = 0
    # In a language the sentiment model does not read.
    unlabelled: int = 0


class IngestedMention(BaseModel):
    """What read models keep of one stored mention (reporting's figures)."""

    mention_id: uuid.UUID
    engagement_ids: list[uuid.UUID]
    query_ids: list[uuid.UUID]
    # The platform or source it came from (``SourceKind`` value).
    channel: str
    # The author's handle, without its @.
    author: str | None
    # positive | neutral | negative | mixed; None in a language the model does not read.
    sentiment: str | None
    # The region the mention was placed in (``places``), when it was placed that precisely.
    region_code: str | None
    region_name: str | None
    published_at: datetime


class MentionsIngested(BaseModel):
    organization_id: uuid.UUID
    # How many were stored (a mention the organisation had already is not counted).
    mentions: int
    mention_ids: list[uuid.UUID]
    engagement_ids: list[uuid.UUID]
    query_ids: list[uuid.UUID]
    sentiment: SentimentCounts
    # Each stored mention (empty in events emitted before they were carried).
    items: list[IngestedMention] = []


# A model trained on an organisation's sentiment corrections labels its new mentions.
SENTIMENT_MODEL_TRAINED = "listening.sentiment_model_trained"


def training_event_id(training_id: uuid.UUID) -> uuid.UUID:
    """A training stores its model once: the fact keeps its id however often it is recorded."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-sentiment-training/{training_id}")


class SentimentModelTrained(BaseModel):
    organization_id: uuid.UUID
    training_id: uuid.UUID
    version: str
    # Corrections it was trained on, and the languages it has heads for.
    examples: int
    languages: list[str]
    # SENTIPOLC's polarity score, cross-validated over the corrections (None: too few to
    # hold any out), and the default model's score over the same corrections.
    cross_validated_score: float | None
    default_model_score: float
    trained_at: datetime


class SourceHealthFact(BaseModel):
    source_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    # ``SourceKind`` value.
    kind: str
    name: str
    at: datetime


class SourceFailing(SourceHealthFact):
    # unavailable | refused | malformed
    failure_kind: str
    reason: str


class SourceRecovered(SourceHealthFact):
    failing_since: datetime
    # Polls that failed in a row before this one worked.
    failures: int


# Alerts (``services.listening.alerts``): raised from an hour of an engagement's mentions, made
# another role's responsibility while nobody acknowledges them, acknowledged, then resolved.
ALERT_RAISED = "listening.alert_raised"
ALERT_ESCALATED = "listening.alert_escalated"
ALERT_ACKNOWLEDGED = "listening.alert_acknowledged"
ALERT_RESOLVED = "listening.alert_resolved"


def alert_event_id(alert_id: uuid.UUID, fact: str) -> uuid.UUID:
    """Each fact of an alert happens once (``escalated/<level>`` once per level)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-alert/{alert_id}/{fact}")


class AlertFact(BaseModel):
    alert_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    rule_id: uuid.UUID
    # volume_spike | negative_spike | keyword
    kind: str
    # open | acknowledged | resolved
    status: str
    # The ``shared.auth.Role`` now answerable for it: editor, manager, admin.
    responsible_role: str
    window_start: datetime
    window_end: datetime


class AlertRaised(AlertFact):
    rule_name: str
    query_id: uuid.UUID | None
    # Window, baseline, observed, threshold and sample mentions (``alerts.schemas.Evidence``).
    evidence: dict[str, Any]


class AlertEscalated(AlertFact):
    # 1: the manager, 2: the admin.
    escalation_level: int
    previous_role: str
    escalated_at: datetime


class AlertAcknowledged(AlertFact):
    acknowledged_by: str
    note: str | None
    acknowledged_at: datetime


class AlertResolved(AlertFact):
    resolved_by: str
    note: str
    resolved_at: datetime


# The conversations inbox (``services.listening.conversations``): each fact carries the
# organisation and engagement, so the gateway's live streams show it.
CONVERSATION_OPENED = "conversations.conversation_opened"
CONVERSATION_TRIAGED = "conversations.triaged"
CONVERSATION_ASSIGNED = "conversations.assigned"
CONVERSATION_FIRST_RESPONSE = "conversations.first_response"
CONVERSATION_REPLY_FAILED = "conversations.reply_failed"
# Every reply that went out (the first one is also a ``first_response``).
CONVERSATION_REPLY_SENT = "conversations.reply_sent"
CONVERSATION_SLA_DUE_SOON = "conversations.sla_due_soon"
CONVERSATION_SLA_BREACHED = "conversations.sla_breached"
CONVERSATION_SLA_ESCALATED = "conversations.sla_escalated"
CONVERSATION_CLOSED = "conversations.closed"


def conversation_event_id(conversation_id: uuid.UUID, fact: str) -> uuid.UUID:
    """A conversation's fact recorded again (an activity retried) keeps its id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-conversation/{conversation_id}/{fact}")


class ConversationFact(BaseModel):
    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    # ``SourceKind`` value.
    source: str
    # question | complaint | praise | spam | other
    category: str
    # open | assigned | answered | closed | ignored
    state: str
    assignee_subject: str | None
    assignee_role: str | None


class ConversationOpened(ConversationFact):
    author_handle: str
    first_mention_id: uuid.UUID
    triage_reason: str
    opened_at: datetime
    due_soon_at: datetime
    due_at: datetime
    escalate_at: datetime


class ConversationTriaged(ConversationFact):
    reason: str
    triaged_by: str
    previous_category: str | None


class ConversationAssigned(ConversationFact):
    assigned_by: str


class ConversationFirstResponse(ConversationFact):
    reply_id: uuid.UUID
    answered_at: datetime
    # Business minutes from opening to the answer, and whether that was within the target.
    response_minutes: float
    within_sla: bool


class ConversationReplySent(ConversationFact):
    reply_id: uuid.UUID
    # The subject of whoever wrote it.
    sent_by: str
    sent_at: datetime
    platform_reply_id: str | None
    url: str | None


class ConversationReplyFailed(ConversationFact):
    reply_id: uuid.UUID
    failure: str
    failed_at: datetime
    # None in events emitted before it was carried.
    sent_by: str | None = None


class ConversationSlaFact(ConversationFact):
    due_at: datetime
    # The task's owner (a person's subject or a role) and where it escalated.
    task_owner: str | None
    escalated_to: str | None
    at: datetime


class ConversationClosed(ConversationFact):
    closed_by: str
    closed_at: datetime
    resolution_minutes: float
