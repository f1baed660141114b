"""The contest activities on the content service's real worker, against the real database:
listening mentions, reserves taking a silent winner's place, redraws and the published result.

Deadlines are reached by asking with a later ``as_of``, as the claim workflow does when its
timer fires.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.contests import awards, draw
from services.content.contests.contracts import (
    DRAW_CONTEST,
    INGEST_CONTEST_ENTRIES,
    PUBLISH_CONTEST_RESULT,
    SETTLE_CONTEST_CLAIMS,
    ContestMention,
    DrawContest,
    DrawReason,
    IngestContestEntries,
    PublishContestResult,
    SettleContestClaims,
)
from shared import task_queues
from shared.auth import Principal, Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.errors import ConflictError
from tests.conftest import Platform
from tests.engagement_helpers import new_engagement
from tests.test_contest_api import (
    NOW,
    create_contest,
    enter,
    entry,
    get,
    open_contest,
    post,
)

WINDOW = timedelta(hours=72)


async def closed_contest(platform: Platform, handles: list[str], **rules: Any) -> uuid.UUID:
    _, engagement_id = await new_engagement(platform)
    contest_id = await open_contest(platform, engagement_id, **rules)
    for handle in handles:
        assert (await enter(platform, contest_id, entry(handle)))["status"] == "accepted"
    assert (await post(platform, f"/v1/contests/{contest_id}/close", Role.MANAGER)).is_success
    return uuid.UUID(contest_id)


async def request_draw(sessions: async_sessionmaker[AsyncSession], contest_id: uuid.UUID) -> None:
    """What the draw route does before it starts the workflow, which these tests stand in for."""
    manager = Principal(subject="tester", roles=frozenset({Role.MANAGER}), all_organizations=True)
    async with session_scope(sessions, SYSTEM) as session:
        await awards.request_draw(session, manager, contest_id)


async def entries_by_handle(platform: Platform, contest_id: uuid.UUID) -> dict[str, Any]:
    entries = (await get(platform, f"/v1/contests/{contest_id}/entries")).json()
    return {item["user_handle"]: item for item in entries}


async def test_a_silent_winner_gives_way_to_the_reserve_then_to_a_redraw(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    contest_id = await closed_contest(platform, ["anna", "bruno", "carla"], winners=1, reserves=1)
    await request_draw(sessions, contest_id)
    first = DrawContest(
        contest_id=contest_id, number=1, reason=DrawReason.INITIAL, winners=1, reserves=1, as_of=NOW
    )
    standing = await platform.run_activity(task_queues.CONTENT, DRAW_CONTEST, first)
    retried = await platform.run_activity(task_queues.CONTENT, DRAW_CONTEST, first)
    assert retried == standing
    (winner,) = standing["pending"]
    assert datetime.fromisoformat(winner["claim_deadline"]) == NOW + WINDOW
    entries = await entries_by_handle(platform, contest_id)
    (reserve,) = [item for item in entries.values() if item["award"] == "reserve"]

    with pytest.raises(ConflictError, match="claim window closed"):
        async with session_scope(sessions, SYSTEM) as session:
            await awards.record_claim(
                session, contest_id, uuid.UUID(winner["entry_id"]), NOW + WINDOW
            )

    later = NOW + WINDOW + timedelta(minutes=1)
    settle = SettleContestClaims(contest_id=contest_id, as_of=later)
    standing = await platform.run_activity(task_queues.CONTENT, SETTLE_CONTEST_CLAIMS, settle)
    assert [pending["entry_id"] for pending in standing["pending"]] == [reserve["id"]]
    assert (standing["missing"], standing["candidates_left"]) == (0, 1)

    much_later = later + WINDOW + timedelta(minutes=1)
    settle = SettleContestClaims(contest_id=contest_id, as_of=much_later)
    standing = await platform.run_activity(task_queues.CONTENT, SETTLE_CONTEST_CLAIMS, settle)
    assert (standing["pending"], standing["missing"], standing["candidates_left"]) == ([], 1, 1)

    redraw = DrawContest(
        contest_id=contest_id,
        number=2,
        reason=DrawReason.REDRAW,
        winners=1,
        reserves=0,
        as_of=much_later,
    )
    standing = await platform.run_activity(task_queues.CONTENT, DRAW_CONTEST, redraw)
    assert (len(standing["pending"]), standing["draws"]) == (1, 2)
    entries = await entries_by_handle(platform, contest_id)
    redrawn = standing["pending"][0]["entry_id"]
    assert {item["id"] for item in entries.values() if item["award"] == "unclaimed"} == {
        winner["entry_id"],
        reserve["id"],
    }

    verification = (await get(platform, f"/v1/contests/{contest_id}/draws/2/verification")).json()
    # The redraw chose among entries never picked: the third entrant alone.
    assert verification["entry_ids"] == [redrawn]
    assert verification["recomputed_matches"] is True
    assert draw.recompute(verification["seed"], [uuid.UUID(redrawn)], 1) == [uuid.UUID(redrawn)]

    claimed = await post(
        platform, f"/v1/contests/{contest_id}/claims", Role.EDITOR, {"entry_id": redrawn}
    )
    assert claimed.json()["award"] == "claimed", claimed.text
    publish = PublishContestResult(contest_id=contest_id, published_at=much_later)
    published = await platform.run_activity(task_queues.CONTENT, PUBLISH_CONTEST_RESULT, publish)
    again = await platform.run_activity(task_queues.CONTENT, PUBLISH_CONTEST_RESULT, publish)
    assert (published["newly_published"], again["newly_published"]) == (True, False)

    result = (await get(platform, f"/v1/contests/{contest_id}/result")).json()
    handle_of = {item["id"]: handle for handle, item in entries.items()}
    assert [(item["handle"], item["draw_number"]) for item in result["winners"]] == [
        (handle_of[redrawn], 2)
    ]
    assert (result["unassigned_prizes"], len(result["draws"])) == (0, 2)


async def test_listening_mentions_become_entries_once(platform: Platform) -> None:
    _, engagement_id = await new_engagement(platform)
    contest_id = await open_contest(platform, engagement_id)

    def mention(mention_id: str, text: str, region: str | None) -> ContestMention:
        return ContestMention(
            mention_id=mention_id,
            platform=Channel.INSTAGRAM,
            author_handle=f"user_{mention_id}",
            text=text,
            posted_at=NOW,
            declared_age=25,
            region=region,
        )

    request = IngestContestEntries(
        contest_id=uuid.UUID(contest_id),
        mentions=[
            mention("m1", "Eccomi #QuerciaEstate", "Umbria"),
            mention("m2", "Eccomi senza hashtag", "Umbria"),
            mention("m3", "Eccomi #QuerciaEstate", "Narnia"),
        ],
    )
    first = await platform.run_activity(task_queues.CONTENT, INGEST_CONTEST_ENTRIES, request)
    again = await platform.run_activity(task_queues.CONTENT, INGEST_CONTEST_ENTRIES, request)
    assert (first["accepted"], first["rejected"], first["already_recorded"]) == (1, 2, 0)
    assert (again["accepted"], again["rejected"], again["already_recorded"]) == (0, 0, 3)

    entries = (await get(platform, f"/v1/contests/{contest_id}/entries")).json()
    assert {(item["source_mention_id"], item["rejection_reason"]) for item in entries} == {
        ("m1", None),
        ("m2", "keyword_missing"),
        ("m3", "region_missing"),
    }
    assert {item["source"] for item in entries} == {"listening"}

    draft = await create_contest(platform, engagement_id)
    to_draft = IngestContestEntries(contest_id=uuid.UUID(draft["id"]), mentions=request.mentions)
    refused = await platform.run_activity(task_queues.CONTENT, INGEST_CONTEST_ENTRIES, to_draft)
    assert refused["accepting_entries"] is False
