"""Scheduling through the gateway: time zones across the daylight-saving changes, what a request
must say, who may see and change what, and cancel/reschedule racing the moment of publishing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.publisher.contracts import (
    BATCH_POST_STATE_QUERY,
    PublishPostState,
    batch_workflow_id,
    in_a_batch,
)
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.publisher_helpers import SandboxAccount, schedule, settled
from tests.test_thin_thread import create_org

ROME = ZoneInfo("Europe/Rome")


def body(account: SandboxAccount, **fields: Any) -> dict[str, Any]:
    """A request refused before its variant is looked up, unless ``fields`` name an approved one."""
    return {
        "organization_id": account.organization_id,
        "connection_id": account.connection_id,
        "variant_id": str(uuid.uuid4()),
        "due_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        **fields,
    }


async def workflow_state(platform: Platform, publication: dict[str, Any]) -> PublishPostState:
    """The post as the batch holding it now sees it (a move changes the batch)."""
    read = await platform.gateway.get(
        f"/v1/publications/{publication['id']}", headers=platform.auth(Role.MANAGER)
    )
    workflow_id = read.json()["workflow_id"]
    assert in_a_batch(workflow_id), workflow_id
    handle = platform.temporal.get_workflow_handle(workflow_id)
    state: PublishPostState = await handle.query(
        BATCH_POST_STATE_QUERY, uuid.UUID(publication["id"]), result_type=PublishPostState
    )
    return state


async def cancel(platform: Platform, publication: dict[str, Any]) -> httpx.Response:
    return await platform.gateway.post(
        f"/v1/publications/{publication['id']}/cancel",
        json={"reason": "test over"},
        headers=platform.auth(Role.EDITOR),
    )


# Rome's clocks go forward on 28 March 2027 and back on 31 October 2027 (the last Sundays).
@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2027-03-27T09:00:00+01:00", datetime(2027, 3, 27, 8, 0, tzinfo=UTC)),
        ("2027-03-29T09:00:00+02:00", datetime(2027, 3, 29, 7, 0, tzinfo=UTC)),
        ("2027-10-30T09:00:00+02:00", datetime(2027, 10, 30, 7, 0, tzinfo=UTC)),
        ("2027-11-01T09:00:00+01:00", datetime(2027, 11, 1, 8, 0, tzinfo=UTC)),
    ],
)
async def test_a_rome_wall_time_is_kept_as_its_utc_instant_across_dst(
    platform: Platform, account: SandboxAccount, local: str, utc: datetime
) -> None:
    assert datetime.fromisoformat(local) == datetime.fromisoformat(local[:19]).replace(
        tzinfo=ROME
    ), "the offset is Rome's on that day"
    variant_id = await account.approved_variant(platform)
    created = await platform.gateway.post(
        "/v1/publications",
        json=body(account, variant_id=variant_id, due_at=local, timezone="Europe/Rome"),
        headers=platform.auth(Role.EDITOR),
    )
    assert created.status_code == 201, created.text
    publication = created.json()

    assert datetime.fromisoformat(publication["due_at"]) == utc
    assert datetime.fromisoformat(publication["due_at"]).utcoffset() == timedelta(0)
    assert publication["timezone"] == "Europe/Rome"
    read = await platform.gateway.get(
        f"/v1/publications/{publication['id']}", headers=platform.auth(Role.MANAGER)
    )
    assert read.json()["due_at"] == publication["due_at"], "stored as the same UTC instant"
    assert (await workflow_state(platform, publication)).due_at == utc
    assert (await cancel(platform, publication)).status_code == 200


async def test_a_post_given_in_rome_time_publishes_at_that_instant(
    platform: Platform, account: SandboxAccount
) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=2)).astimezone(ROME)
    publication = await schedule(platform, account, due_at=due.isoformat(), timezone="Europe/Rome")
    assert datetime.fromisoformat(publication["due_at"]) == due
    done = await settled(platform, publication["id"])

    assert done["status"] == "published", done
    published_at = datetime.fromisoformat(done["published_at"])
    assert due <= published_at < due + timedelta(seconds=10)


async def test_times_need_an_offset_and_zones_must_exist(
    platform: Platform, account: SandboxAccount
) -> None:
    editor = platform.auth(Role.EDITOR)
    naive = await platform.gateway.post(
        "/v1/publications", json=body(account, due_at="2027-03-29T09:00:00"), headers=editor
    )
    unknown_zone = await platform.gateway.post(
        "/v1/publications", json=body(account, timezone="Europe/Atlantis"), headers=editor
    )
    assert naive.status_code == 422, naive.text
    assert [error["field"] for error in naive.json()["errors"]] == ["body.due_at"]
    assert unknown_zone.status_code == 422, unknown_zone.text
    assert [error["field"] for error in unknown_zone.json()["errors"]] == ["body.timezone"]

    publication = await schedule(platform, account, in_seconds=3600)
    naive_move = await platform.gateway.post(
        f"/v1/publications/{publication['id']}/reschedule",
        json={"due_at": "2027-03-29T09:00:00"},
        headers=editor,
    )
    assert naive_move.status_code == 422
    assert [error["field"] for error in naive_move.json()["errors"]] == ["body.due_at"]
    assert (await cancel(platform, publication)).status_code == 200


async def test_another_organisations_connections_and_posts_are_not_found(
    platform: Platform, account: SandboxAccount
) -> None:
    publication = await schedule(platform, account, in_seconds=3600)
    other = await create_org(platform)
    for role in (Role.CLIENT_VIEWER, Role.CLIENT_APPROVER):
        outsider = platform.auth(role, orgs=[other])
        for path in (
            f"/v1/connections/{account.connection_id}",
            f"/v1/publications/{publication['id']}",
            f"/v1/publications/{publication['id']}/metrics",
        ):
            hidden = await platform.gateway.get(path, headers=outsider)
            assert hidden.status_code == 404, (role, path)
            assert hidden.json()["type"] == "urn:engage:problem:not-found"
        listed = await platform.gateway.get("/v1/publications", headers=outsider)
        assert listed.json() == []
        assert (await platform.gateway.get("/v1/connections", headers=outsider)).json() == []
    own = platform.auth(Role.CLIENT_VIEWER, orgs=[account.organization_id])
    assert (
        await platform.gateway.get(f"/v1/publications/{publication['id']}", headers=own)
    ).json()["id"] == publication["id"]

    other_editor = platform.auth(Role.EDITOR, orgs=[other])
    borrowed = await platform.gateway.post(
        "/v1/publications",
        json=body(account, organization_id=other),
        headers=other_editor,
    )
    assert borrowed.status_code == 404, "a connection of another organisation cannot be used"
    moved = await platform.gateway.post(
        f"/v1/publications/{publication['id']}/reschedule",
        json={"due_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
        headers=other_editor,
    )
    assert moved.status_code == 404
    assert (await cancel(platform, publication)).status_code == 200


async def test_clients_cannot_schedule_move_or_cancel(
    platform: Platform, account: SandboxAccount
) -> None:
    publication = await schedule(platform, account, in_seconds=3600)
    for role in (Role.CLIENT_VIEWER, Role.CLIENT_APPROVER):
        client = platform.auth(role, orgs=[account.organization_id])
        attempts = [
            await platform.gateway.post("/v1/publications", json=body(account), headers=client),
            await platform.gateway.post(
                f"/v1/publications/{publication['id']}/reschedule",
                json={"due_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
                headers=client,
            ),
            await platform.gateway.post(
                f"/v1/publications/{publication['id']}/cancel",
                json={"reason": "not ours to cancel"},
                headers=client,
            ),
        ]
        for attempt in attempts:
            assert attempt.status_code == 403, attempt.text
            assert attempt.json()["type"] == "urn:engage:problem:forbidden"
    listed = await platform.gateway.get(
        "/v1/publications",
        params={"organization_id": account.organization_id},
        headers=platform.auth(Role.MANAGER),
    )
    assert [item["id"] for item in listed.json()] == [publication["id"]], "nothing was scheduled"
    assert (await workflow_state(platform, publication)).stage == "waiting"
    assert (await cancel(platform, publication)).status_code == 200


async def race(
    platform: Platform, publication: dict[str, Any], from_due: float
) -> list[tuple[str, int]]:
    """Cancels and reschedules (a little later) fired together ``from_due`` seconds after the
    post's due time (before it when negative)."""
    moment = datetime.fromisoformat(publication["due_at"]) + timedelta(seconds=from_due)
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
    editor = platform.auth(Role.EDITOR)
    path = f"/v1/publications/{publication['id']}"

    async def change(kind: str, step: int) -> tuple[str, int]:
        if kind == "cancel":
            answer = await platform.gateway.post(
                f"{path}/cancel", json={"reason": f"race {step}"}, headers=editor
            )
        else:
            later = datetime.now(UTC) + timedelta(seconds=0.2 * step)
            answer = await platform.gateway.post(
                f"{path}/reschedule", json={"due_at": later.isoformat()}, headers=editor
            )
        return kind, answer.status_code

    return await asyncio.gather(
        *(change("cancel" if step % 2 else "reschedule", step) for step in range(1, 7))
    )


