"""Ingestion: every raw mention a source published (``intake.py``) becomes a stored mention.

A kernel consumer (``shared/events/consumer.py``) handles each ``listening.mention_received``
event in one transaction with its ``processed_events`` row, and acknowledges it after the
commit. The handler normalises the mention, detects its language and scores its sentiment
(``sentiment/``), places it (``places/``), matches it against the organisation's active queries
(``query_language.py``) and inserts it, skipping one the organisation already has from that
source (the unique organisation, source and external id). What it stored is announced by one
``listening.mentions_ingested`` event through the outbox, in the same transaction.

A message that is not a raw mention, or names an engagement that is not the organisation's,
can never be stored: it is written to ``dead_letters`` with the reason, in the same
transaction, and acknowledged, so it is not redelivered and stays visible through the API.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events, query_language, repository
from services.listening.contracts import RawMention
from services.listening.models import DeadLetter, ListeningQuery, ProcessedEvent, engagements
from services.listening.models import outbox as listening_outbox
from services.listening.places import MentionClues, PlaceResolution, resolve
from services.listening.sentiment import Labelled, SentimentModel
from shared.errors import NotFoundError, ProblemError
from shared.events.consumer import Subscription
from shared.events.envelope import CloudEvent, new_event

DURABLE = "listening-mentions"
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


class UnreadableMentionError(Exception):
    """A message ingestion can never store; its text is the dead letter's reason."""


@dataclass(frozen=True)
class _ParsedQuery:
    expression_text: str
    exclusions_text: str | None
    expression: query_language.Expression
    exclusions: query_language.Expression | None


class QueryMatcher:
    """Matches mentions against queries, parsing each query's expressions once.

    A query's expressions do not change once it is switched on; the cache still checks the
    texts, so a query whose expressions were rewritten (a migration) is parsed again."""

    def __init__(self) -> None:
        self._parsed: dict[uuid.UUID, _ParsedQuery] = {}

    def _parse(self, query: ListeningQuery) -> _ParsedQuery:
        cached = self._parsed.get(query.id)
        if (
            cached is None
            or cached.expression_text != query.expression
            or cached.exclusions_text != query.exclusions
        ):
            cached = _ParsedQuery(
                expression_text=query.expression,
                exclusions_text=query.exclusions,
                expression=query_language.parse(query.expression),
                exclusions=query_language.parse(query.exclusions) if query.exclusions else None,
            )
            self._parsed[query.id] = cached
        return cached

    def matching(
        self, queries: list[ListeningQuery], mention: query_language.MentionText, source: str
    ) -> list[ListeningQuery]:
        """The queries that read the mention's source and language, match it and do not
        exclude it. A query limited to languages does not take a mention of unknown language."""
        found = []
        for query in queries:
            if source not in query.sources:
                continue
            if query.languages and mention.language not in query.languages:
                continue
            parsed = self._parse(query)
            if not query_language.matches(parsed.expression, mention):
                continue
            if parsed.exclusions is not None and query_language.matches(parsed.exclusions, mention):
                continue
            found.append(query)
        return found


