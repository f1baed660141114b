"""Activities the listening service offers: names and payloads (importable by workflows), and
the raw mention every source publishes for ingestion.

Activities run on ``engage-listening``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from services.publisher.contracts import ConversationsRead

STOP_ENGAGEMENT_QUERIES = "listening.stop_engagement_queries"
START_ENGAGEMENT_QUERIES = "listening.start_engagement_queries"

# ``pending``: waiting for its engagement's seeding (``starts: at_seeding``).
QueryStatus = Literal["pending", "active", "stopped"]


class SourceKind(StrEnum):
    """Where a query's mentions come from: a social network, a feed, a push or a file."""

    SANDBOX = "sandbox"
    RSS = "rss"
    MASTODON = "mastodon"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    YOUTUBE = "youtube"
    X = "x"
    # Mentions a third party pushes to the service.
    WEBHOOK = "webhook"
    # Mentions uploaded from a file (another tool's export).
    IMPORT = "import"


class StopEngagementQueries(BaseModel):
    """Stop every listening query of an engagement (cancelled, or its contract over)."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    reason: str = Field(min_length=1)
    stopped_by: str


class StartEngagementQueries(BaseModel):
    """The engagement's seeding began: its listening starts, and with it every query waiting
    for it; queries added from now on start at once."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    started_by: str


class EngagementQueriesStarted(BaseModel):
    """``started`` by this call; ``already_active`` before it."""

    started: int
    already_active: int


class EngagementQueriesStopped(BaseModel):
    """``stopped`` by this call; ``already_stopped`` before it (by hand, or an earlier run);
    ``sources_stopped``: the engagement's own sources this call stopped."""

    stopped: int
    already_stopped: int
    sources_stopped: int = 0


# A hashtag or an account, with or without its mark.
Tag = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RawAuthor(BaseModel):
    """Who wrote a mention, as the source shows them."""

    handle: str = Field(min_length=1, max_length=200)
    display_name: str | None = Field(None, max_length=300)
    # What the author wrote as their location on their profile, free text.
    profile_location: str | None = Field(None, max_length=300)


