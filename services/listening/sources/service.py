"""Rules of sources: who may add one, what settings each kind takes, how a source's health
changes after a poll, and the events that say so."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events, repository
from services.listening.contracts import SourceKind
from services.listening.models import Source, engagements, outbox
from services.listening.sources.readers import Cursor, SourceError
from services.listening.sources.registry import CONNECTED_KINDS, PUSHED_SETTINGS, READERS
from services.listening.sources.schemas import (
    SourceCreate,
    SourceFilters,
    SourceHealth,
    SourceOut,
)
from shared.auth import Principal
from shared.errors import FieldError, NotFoundError, field_path, validation_problem
from shared.events.envelope import new_event
from shared.paging import Keyset
from shared.sealing import Sealer
from shared.settings import ListeningSettings

# A failing source is tried again after this, then twice as long each time.
FIRST_BACKOFF_SECONDS = 30
# Pushed sources are never due.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
# Oldest first; the id breaks ties.
SOURCE_ORDER = Keyset((Source.created_at, Source.id))


class ConnectedChannel(BaseModel):
    """A channel the publisher connected: its comments and the account's mentions."""

    model_config = ConfigDict(extra="forbid")

    connection_id: uuid.UUID


class SourceVault:
    """Sources' tokens and webhook secrets at rest."""

    def __init__(self, settings: ListeningSettings) -> None:
        self._sealer = Sealer(settings.credential_keys)

    def seal(self, secret: SecretStr) -> bytes:
        return self._sealer.seal(secret.get_secret_value().encode())

    def open(self, sealed: bytes | None) -> SecretStr | None:
        return None if sealed is None else SecretStr(self._sealer.open(sealed).decode())


def settings_model(kind: SourceKind) -> type[BaseModel] | None:
    if kind in READERS:
        return READERS[kind].Settings
    if kind in CONNECTED_KINDS:
        return ConnectedChannel
    return PUSHED_SETTINGS.get(kind)


def is_polled(kind: SourceKind) -> bool:
    return kind in READERS or kind in CONNECTED_KINDS


# Pushed kinds that take no secret: a file is uploaded by a signed-in admin or manager.
CREDENTIALLESS_PUSHED = frozenset({SourceKind.IMPORT})


def needs_credentials(kind: SourceKind) -> bool:
    reader = READERS.get(kind)
    if reader is not None:
        return reader.needs_credentials
    return kind in PUSHED_SETTINGS and kind not in CREDENTIALLESS_PUSHED


def _checked_settings(data: SourceCreate) -> BaseModel:
    model = settings_model(data.kind)
    if model is None:
        raise validation_problem(
            [
                FieldError(
                    field="body.kind",
                    message=f"{data.kind.value} sources cannot be added yet",
                    type="unsupported_source",
                )
            ]
        )
    try:
        checked = model.model_validate(data.settings)
    except ValidationError as error:
        raise validation_problem(
            [
                FieldError(
                    field=field_path(("body", "settings", *problem["loc"])),
                    message=problem["msg"],
                    type=problem["type"],
                )
                for problem in error.errors()
            ]
        ) from None
    if needs_credentials(data.kind) and data.credentials is None:
        raise validation_problem(
            [
                FieldError(
                    field="body.credentials",
                    message=f"{data.kind.value} sources need a token or secret",
                    type="missing",
                )
            ]
        )
    return checked


async def create_source(
    session: AsyncSession,
    principal: Principal,
    data: SourceCreate,
    vault: SourceVault,
    settings: ListeningSettings,
) -> Source:
    principal.require_organization(data.organization_id)
    checked = _checked_settings(data)
    if data.engagement_id is not None:
        await engagements.require(session, data.engagement_id, data.organization_id)
    now = datetime.now(UTC)
    source = Source(
        id=uuid.uuid4(),
        organization_id=data.organization_id,
        engagement_id=data.engagement_id,
        kind=data.kind.value,
        name=data.name,
        settings=checked.model_dump(mode="json"),
        credentials=vault.seal(data.credentials) if data.credentials is not None else None,
        cursor={},
        reads_from=data.reads_from or now,
        poll_interval_seconds=data.poll_interval_seconds or settings.default_poll_interval_seconds,
        status="active",
        consecutive_failures=0,
        next_poll_at=now if is_polled(data.kind) else NEVER,
        mentions_read=0,
        created_by=principal.subject,
    )
    session.add(source)
    await session.flush()
    return source


async def require_source(
    session: AsyncSession, source_id: uuid.UUID, *, for_update: bool = False
) -> Source:
    source = await session.get(Source, source_id, with_for_update=for_update)
    if source is None:
        raise NotFoundError("listening source", source_id)
    return source


