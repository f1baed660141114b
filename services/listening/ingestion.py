"""Ingestion: every raw mention a source published (``intake.py``) becomes a stored mention.

A kernel consumer in batch mode (``shared/events/consumer.py``) handles each fetch of
``listening.mention_received`` events in one transaction with their ``processed_events`` rows,
and acknowledges them after the commit. An event carries a page of mentions of one organisation
and source (version 2, what ``intake.py`` publishes) or one mention (version 1, published
before pages were); each mention of a page is checked on its own. The handler normalises each
mention, detects its language and scores its sentiment (``sentiment/``), places it
(``places/``), matches it against the organisation's active queries (``query_matcher.py``) and
inserts the batch by COPY (``repository.insert_mentions``), skipping those the organisation
already has from that source (the unique organisation, source and external id). What it stored
is announced by one ``listening.mentions_ingested`` per organisation through the outbox, in the
same transaction.

A message that is not a raw mention, or names an engagement that is not the organisation's,
can never be stored: it is written to ``dead_letters`` with the reason, in the same
transaction, and acknowledged, so it is not redelivered and stays visible through the API. In
a page, such a mention (or one of another organisation or source than the page's) is
dead-lettered alone, as ``<page id>#<position>``, and the page's other mentions are stored.
"""

from __future__ import annotations

import gc
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events, query_matching, repository
from services.listening.contracts import RawMention
from services.listening.mention_rows import (
    clean,
    language_code,
    names_without_mark,
    place_columns,
    place_names,
)
from services.listening.models import (
    DeadLetter,
    ProcessedEvent,
    engagements,
)
from services.listening.models import outbox as listening_outbox
from services.listening.places import MentionClues, resolve
from services.listening.query_matcher import QueryMatcher, ReadyQuery
from services.listening.sentiment import Labelled, SentimentModel
from services.listening.sentiment.registry import OrganizationModels
from shared.errors import NotFoundError, ProblemError
from shared.events.consumer import Subscription
from shared.events.envelope import CloudEvent, new_event
from shared.metrics import MENTIONS_INGESTED, on_commit

DURABLE = "listening-mentions"
# Messages taken at each fetch and stored in one transaction: pages of up to
# ``intake.PAGE_MENTIONS`` mentions (so at most 1,000), or single mentions sent before pages.
FETCH_BATCH = 10
# Engagements remembered as their organisation's before the memory starts again.
OWNED_ENGAGEMENTS_KEPT = 65_536


@dataclass(frozen=True, slots=True)
class _Accepted:
    event: CloudEvent
    raw: RawMention
    # The engagement the source named, checked: the organisation's.
    named_engagements: list[uuid.UUID]
    # Where the mention is in its page (``mention_received`` version 2); None for an event of
    # one mention.
    position: int | None


def _named(raw: RawMention) -> list[uuid.UUID]:
    return [raw.engagement_id] if raw.engagement_id is not None else []


def _page_of(event: CloudEvent) -> tuple[uuid.UUID, str] | None:
    """The organisation and source a page says its mentions are of, or None if unreadable."""
    organization_id, source = event.organization_id, event.data.get("source")
    if organization_id is None or not isinstance(source, str):
        return None
    return organization_id, source