class Coordinates(BaseModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class RawMention(BaseModel):
    """A mention as a source read it, before ingestion normalises, places and scores it.

    ``engagement_id`` is set by a source that reads for one engagement; otherwise the mention
    reaches the engagements whose queries match it. ``language`` is what the source says (ISO
    639-1, possibly with a region); when absent it is detected."""

    organization_id: uuid.UUID
    source: SourceKind
    external_id: str = Field(min_length=1, max_length=300)
    author: RawAuthor
    text: str = Field(max_length=20_000)
    url: str | None = Field(None, max_length=2_000)
    published_at: AwareDatetime
    coordinates: Coordinates | None = None
    language: str | None = Field(None, max_length=16)
    hashtags: list[Tag] = Field(default_factory=list, max_length=100)
    accounts: list[Tag] = Field(default_factory=list, max_length=100)
    engagement_id: uuid.UUID | None = None

    @property
    def dedup_key(self) -> str:
        """One mention per organisation, source and the source's own id."""
        return f"{self.organization_id}/{self.source.value}/{self.external_id}"


TRAIN_SENTIMENT_MODEL = "listening.train_sentiment_model"


class TrainSentimentModel(BaseModel):
    """Train the organisation's sentiment model on its corrections, once per ``training_id``."""

    organization_id: uuid.UUID
    training_id: uuid.UUID
    requested_by: str


class TrainedSentimentModel(BaseModel):
    """The model a training stored; ``version`` labels the organisation's new mentions.

    ``cross_validated_score``: SENTIPOLC's polarity score of the model over the corrections,
    each fold held out in turn; ``default_model_score``: the default model's over the same."""

    organization_id: uuid.UUID
    training_id: uuid.UUID
    version: str
    examples: int
    languages: list[str]
    cross_validated_score: float | None
    default_model_score: float


POLL_WORKFLOW = "ListeningPoll"
POLL_SCHEDULE_ID = "listening-poll"
DUE_SOURCES = "listening.due_sources"
POLL_SOURCE = "listening.poll_source"
RECEIVE_CONVERSATIONS = "listening.receive_conversations"


class PollInput(BaseModel):
    """One round of polling: the sources due now, at most ``limit`` of them."""

    task_queue_prefix: str = ""
    limit: int = Field(50, ge=1, le=500)


class DueSources(BaseModel):
    limit: int = Field(50, ge=1, le=500)


class DueSource(BaseModel):
    source_id: uuid.UUID
    organization_id: uuid.UUID
    kind: SourceKind
    # A connected channel's source (``CONNECTED_KINDS``): read by the publisher.
    connection_id: uuid.UUID | None = None
    # Where a connected channel's reading starts: the cursor, or the source's ``reads_from``.
    since: AwareDatetime | None = None


class SourcesDue(BaseModel):
    sources: list[DueSource]


class PollSource(BaseModel):
    source_id: uuid.UUID


class SourcePolled(BaseModel):
    """``skipped``: stopped, gone, or polled already by another run."""

    source_id: uuid.UUID
    outcome: Literal["read", "rate_limited", "failing", "skipped"]
    mentions: int = 0
    reason: str | None = None


class ReceiveConversations(BaseModel):
    """What the publisher read from a source's connected channel, or why it could not:
    ``refused`` when the channel said no (not found, needs reauthorisation)."""

    source_id: uuid.UUID
    read: ConversationsRead | None = None
    failure: str | None = Field(None, max_length=2000)
    refused: bool = False


class PollSummary(BaseModel):
    polled: list[SourcePolled]


# ``TrainOrganizationSentimentModel``: one training of an organisation's sentiment model on its
# corrections (``services/listening/sentiment_training.py``), started by the listening API.
TRAINING_WORKFLOW = "TrainOrganizationSentimentModel"
# Fitting two heads per language, and again for each fold of the cross-validation.
TRAINING_TIMEOUT = timedelta(minutes=10)
TRAINING_ATTEMPTS = 5


def training_workflow_id(organization_id: uuid.UUID, training_id: uuid.UUID) -> str:
    """One workflow per training: the same corrections asked for again name the same one."""
    return f"sentiment-model-{organization_id}-{training_id}"


class TrainOrganizationSentimentModelInput(BaseModel):
    organization_id: uuid.UUID
    training_id: uuid.UUID
    requested_by: str
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""


# Replies to conversations: the listening API starts ``SendReplyWorkflow`` (``reply-<id>``),
# which sends through the publisher (``publisher.send_reply``) and records the outcome here.
REPLY_WORKFLOW = "SendReplyWorkflow"
RECORD_REPLY_OUTCOME = "listening.record_reply_outcome"


def reply_workflow_id(reply_id: uuid.UUID) -> str:
    return f"reply-{reply_id}"


class SendReplyInput(BaseModel):
    """``connection_id`` None: the workflow answers through the engagement's connection of
    ``channel`` as the publisher resolves it (``publisher.engagement_connections``)."""

    reply_id: uuid.UUID
    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    channel: str = Field(min_length=1, max_length=32)
    connection_id: uuid.UUID | None = None
    in_reply_to: str = Field(min_length=1, max_length=300)
    post_external_id: str | None = Field(None, max_length=300)
    text: str = Field(min_length=1, max_length=10_000)
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""


class ReplyOutcome(BaseModel):
    """What became of a reply: ``sent`` with the platform's id, or ``failed`` with why."""

    reply_id: uuid.UUID
    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    status: Literal["sent", "failed"]
    platform_reply_id: str | None = None
    url: str | None = None
    failure: str | None = Field(None, max_length=2000)
    at: AwareDatetime


# First-response SLA of a conversation: ``ConversationSlaWorkflow`` (``conversation-sla-<id>``),
# started from ``conversations.conversation_opened``, sleeps on durable timers until the
# conversation is due soon, due, then escalated, unless its first response comes first.
SLA_WORKFLOW = "ConversationSlaWorkflow"
# The event that starts it (``events.CONVERSATION_OPENED``), whose data has the input's fields.
SLA_STARTED_BY = "conversations.conversation_opened"
FIRST_RESPONSE_SIGNAL = "first_response"
SLA_DUE_SOON = "listening.conversation_sla_due_soon"
SLA_BREACHED = "listening.conversation_sla_breached"
SLA_ESCALATED = "listening.conversation_sla_escalated"


def sla_workflow_id(conversation_id: uuid.UUID) -> str:
    return f"conversation-sla-{conversation_id}"


class ConversationSlaInput(BaseModel):
    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    due_soon_at: AwareDatetime
    due_at: AwareDatetime
    escalate_at: AwareDatetime
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""


class FirstResponse(BaseModel):
    """The conversation's first reply was sent: its SLA is met or settled."""

    conversation_id: uuid.UUID
    at: AwareDatetime


class SlaStep(BaseModel):
    conversation_id: uuid.UUID


class SlaStanding(BaseModel):
    """Where the conversation stands: ``settled`` once answered, closed or ignored (its SLA
    workflow ends), else what the step flagged."""

    conversation_id: uuid.UUID
    settled: bool
    due_soon: bool = False
    breached: bool = False
    escalated_to: str | None = None
