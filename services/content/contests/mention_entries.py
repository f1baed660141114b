"""Contest entries that arrive as mentions: the content service's consumer of the raw mentions
every listening source publishes (``listening.mention_received``, ``services/listening/intake.py``:
pages of one organisation and source, or, before pages, one mention per event).

A batch subscription (durable ``content-contest-entries``) takes each fetch in one transaction.
It looks up, in one query, the hashtag contests of the batch's organisations that take entries
(open or closed, until the draw), and hands each contest the mentions of its organisation that
carry its hashtag, in their ``hashtags`` or in their text, through the code path of
``content.ingest_contest_entries`` (``service.ingest_mentions``): each mention is judged like any
entry and recorded, accepted or rejected with its reason. Mentions of other organisations, and
mentions without the hashtag, never reach the contest. Contests entered by a comment's keyword
are left out: a mention is no comment on the contest's post.

The same mention is recorded once: its event id (derived from its organisation, source and
external id) is recorded in ``content.processed_events``, and a copy under another id meets the
entries' own unique contest and mention id. A message that is no raw mention is a poison message
(dead-lettered by the kernel); listening's own consumer keeps it in its dead letters too.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contests import eligibility, service
from services.content.contests.contracts import ContestMention, IngestContestEntries
from services.content.contests.domain import EntryMechanism
from services.content.contests.models import Contest
from services.content.models import ProcessedEvent
from services.listening.contracts import RawMention
from services.listening.events import MENTION_RECEIVED, is_mention_page, page_mentions
from shared.domain import Channel
from shared.events.consumer import PoisonMessageError, Subscription
from shared.events.envelope import CloudEvent

log = logging.getLogger(__name__)

DURABLE = "content-contest-entries"
# Messages taken at each fetch: pages of up to 100 mentions (single mentions before pages), so
# at most 2,000 mentions a transaction; few carry a contest's hashtag, and each of those costs a
# lookup, an insert and an event.
FETCH_BATCH = 20
# The column's width; a longer id is replaced by its digest.
MENTION_ID_CHARS = 200
# A source's kind names the platform its mentions were posted on; feeds, webhooks and imports
# name none, so their mentions cannot enter a contest.
_PLATFORMS = {channel.value: channel for channel in Channel}


def _raw_mention(event: CloudEvent) -> RawMention:
    try:
        return RawMention.model_validate(event.data)
    except ValidationError as error:
        raise PoisonMessageError(f"{event.type} {event.id}: {error}") from error


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def carries_hashtag(mention: RawMention, hashtag: str) -> bool:
    """The contest's hashtag is among the mention's hashtags or a whole hashtag of its text."""
    wanted = _fold(hashtag.lstrip("#"))
    if any(_fold(tag.lstrip("#")) == wanted for tag in mention.hashtags):
        return True
    return eligibility.mentions_keyword(mention.text, EntryMechanism.HASHTAG, hashtag)


def mention_id(mention: RawMention) -> str:
    """``<source>:<external id>``: the mention as the organisation's listening knows it."""
    readable = f"{mention.source.value}:{mention.external_id}"
    if len(readable) <= MENTION_ID_CHARS:
        return readable
    digest = hashlib.sha256(mention.external_id.encode()).hexdigest()
    return f"{mention.source.value}:sha256:{digest}"


def contest_mention(mention: RawMention, platform: Channel) -> ContestMention:
    # No age statement: a contest with a minimum age rejects it, as it would any entry without one.
    # The profile's location is the region when it names one (``regions.parse_region``).
    return ContestMention(
        mention_id=mention_id(mention),
        platform=platform,
        author_handle=mention.author.handle,
        text=mention.text,
        posted_at=mention.published_at,
        region=mention.author.profile_location,
    )


async def _hashtag_contests_taking_entries(
    session: AsyncSession, organization_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """(contest id, hashtag) of each organisation's hashtag contests taking entries."""
    rows = await session.execute(
        select(Contest.organization_id, Contest.id, Contest.keyword).where(
            Contest.organization_id.in_(list(organization_ids)),
            Contest.status.in_(list(service.TAKING_ENTRIES)),
            Contest.mechanism == EntryMechanism.HASHTAG.value,
        )
    )
    contests: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for organization_id, contest_id, hashtag in rows:
        contests[organization_id].append((contest_id, hashtag))
    return contests


async def record_entries(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
    """Hand each contest taking entries the mentions of its organisation with its hashtag."""
    candidates: list[tuple[RawMention, Channel]] = []
    for event in events:
        # A page's mentions that cannot be read are listening's dead letters, not a poison page.
        mentions = page_mentions(event) if is_mention_page(event) else [_raw_mention(event)]
        for mention in mentions:
            platform = _PLATFORMS.get(mention.source.value)
            if platform is not None and (mention.hashtags or "#" in mention.text):
                candidates.append((mention, platform))
    if not candidates:
        return
    contests = await _hashtag_contests_taking_entries(
        session, {mention.organization_id for mention, _ in candidates}
    )
    entries: dict[uuid.UUID, list[ContestMention]] = defaultdict(list)
    for mention, platform in candidates:
        for contest_id, hashtag in contests.get(mention.organization_id, ()):
            if carries_hashtag(mention, hashtag):
                entries[contest_id].append(contest_mention(mention, platform))
    # Contests in one order, so consumers entering mentions into the same ones lock them alike.
    for contest_id in sorted(entries):
        request = IngestContestEntries(contest_id=contest_id, mentions=entries[contest_id])
        ingested = await service.ingest_mentions(session, request)
        log.info("mentions entered contest %s: %s", contest_id, ingested.model_dump_json())


async def record_entry(session: AsyncSession, event: CloudEvent) -> None:
    """One event alone, when its batch failed."""
    await record_entries(session, [event])


subscription = Subscription(
    durable=DURABLE,
    event=MENTION_RECEIVED,
    handler=record_entry,
    processed_model=ProcessedEvent,
    batch_handler=record_entries,
    fetch_batch=FETCH_BATCH,
)