async def test_cancel_and_reschedule_racing_the_publish_never_duplicate_a_post(
    platform: Platform, account: SandboxAccount
) -> None:
    publications = await asyncio.gather(
        *(schedule(platform, account, in_seconds=2.0) for _ in range(12))
    )
    # From a second before the due time to half a second after, so that the changes meet
    # the workflow waiting, starting to publish, and done.
    offsets = [0.15 * (index - 7) for index in range(len(publications))]
    answers = await asyncio.gather(
        *(
            race(platform, publication, offset)
            for publication, offset in zip(publications, offsets, strict=True)
        )
    )

    for publication, changes in zip(publications, answers, strict=True):
        assert {status for _, status in changes} <= {200, 409}, changes
        done = await settled(platform, publication["id"])
        posts = await account.posts(publication["idempotency_key"])
        cancels_accepted = [kind for kind, status in changes if kind == "cancel" and status == 200]
        if done["status"] == "cancelled":
            assert posts == [], "a cancelled post was never sent"
            assert cancels_accepted, "only an accepted cancel cancels"
        else:
            assert done["status"] == "published", done
            assert [post["id"] for post in posts] == [done["platform_post_id"]]
            assert cancels_accepted == [], "an accepted cancel always wins"
            # The claim publishes a post only at the due time its batch holds, which is the
            # row's; the batch that published it may since have ended (a later run holds others).
            final_due = datetime.fromisoformat(done["due_at"])
            assert datetime.fromisoformat(done["published_at"]) >= final_due, "never early"


