"""The publisher's facts: each publication's fate, and the figures its samples gave."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.publisher import events as publisher
from services.reporting.models import AccountMetricsFact, PostFact, PostMetricsFact
from services.reporting.readmodel.bulk import insert_new
from services.reporting.readmodel.reading import read
from shared.events.envelope import CloudEvent

# A post's states in the order they supersede each other, whatever order their facts arrive in:
# a post published stays published (a failure reported after it does not undo it), and a
# failure for good or a withdrawal ends a post that was only scheduled.
STATUS_RANK = {"scheduled": 0, "withdrawn": 1, "failed": 2, "published": 3}


def _rank(status: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[int]:
    return case(STATUS_RANK, value=status, else_=0)


async def _upsert_post(
    session: AsyncSession, fact: publisher.PostFact, status: str, **figures: object
) -> None:
    statement = insert(PostFact).values(
        publication_id=fact.publication_id,
        organization_id=fact.organization_id,
        engagement_id=fact.engagement_id,
        channel=fact.channel,
        variant_id=fact.variant_id,
        status=status,
        **figures,
    )
    new = statement.excluded
    kept_status = case(
        (_rank(new.status) > _rank(PostFact.status), new.status), else_=PostFact.status
    )
    # A failure is told only of a post that failed: one published after all keeps none.
    failed = kept_status == "failed"
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PostFact.publication_id],
            set_={
                "engagement_id": func.coalesce(PostFact.engagement_id, new.engagement_id),
                "status": kept_status,
                "due_at": func.coalesce(PostFact.due_at, new.due_at),
                "published_at": func.coalesce(PostFact.published_at, new.published_at),
                "url": func.coalesce(PostFact.url, new.url),
                "failed_at": case(
                    (failed, func.coalesce(PostFact.failed_at, new.failed_at)), else_=None
                ),
                "failure_class": case(
                    (failed, func.coalesce(PostFact.failure_class, new.failure_class)), else_=None
                ),
            },
        )
    )


async def record_post_scheduled(session: AsyncSession, event: CloudEvent) -> None:
    fact = read(publisher.PostScheduled, event)
    await _upsert_post(session, fact, "scheduled", due_at=fact.due_at)


async def record_post_published(session: AsyncSession, event: CloudEvent) -> None:
    fact = read(publisher.PostPublished, event)
    await _upsert_post(
        session,
        fact,
        "published",
        due_at=fact.due_at,
        published_at=fact.published_at,
        url=fact.url,
    )


async def record_post_failed(session: AsyncSession, event: CloudEvent) -> None:
    """A failure for good ends the post; one that will be retried leaves it scheduled."""
    fact = read(publisher.PostFailed, event)
    if fact.will_retry:
        await _upsert_post(session, fact, "scheduled")
        return
    await _upsert_post(
        session, fact, "failed", failed_at=event.time, failure_class=fact.failure_class
    )


async def record_post_withdrawn(session: AsyncSession, event: CloudEvent) -> None:
    await _upsert_post(session, read(publisher.PostWithdrawn, event), "withdrawn")


async def record_samples(session: AsyncSession, received: Sequence[CloudEvent]) -> None:
    """A fetch's samples in two bulk inserts. A sample is keyed by its time: the same key is
    the same sample, so one already kept is left as it is."""
    posts: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    for event in received:
        sampled = read(publisher.MetricsSampled, event)
        organization_id = sampled.organization_id
        posts += [
            {"organization_id": organization_id, **sample.model_dump()} for sample in sampled.posts
        ]
        accounts += [
            {"organization_id": organization_id, **sample.model_dump()}
            for sample in sampled.accounts
        ]
    await insert_new(session, PostMetricsFact, posts)
    await insert_new(session, AccountMetricsFact, accounts)


async def record_sample(session: AsyncSession, event: CloudEvent) -> None:
    await record_samples(session, [event])
