"""Rules of contests: rules edited only as drafts, opening and closing, and which entries count."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contests import eligibility, events, repository
from services.content.contests.contracts import (
    ContestMention,
    IngestContestEntries,
    IngestedContestEntries,
)
from services.content.contests.domain import (
    ContestStatus,
    EntryMechanism,
    EntrySource,
    EntryStatus,
    RejectionReason,
)
from services.content.contests.models import Contest, ContestEntry
from services.content.contests.regions import parse_region
from services.content.contests.repository import Lock
from services.content.contests.schemas import ContestRules, EntrySubmission
from services.content.models import engagements, outbox
from shared.auth import Principal
from shared.domain import Channel
from shared.errors import ConflictError, NotFoundError
from shared.events.envelope import CloudEvent, new_event

# Entries dated within the contest may still arrive after it closes (listening lags behind
# the networks); the draw freezes the list.
TAKING_ENTRIES = frozenset({ContestStatus.OPEN, ContestStatus.CLOSED})


def contest_event(
    name: str,
    contest: Contest,
    payload: type[events.ContestFact],
    /,
    *,
    event_id: uuid.UUID | None = None,
    **data: Any,
) -> CloudEvent:
    """An event about ``contest``; activities pass a deterministic ``event_id``."""
    fact = payload(
        contest_id=contest.id,
        organization_id=contest.organization_id,
        engagement_id=contest.engagement_id,
        **data,
    )
    return new_event(name, fact, source=events.SOURCE, subject=str(contest.id), event_id=event_id)


async def require_contest(
    session: AsyncSession, contest_id: uuid.UUID, lock: Lock | None = None
) -> Contest:
    contest = await repository.get_contest(session, contest_id, lock)
    if contest is None:
        raise NotFoundError("contest", contest_id)
    return contest


def require_status(contest: Contest, allowed: Collection[ContestStatus], rule: str) -> None:
    if contest.status not in allowed:
        raise ConflictError(
            f"The contest is {contest.status}: {rule}.", contest_status=contest.status
        )


def _rule_columns(rules: ContestRules) -> dict[str, Any]:
    return {
        "name": rules.name,
        "channels": [channel.value for channel in rules.channels],
        "starts_at": rules.starts_at,
        "ends_at": rules.ends_at,
        "mechanism": rules.mechanism.value,
        "keyword": eligibility.normalise_keyword(rules.mechanism, rules.keyword),
        "minimum_age": rules.minimum_age,
        "allowed_regions": list(rules.allowed_regions),
        "winners": rules.winners,
        "reserves": rules.reserves,
        "claim_window_hours": rules.claim_window_hours,
    }


async def create_contest(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: ContestRules
) -> Contest:
    organization_id = await engagements.require(session, engagement_id)
    contest = Contest(
        id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=engagement_id,
        status=ContestStatus.DRAFT,
        created_by=principal.subject,
        **_rule_columns(data),
    )
    session.add(contest)
    await session.flush()
    await outbox.add(
        session,
        contest_event(
            events.CONTEST_CREATED,
            contest,
            events.ContestCreated,
            name=contest.name,
            starts_at=contest.starts_at,
            ends_at=contest.ends_at,
        ),
    )
    return contest


async def update_contest(
    session: AsyncSession, contest_id: uuid.UUID, rules: ContestRules
) -> Contest:
    contest = await require_contest(session, contest_id, lock="update")
    require_status(contest, {ContestStatus.DRAFT}, "only a draft's rules may change")
    for column, value in _rule_columns(rules).items():
        setattr(contest, column, value)
    await session.flush()
    return contest


async def open_contest(session: AsyncSession, contest_id: uuid.UUID, now: datetime) -> Contest:
    contest = await require_contest(session, contest_id, lock="update")
    require_status(contest, {ContestStatus.DRAFT}, "only a draft can open")
    if contest.ends_at <= now:
        raise ConflictError(f"The contest ended at {contest.ends_at.isoformat()}: it cannot open.")
    contest.status = ContestStatus.OPEN
    await outbox.add(
        session,
        contest_event(
            events.CONTEST_OPENED,
            contest,
            events.ContestOpened,
            starts_at=contest.starts_at,
            ends_at=contest.ends_at,
            keyword=contest.keyword,
        ),
    )
    return contest


async def close_contest(session: AsyncSession, contest_id: uuid.UUID) -> Contest:
    contest = await require_contest(session, contest_id, lock="update")
    require_status(contest, {ContestStatus.OPEN}, "only an open contest can close")
    contest.status = ContestStatus.CLOSED
    accepted = await repository.count_accepted(session, contest.id)
    await outbox.add(
        session,
        contest_event(
            events.CONTEST_CLOSED, contest, events.ContestClosed, accepted_entries=accepted
        ),
    )
    return contest


async def submit_entry(
    session: AsyncSession, contest_id: uuid.UUID, submission: EntrySubmission
) -> tuple[ContestEntry, bool]:
    """The entry and whether it is new (False: its mention was already recorded)."""
    contest = await require_contest(session, contest_id, lock="share")
    require_status(contest, TAKING_ENTRIES, "entries are taken once it opens and until the draw")
    return await _record_entry(session, contest, submission, EntrySource.API)


async def ingest_mentions(
    session: AsyncSession, request: IngestContestEntries
) -> IngestedContestEntries:
    contest = await require_contest(session, request.contest_id, lock="share")
    if contest.status not in TAKING_ENTRIES:
        return IngestedContestEntries(contest_id=contest.id, accepting_entries=False)
    counts: Counter[str] = Counter()
    for mention in request.mentions:
        try:
            submission = _submission_of(mention)
        except ValidationError:
            counts["invalid"] += 1
            continue
        entry, created = await _record_entry(session, contest, submission, EntrySource.LISTENING)
        counts[entry.status if created else "already_recorded"] += 1
    return IngestedContestEntries(
        contest_id=contest.id,
        accepting_entries=True,
        accepted=counts[EntryStatus.ACCEPTED],
        rejected=counts[EntryStatus.REJECTED],
        already_recorded=counts["already_recorded"],
        invalid=counts["invalid"],
    )


def _submission_of(mention: ContestMention) -> EntrySubmission:
    # A region the listening service could not name is no region, not a malformed mention.
    region = parse_region(mention.region) if mention.region else None
    return EntrySubmission(
        platform=mention.platform,
        user_handle=mention.author_handle,
        user_id=mention.author_id,
        text=mention.text,
        declared_age=mention.declared_age,
        region=region,
        entered_at=mention.posted_at,
        source_mention_id=mention.mention_id,
    )


def _terms(contest: Contest) -> eligibility.ContestTerms:
    return eligibility.ContestTerms(
        channels=frozenset(Channel(channel) for channel in contest.channels),
        starts_at=contest.starts_at,
        ends_at=contest.ends_at,
        mechanism=EntryMechanism(contest.mechanism),
        keyword=contest.keyword,
        minimum_age=contest.minimum_age,
        allowed_regions=tuple(contest.allowed_regions),
    )


def _verdict(reason: RejectionReason | None) -> dict[str, str | None]:
    if reason is None:
        return {"status": EntryStatus.ACCEPTED.value, "rejection_reason": None}
    return {"status": EntryStatus.REJECTED.value, "rejection_reason": reason.value}


async def _record_entry(
    session: AsyncSession, contest: Contest, submission: EntrySubmission, source: EntrySource
) -> tuple[ContestEntry, bool]:
    mention_id = submission.source_mention_id
    if mention_id is not None:
        known = await repository.entry_by_mention(session, contest.id, mention_id)
        if known is not None:
            return known, False
    candidate = eligibility.Candidate(
        platform=submission.platform,
        text=submission.text,
        entered_at=submission.entered_at,
        declared_age=submission.declared_age,
        region=submission.region,
    )
    breach = eligibility.first_breach(_terms(contest), candidate)
    values = {
        "id": uuid.uuid4(),
        "contest_id": contest.id,
        "organization_id": contest.organization_id,
        "platform": submission.platform.value,
        "user_handle": submission.user_handle,
        "entrant_key": eligibility.entrant_key(submission.user_handle),
        "user_id": submission.user_id,
        "text": submission.text,
        "declared_age": submission.declared_age,
        "region": submission.region,
        "entered_at": submission.entered_at,
        "source": source.value,
        "source_mention_id": mention_id,
    }
    entry = await repository.insert_entry(session, values | _verdict(breach))
    if entry is None and breach is None:
        # The unique index holds this entrant's accepted entry: this one is a duplicate.
        duplicate = _verdict(RejectionReason.DUPLICATE_ENTRANT)
        entry = await repository.insert_entry(session, values | duplicate)
    if entry is None:
        return await _recorded_concurrently(session, contest, mention_id), False
    await outbox.add(session, _entry_event(contest, entry))
    return entry, True


async def _recorded_concurrently(
    session: AsyncSession, contest: Contest, mention_id: str | None
) -> ContestEntry:
    """The same mention, recorded by another call while this one was deciding."""
    known = (
        await repository.entry_by_mention(session, contest.id, mention_id)
        if mention_id is not None
        else None
    )
    if known is None:
        raise ConflictError("The entry conflicts with one recorded at the same time; retry.")
    return known


def _entry_event(contest: Contest, entry: ContestEntry) -> CloudEvent:
    common: dict[str, Any] = {
        "entry_id": entry.id,
        "platform": entry.platform,
        "user_handle": entry.user_handle,
        "source": entry.source,
    }
    if entry.status == EntryStatus.ACCEPTED:
        return contest_event(events.CONTEST_ENTRY_ACCEPTED, contest, events.EntryRecorded, **common)
    return contest_event(
        events.CONTEST_ENTRY_REJECTED,
        contest,
        events.EntryRejected,
        reason=entry.rejection_reason,
        **common,
    )