async def list_sources(session: AsyncSession, filters: SourceFilters) -> Sequence[Source]:
    """A page of sources from after the cursor: one more than the page when more follow."""
    return await repository.page_by_scope(session, Source, SOURCE_ORDER, filters)


def stop_source(source: Source, now: datetime) -> None:
    """A stopped source is read no more; stopping it again changes nothing."""
    if source.status != "stopped":
        source.status = "stopped"
        source.stopped_at = now


async def stop_engagement_sources(
    session: AsyncSession, organization_id: uuid.UUID, engagement_id: uuid.UUID, now: datetime
) -> int:
    """Stop the engagement's own sources that are not stopped yet; how many."""
    found = await session.scalars(
        select(Source)
        .where(
            Source.organization_id == organization_id,
            Source.engagement_id == engagement_id,
            Source.status != "stopped",
        )
        .with_for_update()
    )
    stopped = 0
    for source in found:
        stop_source(source, now)
        stopped += 1
    return stopped


def source_view(source: Source) -> SourceOut:
    kind = SourceKind(source.kind)
    polled = is_polled(kind)
    return SourceOut(
        id=source.id,
        organization_id=source.organization_id,
        engagement_id=source.engagement_id,
        kind=kind,
        name=source.name,
        settings=source.settings,
        has_credentials=source.credentials is not None,
        polled=polled,
        reads_from=source.reads_from,
        poll_interval_seconds=source.poll_interval_seconds,
        health=SourceHealth(
            status=source.status,
            failure_kind=source.failure_kind,
            failure_reason=source.failure_reason,
            consecutive_failures=source.consecutive_failures,
            failing_since=source.failing_since,
            last_polled_at=source.last_polled_at,
            last_success_at=source.last_success_at,
            next_poll_at=source.next_poll_at if polled and source.status != "stopped" else None,
            mentions_read=source.mentions_read,
        ),
        created_by=source.created_by,
        created_at=source.created_at,
        stopped_at=source.stopped_at,
    )


def backoff_seconds(consecutive_failures: int, settings: ListeningSettings) -> float:
    exponent = min(max(consecutive_failures - 1, 0), 20)
    return float(min(FIRST_BACKOFF_SECONDS * 2**exponent, settings.max_backoff_seconds))


def _health_fact(source: Source, at: datetime) -> events.SourceHealthFact:
    return events.SourceHealthFact(
        source_id=source.id,
        organization_id=source.organization_id,
        engagement_id=source.engagement_id,
        kind=source.kind,
        name=source.name,
        at=at,
    )


async def record_read(
    session: AsyncSession,
    source: Source,
    *,
    cursor: Cursor,
    mentions: int,
    wait_seconds: float | None,
    now: datetime,
) -> None:
    """A poll worked: keep the cursor, and say the source recovered when it was failing."""
    if source.status == "failing":
        await outbox.add(
            session,
            new_event(
                events.SOURCE_RECOVERED,
                events.SourceRecovered(
                    **_health_fact(source, now).model_dump(),
                    failing_since=source.failing_since or now,
                    failures=source.consecutive_failures,
                ),
                source=events.SOURCE,
                subject=str(source.id),
                event_id=events.source_event_id(source.id, "recovered", now),
            ),
        )
        source.status = "active"
    source.cursor = cursor
    source.mentions_read += mentions
    source.consecutive_failures = 0
    source.failure_kind = None
    source.failure_reason = None
    source.failing_since = None
    source.last_polled_at = now
    source.last_success_at = now
    source.next_poll_at = now + timedelta(
        seconds=max(source.poll_interval_seconds, wait_seconds or 0.0)
    )


async def record_failure(
    session: AsyncSession,
    source: Source,
    error: SourceError,
    *,
    now: datetime,
    settings: ListeningSettings,
) -> None:
    """A poll failed: the source is ``failing`` with the reason, and tried again after a
    backoff. Only the first failure is announced; the reason shown is always the latest."""
    source.consecutive_failures += 1
    source.failure_kind = error.kind
    source.failure_reason = error.reason[:2000]
    source.last_polled_at = now
    source.next_poll_at = now + timedelta(
        seconds=backoff_seconds(source.consecutive_failures, settings)
    )
    if source.status == "failing":
        return
    source.status = "failing"
    source.failing_since = now
    await outbox.add(
        session,
        new_event(
            events.SOURCE_FAILING,
            events.SourceFailing(
                **_health_fact(source, now).model_dump(),
                failure_kind=error.kind,
                reason=source.failure_reason,
            ),
            source=events.SOURCE,
            subject=str(source.id),
            event_id=events.source_event_id(source.id, "failing", now),
        ),
    )