async def test_a_post_moved_to_another_minute_leaves_its_batch_and_is_published_once_by_the_new(
    platform: Platform, account: SandboxAccount
) -> None:
    publication = await schedule(platform, account, in_seconds=5.0)
    old_batch = publication["workflow_id"]
    assert old_batch == batch_workflow_id(
        uuid.UUID(account.connection_id), datetime.fromisoformat(publication["due_at"])
    )
    due = datetime.fromisoformat(publication["due_at"])
    later = due.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)
    moved = await platform.gateway.post(
        f"/v1/publications/{publication['id']}/reschedule",
        json={"due_at": later.isoformat()},
        headers=platform.auth(Role.EDITOR),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["workflow_id"] == batch_workflow_id(uuid.UUID(account.connection_id), later)
    waiting = await workflow_state(platform, publication)
    assert (waiting.stage, waiting.due_at) == ("waiting", later)

    old = platform.temporal.get_workflow_handle(old_batch)

    async def dropped() -> bool:
        state: PublishPostState = await old.query(
            BATCH_POST_STATE_QUERY, uuid.UUID(publication["id"]), result_type=PublishPostState
        )
        return state.stage == "moved"

    # The old batch reaches its due time, finds the post due at another time, and lets it go.
    await wait_until(dropped, timeout=30, interval=0.3)
    done = await settled(platform, publication["id"], timeout=90)
    assert done["status"] == "published", done
    assert datetime.fromisoformat(done["published_at"]) >= later
    posts = await account.posts(publication["idempotency_key"])
    assert [post["id"] for post in posts] == [done["platform_post_id"]]
    assert done["attempts"] == 1