class MentionIngestion:
    """The ingestion consumer's handlers; the sentiment model is loaded once, on first use.

    The consumer hands over each fetch of events at once (``handle_batch``), so a batch is
    scored in one call of the model, matched against queries read in one statement, inserted by
    one COPY and one INSERT and announced with one ``mentions_ingested`` per organisation; an
    event whose batch failed is handled alone."""

    def __init__(self) -> None:
        self._model: SentimentModel | None = None
        # Each organisation's newest trained model, else the default one.
        self.models = OrganizationModels(lambda: self.model)
        self.matcher = QueryMatcher()
        # (engagement, organisation) pairs found to belong together; see ``_accepted``.
        self._owned: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self.subscription = Subscription(
            durable=DURABLE,
            event=events.MENTION_RECEIVED,
            handler=self.handle,
            processed_model=ProcessedEvent,
            batch_handler=self.handle_batch,
            on_dead_letter=_dead_letter,
            fetch_batch=FETCH_BATCH,
        )

    def warm_up(self) -> None:
        """Load what ingestion keeps for the life of the process (the default sentiment model,
        the gazetteer and its grids, the accent table), then take it out of the garbage
        collector's sight (``gc.freeze``): some 270,000 objects that full collections would
        otherwise walk again and again while batches are handled. For a process about to
        consume, once, before it does."""
        self.model.label(["pronto"])
        for latitude, longitude in ((43.32, 11.33), (40.42, -3.70)):
            resolve(MentionClues("Perché Siena", latitude=latitude, longitude=longitude))
        query_matching.text_words_of("Perché")
        gc.freeze()

    @property
    def model(self) -> SentimentModel:
        if self._model is None:
            self._model = SentimentModel.load(None)
        return self._model

    async def handle(self, session: AsyncSession, event: CloudEvent) -> None:
        """One event alone, when its batch failed: a page's mention whose row cannot be built
        is dead-lettered with the error and the page's other mentions are stored (a page is
        one message, so the kernel could only dead-letter all of them)."""
        await self._ingest(session, [event], isolate=True)

    async def handle_batch(self, session: AsyncSession, received: Sequence[CloudEvent]) -> None:
        await self._ingest(session, received, isolate=False)

    async def _ingest(
        self, session: AsyncSession, received: Sequence[CloudEvent], *, isolate: bool
    ) -> None:
        checked: dict[tuple[uuid.UUID, uuid.UUID], str | None] = {}
        accepted = [
            item for event in received for item in await self._accepted(session, event, checked)
        ]
        if not accepted:
            return
        texts = [clean(item.raw.text) for item in accepted]
        stated = [language_code(item.raw.language) for item in accepted]
        labelled = await self._labelled(session, accepted, texts, stated)
        queries_of = {
            organization_id: self.matcher.ready(queries)
            for organization_id, queries in (
                await repository.active_queries(
                    session, {item.raw.organization_id for item in accepted}
                )
            ).items()
        }
        rows = []
        for item, text, language, reading in zip(accepted, texts, stated, labelled, strict=True):
            queries = queries_of[item.raw.organization_id]
            if not isolate or item.position is None:
                rows.append(self._row(item, text, language, reading, queries))
                continue
            try:
                rows.append(self._row(item, text, language, reading, queries))
            except Exception as error:
                reason = f"cannot be stored: {type(error).__name__}: {error}"
                await _dead_letter_mention(session, item.event, item.position, reason)
        stored = await repository.insert_mentions(
            session, [[row.get(column) for column in repository.MENTION_COLUMNS] for row in rows]
        )
        on_commit(session, lambda: MENTIONS_INGESTED.add(len(stored)))
        await _announce(session, accepted, [row for row in rows if row["id"] in stored])

    async def _labelled(
        self,
        session: AsyncSession,
        accepted: list[_Accepted],
        texts: list[str],
        stated: list[str | None],
    ) -> list[Labelled]:
        """Each text's sentiment by its organisation's model, one call of each model, in the
        language the source stated when it gave one."""
        positions: dict[uuid.UUID, list[int]] = {}
        for index, item in enumerate(accepted):
            positions.setdefault(item.raw.organization_id, []).append(index)
        readings: dict[int, Labelled] = {}
        for organization_id, indexes in positions.items():
            model = await self.models.model_for(session, organization_id)
            read = model.label([texts[i] for i in indexes], stated=[stated[i] for i in indexes])
            readings.update(zip(indexes, read, strict=True))
        return [readings[index] for index in range(len(texts))]

    async def _accepted(
        self,
        session: AsyncSession,
        event: CloudEvent,
        checked: dict[tuple[uuid.UUID, uuid.UUID], str | None],
    ) -> list[_Accepted]:
        """The event's raw mentions that can be stored; each that cannot is written to the dead
        letters (the event itself when it carries one mention, or no readable page)."""
        if not events.is_mention_page(event):
            try:
                raw = RawMention.model_validate(event.data)
            except ValidationError as error:
                await _dead_letter(session, event, f"not a raw mention: {_described(error)}")
                return []
            reason = await self._refused(session, raw, checked)
            if reason is not None:
                await _dead_letter(session, event, reason)
                return []
            return [_Accepted(event, raw, _named(raw), None)]
        mentions = events.received_mentions(event)
        page_of = _page_of(event)
        if mentions is None or page_of is None:
            await _dead_letter(session, event, "not a page of raw mentions")
            return []
        accepted = []
        for position, data in enumerate(mentions):
            try:
                raw = RawMention.model_validate(data)
            except ValidationError as error:
                reason = f"not a raw mention: {_described(error)}"
                await _dead_letter_mention(session, event, position, reason)
                continue
            if (raw.organization_id, raw.source.value) != page_of:
                # A page is its organisation's: it cannot store another organisation's mention.
                reason = (
                    f"of organisation {raw.organization_id} and source {raw.source.value}, "
                    f"in a page of {page_of[0]} and {page_of[1]}"
                )
            else:
                reason = await self._refused(session, raw, checked)
            if reason is not None:
                await _dead_letter_mention(session, event, position, reason)
                continue
            accepted.append(_Accepted(event, raw, _named(raw), position))
        return accepted

    async def _refused(
        self,
        session: AsyncSession,
        raw: RawMention,
        checked: dict[tuple[uuid.UUID, uuid.UUID], str | None],
    ) -> str | None:
        """Why the mention cannot be stored, or None: the engagement it names is not its
        organisation's.

        ``checked`` holds what the batch found of each engagement and organisation named (why
        not, or None), so each is looked up once per batch. An engagement found to be the
        organisation's is remembered for the life of the process (``_owned``): an engagement
        never changes organisation. A refusal is not: the engagement may be known later."""
        if raw.engagement_id is None:
            return None
        named = (raw.engagement_id, raw.organization_id)
        if named in self._owned:
            return None
        if named not in checked:
            checked[named] = await _engagement_refused(session, *named)
        reason = checked[named]
        if reason is None:
            if len(self._owned) >= OWNED_ENGAGEMENTS_KEPT:
                self._owned.clear()
            self._owned.add(named)
        return reason

    def _row(
        self,
        item: _Accepted,
        text: str,
        stated_language: str | None,
        reading: Labelled,
        queries: list[ReadyQuery],
    ) -> dict[str, Any]:
        raw = item.raw
        sentiment = self._sentiment(reading, stated_language)
        language = stated_language or sentiment.language
        coordinates = raw.coordinates
        place = resolve(
            MentionClues(
                text=text,
                profile_location=raw.author.profile_location,
                latitude=coordinates.latitude if coordinates else None,
                longitude=coordinates.longitude if coordinates else None,
            )
        )
        hashtags = names_without_mark(raw.hashtags, "#")
        accounts = names_without_mark(raw.accounts, "@")
        matched = self.matcher.matching(
            queries,
            query_matching.MentionText(
                text=text,
                hashtags=tuple(hashtags),
                accounts=tuple(accounts),
                language=language,
                places=place_names(place),
            ),
            raw.source.value,
        )
        engagement_ids = list(item.named_engagements)
        for query in matched:
            if query.engagement_id is not None and query.engagement_id not in engagement_ids:
                engagement_ids.append(query.engagement_id)
        return {
            "id": uuid.uuid4(),
            "organization_id": raw.organization_id,
            "engagement_ids": engagement_ids,
            "query_ids": [query.id for query in matched],
            "source": raw.source.value,
            "external_id": clean(raw.external_id),
            "author_handle": clean(raw.author.handle).removeprefix("@"),
            "author_name": raw.author.display_name,
            "author_location": raw.author.profile_location,
            "text": text,
            "url": raw.url,
            "published_at": raw.published_at.astimezone(UTC),
            "hashtags": hashtags,
            "accounts": accounts,
            "latitude": coordinates.latitude if coordinates else None,
            "longitude": coordinates.longitude if coordinates else None,
            "language": language,
            "sentiment_label": sentiment.label,
            "sentiment_score": sentiment.score,
            "sentiment_model_version": sentiment.model_version,
            **place_columns(place),
        }

    def _sentiment(self, reading: Labelled, stated_language: str | None) -> Labelled:
        """The model's reading; none when the source says a language the model does not read
        (the model would read the text as Italian or English)."""
        if stated_language is not None and stated_language not in self.model.manifest["languages"]:
            return Labelled(None, None, None, reading.model_version)
        return reading


