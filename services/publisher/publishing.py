"""Exactly-once publishing.

Every publish goes through three committed steps: claim (status ``publishing``, committed *before*
the platform is called), call, record. A crash between the platform's acceptance and the record
leaves the publication ``publishing``; so does a timeout, which is recorded as ``unconfirmed``.
Either way the next attempt asks the platform whether the post exists before sending anything:
an outcome that is not known to have failed is never blindly retried. Only failures known not to
have happened (429, 5xx before acceptance) are retried, and permanent ones (auth, content) never.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher import events, repository
from services.publisher.connections import mark_needs_reauth
from services.publisher.connectors.base import (
    AuthError,
    Connector,
    ContentRejectedError,
    Credentials,
    PublishRequest,
    PublishStatus,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.contracts import FailureClass, PublishOutcome
from services.publisher.crypto import TokenKeyError, TokenVault
from services.publisher.fresh_media import with_fresh_links
from services.publisher.models import Publication, outbox
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import new_event
from shared.media_links import MediaLinks
from shared.metrics import PUBLICATION_LATENESS, PUBLICATIONS, on_commit

ConnectorFor = Callable[[str], Connector]
SETTLED = frozenset({"published", "cancelled", "failed"})


class PostMovedError(Exception):
    """The post is due at another time than the one its batch holds: another batch (or this
    one, later) publishes it."""

    def __init__(self, due_at: datetime) -> None:
        super().__init__(f"the post is now due at {due_at.isoformat()}")
        self.due_at = due_at


class PublishFailedError(Exception):
    """A publish attempt failed; ``failure_class`` says whether to retry."""

    def __init__(
        self, failure_class: FailureClass, detail: str, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.failure_class = failure_class
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Claim:
    publication_id: uuid.UUID
    request: PublishRequest
    credentials: Credentials
    channel: str
    outcome_unknown: bool


def outcome_of(publication: Publication) -> PublishOutcome:
    return PublishOutcome(
        publication_id=publication.id,
        status=publication.status,
        platform_post_id=publication.platform_post_id,
        url=publication.url,
        published_at=publication.published_at,
        failure_class=publication.failure_class,
        detail=publication.failure_detail,
    )


def _event_id(publication: Publication, fact: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"publication/{publication.id}/{fact}")


class Publisher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        connector_for: ConnectorFor,
        media_links: MediaLinks,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._connector_for = connector_for
        # Signs each attempt's links to media of the content store (fresh_media.py).
        self._media_links = media_links

    async def publish(
        self, publication_id: uuid.UUID, *, due_at: datetime | None = None
    ) -> PublishOutcome:
        """``due_at``: the due time the caller's batch holds; a post still waiting but due at
        another time has been moved and is not published here (``PostMovedError``)."""
        claim = await self._claim(publication_id, due_at)
        if isinstance(claim, PublishOutcome):
            if claim.status == "failed":
                raise PublishFailedError(claim.failure_class or "unknown", claim.detail or "failed")
            return claim
        connector = self._connector_for(claim.channel)
        if claim.outcome_unknown:
            status = await self._check(connector, claim)
            if status.state in ("published", "processing") and status.platform_post_id:
                return await self._record_published(publication_id, status.platform_post_id, None)
            await self._reclaim(publication_id)
        try:
            result = await connector.publish(claim.credentials, claim.request)
        except RetryableError as error:
            await self._record_failure(publication_id, "retryable", str(error), will_retry=True)
            raise PublishFailedError("retryable", str(error), error.retry_after) from error
        except AuthError as error:
            await self._record_failure(publication_id, "auth", str(error), will_retry=False)
            raise PublishFailedError("auth", str(error)) from error
        except ContentRejectedError as error:
            await self._record_failure(
                publication_id, "content_rejected", str(error), will_retry=False
            )
            raise PublishFailedError("content_rejected", str(error)) from error
        except UnknownOutcomeError as error:
            await self._record_unconfirmed(publication_id, str(error))
            raise PublishFailedError("unknown", str(error)) from error
        return await self._record_published(publication_id, result.platform_post_id, result.url)

    async def _check(self, connector: Connector, claim: _Claim) -> PublishStatus:
        try:
            return await connector.check_status(claim.credentials, claim.request)
        except (RetryableError, UnknownOutcomeError) as error:
            # Still unknown: try again later, and never publish meanwhile.
            raise PublishFailedError("unknown", f"status check failed: {error}") from error
        except AuthError as error:
            await self._record_failure(claim.publication_id, "auth", str(error), will_retry=False)
            raise PublishFailedError("auth", str(error)) from error

    async def _claim(
        self, publication_id: uuid.UUID, due_at: datetime | None
    ) -> _Claim | PublishOutcome:
        async with session_scope(self._sessions, SYSTEM) as session:
            claimed = await repository.claim_waiting(session, publication_id, due_at)
            if claimed is not None:
                publication, sealed = claimed
                try:
                    credentials = self._vault.open(sealed)
                except TokenKeyError:
                    # Rare: undone with the transaction, and decided below as it reads the row.
                    await session.rollback()
                else:
                    return self._claimed(publication, credentials, outcome_unknown=False)
            row = await repository.publication_and_connection_for_update(session, publication_id)
            if row is None:
                raise PublishFailedError("content_rejected", f"no publication {publication_id}")
            publication, connection = row
            if publication.status in SETTLED:
                return outcome_of(publication)
            if (
                due_at is not None
                and publication.status == "scheduled"
                and publication.due_at != due_at
            ):
                # Rescheduled under this row's lock since the batch took it: not this batch's.
                raise PostMovedError(publication.due_at)
            if connection.status != "active":
                reason = f"the {connection.channel} connection needs re-authorisation"
                await self._fail(session, publication, "auth", reason, will_retry=False)
                return outcome_of(publication)
            try:
                credentials = self._vault.open(connection.token_ciphertext)
            except TokenKeyError as error:
                # No configured key reads this token: only a new authorisation can help.
                reason = f"the {connection.channel} token cannot be read: {error}"
                await self._fail(session, publication, "auth", reason, will_retry=False)
                await mark_needs_reauth(session, connection.id, reason)
                return outcome_of(publication)
            outcome_unknown = publication.status in ("publishing", "unconfirmed")
            if not outcome_unknown:
                publication.status = "publishing"
                publication.attempts += 1
            return self._claimed(publication, credentials, outcome_unknown=outcome_unknown)

    def _claimed(
        self, publication: Publication, credentials: Credentials, *, outcome_unknown: bool
    ) -> _Claim:
        return _Claim(
            publication_id=publication.id,
            request=with_fresh_links(
                PublishRequest.model_validate(publication.request),
                publication.organization_id,
                self._media_links,
            ),
            credentials=credentials,
            channel=publication.channel,
            outcome_unknown=outcome_unknown,
        )

    async def _reclaim(self, publication_id: uuid.UUID) -> None:
        """The platform has no such post: this attempt may send it."""
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await repository.get_publication(session, publication_id, for_update=True)
            assert publication is not None
            publication.status = "publishing"
            publication.attempts += 1

    async def _record_published(
        self, publication_id: uuid.UUID, platform_post_id: str, url: str | None
    ) -> PublishOutcome:
        async with session_scope(self._sessions, SYSTEM) as session:
            # Only the first record of a publish changes the row and stages the event.
            publication = await repository.mark_published(
                session,
                publication_id,
                platform_post_id=platform_post_id,
                url=url,
                published_at=datetime.now(UTC),
            )
            if publication is None:
                already = await repository.get_publication(session, publication_id)
                assert already is not None
                return outcome_of(already)
            _measure(session, publication, "published")
            await outbox.add(
                session,
                new_event(
                    events.POST_PUBLISHED,
                    events.PostPublished(
                        **events.post_fact(publication),
                        platform_post_id=platform_post_id,
                        url=url,
                        due_at=publication.due_at,
                        published_at=publication.published_at,
                    ),
                    source=events.SOURCE,
                    subject=str(publication.id),
                    event_id=_event_id(publication, "published"),
                ),
            )
            return outcome_of(publication)

    async def _record_failure(
        self,
        publication_id: uuid.UUID,
        failure_class: FailureClass,
        detail: str,
        *,
        will_retry: bool,
    ) -> None:
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await repository.get_publication(session, publication_id, for_update=True)
            assert publication is not None
            await self._fail(session, publication, failure_class, detail, will_retry=will_retry)
            if failure_class == "auth":
                await mark_needs_reauth(session, publication.connection_id, detail)

    async def _fail(
        self,
        session: AsyncSession,
        publication: Publication,
        failure_class: FailureClass,
        detail: str,
        *,
        will_retry: bool,
    ) -> None:
        # A retryable failure is known not to have happened: the post is pending again.
        publication.status = "scheduled" if will_retry else "failed"
        publication.failure_class = failure_class
        publication.failure_detail = detail[:2000]
        _measure(session, publication, "retrying" if will_retry else "failed")
        await outbox.add(
            session,
            new_event(
                events.POST_FAILED,
                events.PostFailed(
                    **events.post_fact(publication),
                    failure_class=failure_class,
                    detail=detail[:500],
                    attempt=publication.attempts,
                    will_retry=will_retry,
                ),
                source=events.SOURCE,
                subject=str(publication.id),
                event_id=_event_id(publication, f"failed/{publication.attempts}/{failure_class}"),
            ),
        )

    async def _record_unconfirmed(self, publication_id: uuid.UUID, detail: str) -> None:
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await repository.get_publication(session, publication_id, for_update=True)
            assert publication is not None
            publication.status = "unconfirmed"
            publication.failure_class = "unknown"
            publication.failure_detail = detail[:2000]
            _measure(session, publication, "unconfirmed")
            await outbox.add(
                session,
                new_event(
                    events.POST_UNCONFIRMED,
                    events.PostUnconfirmed(
                        **events.post_fact(publication),
                        detail=detail[:500],
                        attempt=publication.attempts,
                    ),
                    source=events.SOURCE,
                    subject=str(publication.id),
                    event_id=_event_id(publication, f"unconfirmed/{publication.attempts}"),
                ),
            )


def _measure(session: AsyncSession, publication: Publication, status: str) -> None:
    """Count the publish's outcome (and a published post's lateness) once it commits."""
    labels = {"channel": publication.channel}
    published_at = publication.published_at if status == "published" else None
    lateness = (published_at - publication.due_at).total_seconds() if published_at else None

    failure_class = publication.failure_class if status != "published" else None
    outcome = {**labels, "status": status, "failure_class": failure_class or "none"}

    def record() -> None:
        PUBLICATIONS.add(1, outcome)
        if lateness is not None:
            PUBLICATION_LATENESS.record(max(lateness, 0.0), labels)

    on_commit(session, record)