def _clean(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _names(values: list[str], mark: str) -> list[str]:
    """Hashtags or accounts without their mark, trimmed, each once in the order given."""
    cleaned = (_clean(value).removeprefix(mark).strip() for value in values)
    return list(dict.fromkeys(value for value in cleaned if value))


def _language(value: str | None) -> str | None:
    """The ISO 639-1 part of what the source says (``it_IT`` is ``it``); None if unreadable."""
    if value is None:
        return None
    found = _LANGUAGE.match(value.strip())
    return found.group(1).lower() if found else None


def _place_columns(place: PlaceResolution | None) -> dict[str, Any]:
    if place is None:
        return {}
    names = {
        "comune": place.comune_name,
        "province": place.province_name,
        "region": place.region_name,
        "country": place.country_name,
    }
    return {
        "place_level": place.level,
        "place_code": place.code,
        "place_name": names[place.level],
        "place_method": place.method,
        "place_confidence": place.confidence,
        "comune_code": place.comune_code,
        "comune_name": place.comune_name,
        "province_code": place.province_code,
        "province_name": place.province_name,
        "region_code": place.region_code,
        "region_name": place.region_name,
        "country_code": place.country_code,
        "country_name": place.country_name,
    }


def _place_names(place: PlaceResolution | None) -> tuple[str, ...]:
    """What ``place:`` in a query can name: the place and every place containing it."""
    if place is None:
        return ()
    names = (place.comune_name, place.province_name, place.region_name, place.country_name)
    return tuple(name for name in names if name)


class MentionIngestion:
    """The ingestion consumer's handler; the sentiment model is loaded once, on first use."""

    def __init__(self) -> None:
        self._model: SentimentModel | None = None
        self.matcher = QueryMatcher()
        self.subscription = Subscription(
            durable=DURABLE,
            event=events.MENTION_RECEIVED,
            handler=self.handle,
            processed_model=ProcessedEvent,
        )

    @property
    def model(self) -> SentimentModel:
        if self._model is None:
            self._model = SentimentModel.load(None)
        return self._model

    async def handle(self, session: AsyncSession, event: CloudEvent) -> None:
        try:
            raw = RawMention.model_validate(event.data)
        except ValidationError as error:
            await _dead_letter(session, event, f"not a raw mention: {_described(error)}")
            return
        try:
            await self._ingest(session, event, raw)
        except UnreadableMentionError as error:
            await _dead_letter(session, event, str(error))

    async def _ingest(self, session: AsyncSession, event: CloudEvent, raw: RawMention) -> None:
        engagement_ids: list[uuid.UUID] = []
        if raw.engagement_id is not None:
            try:
                await engagements.require(session, raw.engagement_id, raw.organization_id)
            except NotFoundError:
                raise UnreadableMentionError(f"engagement {raw.engagement_id} is unknown") from None
            except ProblemError:
                raise UnreadableMentionError(
                    f"engagement {raw.engagement_id} belongs to another organisation"
                ) from None
            engagement_ids.append(raw.engagement_id)
        text = _clean(raw.text)
        stated_language = _language(raw.language)
        sentiment = self._sentiment(text, stated_language)
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
        hashtags, accounts = _names(raw.hashtags, "#"), _names(raw.accounts, "@")
        queries = self.matcher.matching(
            list(await repository.active_queries(session, raw.organization_id)),
            query_language.MentionText(
                text=text,
                hashtags=tuple(hashtags),
                accounts=tuple(accounts),
                language=language,
                places=_place_names(place),
            ),
            raw.source.value,
        )
        for query in queries:
            if query.engagement_id is not None and query.engagement_id not in engagement_ids:
                engagement_ids.append(query.engagement_id)
        mention_id = await repository.insert_mention(
            session,
            {
                "id": uuid.uuid4(),
                "organization_id": raw.organization_id,
                "engagement_ids": engagement_ids,
                "query_ids": [query.id for query in queries],
                "source": raw.source.value,
                "external_id": _clean(raw.external_id),
                "author_handle": _clean(raw.author.handle).removeprefix("@"),
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
                **_place_columns(place),
            },
        )
        await _announce(
            session, event, raw, mention_id, engagement_ids, [q.id for q in queries], sentiment
        )

    def _sentiment(self, text: str, language: str | None) -> Labelled:
        """The model's reading; none when the source says a language the model does not read
        (the model would read the text as Italian or English)."""
        labelled = self.model.label([text])[0]
        if language is not None and language not in self.model.manifest["languages"]:
            return Labelled(None, None, None, labelled.model_version)
        return labelled


async def _announce(
    session: AsyncSession,
    event: CloudEvent,
    raw: RawMention,
    mention_id: uuid.UUID | None,
    engagement_ids: list[uuid.UUID],
    query_ids: list[uuid.UUID],
    sentiment: Labelled,
) -> None:
    """One ``mentions_ingested`` for what the event stored; nothing when it was a duplicate."""
    if mention_id is None:
        return
    counts: Counter[str] = Counter([sentiment.label or "unlabelled"])
    await listening_outbox.add(
        session,
        new_event(
            events.MENTIONS_INGESTED,
            events.MentionsIngested(
                organization_id=raw.organization_id,
                mentions=1,
                mention_ids=[mention_id],
                engagement_ids=engagement_ids,
                query_ids=query_ids,
                sentiment=events.SentimentCounts(**counts),
            ),
            source=events.SOURCE,
            subject=str(raw.organization_id),
            event_id=events.ingested_event_id(event.id),
        ),
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


ingestion = MentionIngestion()