async def _engagement_refused(
    session: AsyncSession, engagement_id: uuid.UUID, organization_id: uuid.UUID
) -> str | None:
    """Why a mention cannot name the engagement, or None when it is the organisation's."""
    try:
        await engagements.require(session, engagement_id, organization_id)
    except NotFoundError:
        return f"engagement {engagement_id} is unknown"
    except ProblemError:
        return f"engagement {engagement_id} belongs to another organisation"
    return None


async def _announce(
    session: AsyncSession, accepted: list[_Accepted], stored: list[dict[str, Any]]
) -> None:
    """One ``mentions_ingested`` per organisation for what the batch stored (duplicates of
    mentions stored before are not counted); nothing for an organisation that got none."""
    received: dict[uuid.UUID, dict[str, None]] = {}
    for item in accepted:
        # A page's mentions share its event: its id counts once.
        received.setdefault(item.raw.organization_id, {})[item.event.id] = None
    stored_of: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in stored:
        stored_of.setdefault(row["organization_id"], []).append(row)
    announcements = []
    for organization_id, event_ids in received.items():
        rows = stored_of.get(organization_id)
        if not rows:
            continue
        counts: Counter[str] = Counter(row["sentiment_label"] or "unlabelled" for row in rows)
        announcements.append(
            new_event(
                events.MENTIONS_INGESTED,
                events.MentionsIngested(
                    organization_id=organization_id,
                    mentions=len(rows),
                    mention_ids=[row["id"] for row in rows],
                    engagement_ids=list(
                        dict.fromkeys(e for row in rows for e in row["engagement_ids"])
                    ),
                    query_ids=list(dict.fromkeys(q for row in rows for q in row["query_ids"])),
                    sentiment=events.SentimentCounts(**counts),
                    items=[_ingested(row) for row in rows],
                ),
                source=events.SOURCE,
                subject=str(organization_id),
                event_id=events.ingested_event_id(list(event_ids)),
            )
        )
    # One statement for the batch's announcements, in the order their organisations came.
    await listening_outbox.add_all(session, announcements)


def _ingested(row: dict[str, Any]) -> events.IngestedMention:
    """The stored row as ``mentions_ingested`` tells it (from memory: no query)."""
    return events.IngestedMention(
        mention_id=row["id"],
        engagement_ids=row["engagement_ids"],
        query_ids=row["query_ids"],
        channel=row["source"],
        author=row["author_handle"] or None,
        sentiment=row["sentiment_label"],
        region_code=row.get("region_code"),
        region_name=row.get("region_name"),
        published_at=row["published_at"],
    )


def _described(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in detail['loc']) or 'data'}: {detail['msg']}"
        for detail in error.errors()
    )


def _organization(event: CloudEvent) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.data.get("organization_id")))
    except ValueError:
        return None


async def _dead_letter(session: AsyncSession, event: CloudEvent, reason: str) -> None:
    await repository.add_dead_letter(
        session,
        DeadLetter(
            id=uuid.uuid4(),
            organization_id=_organization(event),
            consumer=DURABLE,
            event_id=event.id,
            event_type=event.type,
            reason=reason,
            payload=event.model_dump(mode="json"),
        ),
    )


async def _dead_letter_mention(
    session: AsyncSession, event: CloudEvent, position: int, reason: str
) -> None:
    """One mention of a page, alone: ``<page id>#<position>``, and as its payload the page's
    envelope with that mention, as it came, for its data."""
    data = (events.received_mentions(event) or [])[position]
    envelope = event.model_dump(mode="json", exclude={"data"})
    await repository.add_dead_letter(
        session,
        DeadLetter(
            id=uuid.uuid4(),
            # The page's organisation, whatever the mention claims: its source published it.
            organization_id=event.organization_id,
            consumer=DURABLE,
            event_id=f"{event.id}#{position}",
            event_type=event.type,
            reason=reason,
            payload={**envelope, "data": data},
        ),
    )


ingestion = MentionIngestion()
