"""Contests through the gateway: every route's happy path and its errors, entries judged and
deduplicated, and the draw, claims and result run by ``ContestClaimWorkflow`` on real servers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from nats.aio.client import Client as NatsClient

from services.content.contests import draw
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import new_engagement
from tests.events_helpers import stream_messages
from tests.test_errors import assert_problem

NOW = datetime.now(UTC)


def rules(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Estate alla Quercia",
        "channels": ["instagram", "facebook"],
        "starts_at": (NOW - timedelta(days=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=7)).isoformat(),
        "mechanism": "hashtag",
        "keyword": "#QuerciaEstate",
        "minimum_age": 18,
        "allowed_regions": ["Umbria", "IT-52"],
        "winners": 2,
        "reserves": 1,
        "claim_window_hours": 72,
        **changes,
    }


def entry(handle: str, **changes: Any) -> dict[str, Any]:
    return {
        "platform": "instagram",
        "user_handle": handle,
        "text": "Che estate! #querciaestate",
        "declared_age": 30,
        "region": "IT-55",
        "entered_at": NOW.isoformat(),
        **changes,
    }


async def create_contest(platform: Platform, engagement_id: str, **changes: Any) -> dict[str, Any]:
    created = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/contests",
        json=rules(**changes),
        headers=platform.auth(Role.EDITOR),
    )
    assert created.status_code == 201, created.text
    contest: dict[str, Any] = created.json()
    return contest


async def open_contest(platform: Platform, engagement_id: str, **changes: Any) -> str:
    contest_id: str = (await create_contest(platform, engagement_id, **changes))["id"]
    opened = await post(platform, f"/v1/contests/{contest_id}/open", Role.MANAGER)
    assert opened.status_code == 200, opened.text
    return contest_id


async def post(
    platform: Platform, path: str, role: Role, body: object = None, orgs: list[str] | None = None
) -> httpx.Response:
    return await platform.gateway.post(path, json=body, headers=platform.auth(role, orgs=orgs))


async def get(
    platform: Platform, path: str, role: Role = Role.MANAGER, orgs: list[str] | None = None
) -> httpx.Response:
    return await platform.gateway.get(path, headers=platform.auth(role, orgs=orgs))


async def enter(platform: Platform, contest_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(platform, f"/v1/contests/{contest_id}/entries", Role.EDITOR, body)
    assert response.status_code in (200, 201), response.text
    recorded: dict[str, Any] = response.json()
    return recorded


async def test_a_contest_is_drafted_edited_opened_and_closed(platform: Platform) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    contest = await create_contest(platform, engagement_id)
    assert contest["organization_id"] == organization_id
    assert contest["engagement_id"] == engagement_id
    assert contest["status"] == "draft"
    assert contest["allowed_regions"] == ["IT-55", "IT-52"]
    assert contest["workflow_id"] == f"contest-{contest['id']}"
    path = f"/v1/contests/{contest['id']}"

    client_view = await get(platform, path, Role.CLIENT_VIEWER, orgs=[organization_id])
    assert client_view.json()["name"] == "Estate alla Quercia"
    listed = await get(platform, f"/v1/engagements/{engagement_id}/contests")
    assert [item["id"] for item in listed.json()] == [contest["id"]]
    none_open = await get(platform, f"/v1/engagements/{engagement_id}/contests?status=open")
    assert none_open.json() == []

    edited = await platform.gateway.put(
        path, json=rules(winners=3, keyword="Quercia2027"), headers=platform.auth(Role.EDITOR)
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["winners"], edited.json()["keyword"]) == (3, "#Quercia2027")

    assert (await post(platform, f"{path}/open", Role.MANAGER)).json()["status"] == "open"
    too_late = await platform.gateway.put(path, json=rules(), headers=platform.auth(Role.EDITOR))
    assert assert_problem(too_late, 409, "conflict")["status"] == 409
    assert (await post(platform, f"{path}/close", Role.MANAGER)).json()["status"] == "closed"


async def test_entries_are_judged_deduplicated_and_kept_with_their_reason(
    platform: Platform,
) -> None:
    _, engagement_id = await new_engagement(platform)
    contest_id = await open_contest(platform, engagement_id)
    first = await enter(platform, contest_id, entry("@Mario.Rossi"))
    assert (first["status"], first["rejection_reason"], first["source"]) == (
        "accepted",
        None,
        "api",
    )
    verdicts = {
        "duplicate_entrant": entry(" mario.rossi "),
        "keyword_missing": entry("anna", text="Che estate! #quercia"),
        "under_minimum_age": entry("luca", declared_age=16),
        "age_statement_missing": entry("sara", declared_age=None),
        "region_not_allowed": entry("paolo", region="Lombardia"),
        "region_missing": entry("giulia", region=None),
        "outside_contest_period": entry("elena", entered_at=(NOW - timedelta(days=2)).isoformat()),
        "platform_not_in_contest": entry("marco", platform="x"),
    }
    for reason, body in verdicts.items():
        judged = await enter(platform, contest_id, body)
        assert (judged["status"], judged["rejection_reason"]) == ("rejected", reason)

    other_platform = await enter(platform, contest_id, entry("mario.rossi", platform="facebook"))
    assert other_platform["status"] == "accepted"
    from_a_mention = entry("chiara", source_mention_id="ig-123")
    recorded = await post(
        platform, f"/v1/contests/{contest_id}/entries", Role.EDITOR, from_a_mention
    )
    again = await post(platform, f"/v1/contests/{contest_id}/entries", Role.EDITOR, from_a_mention)
    assert (recorded.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == recorded.json()["id"]

    accepted = await get(platform, f"/v1/contests/{contest_id}/entries?status=accepted")
    assert sorted((item["platform"], item["user_handle"]) for item in accepted.json()) == [
        ("facebook", "mario.rossi"),
        ("instagram", "@Mario.Rossi"),
        ("instagram", "chiara"),
    ]
    everything = await get(platform, f"/v1/contests/{contest_id}/entries")
    assert len(everything.json()) == 3 + len(verdicts)


async def test_roles_and_organisations_decide_who_does_what(platform: Platform) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    stranger, _ = await new_engagement(platform)
    contest_id = (await create_contest(platform, engagement_id))["id"]
    path = f"/v1/contests/{contest_id}"

    viewer_creates = await post(
        platform,
        f"/v1/engagements/{engagement_id}/contests",
        Role.CLIENT_VIEWER,
        rules(),
        orgs=[organization_id],
    )
    assert assert_problem(viewer_creates, 403, "forbidden")["required_roles"] == [
        "admin",
        "editor",
        "manager",
    ]
    for role in (Role.EDITOR, Role.CLIENT_APPROVER):
        assert_problem(
            await post(platform, f"{path}/open", role, orgs=[organization_id]), 403, "forbidden"
        )
    assert_problem(await post(platform, f"{path}/draw", Role.EDITOR), 403, "forbidden")
    assert_problem(
        await post(
            platform, f"{path}/entries", Role.CLIENT_VIEWER, entry("x"), orgs=[organization_id]
        ),
        403,
        "forbidden",
    )
    assert_problem(await get(platform, path, Role.CLIENT_VIEWER, orgs=[stranger]), 404, "not-found")
    assert_problem(
        await get(
            platform,
            f"/v1/engagements/{engagement_id}/contests",
            Role.CLIENT_VIEWER,
            orgs=[stranger],
        ),
        404,
        "not-found",
    )
    assert_problem(await get(platform, f"/v1/contests/{uuid.uuid4()}"), 404, "not-found")
    assert_problem(
        await post(platform, f"/v1/engagements/{uuid.uuid4()}/contests", Role.EDITOR, rules()),
        404,
        "not-found",
    )


async def test_a_contest_refuses_what_its_state_does_not_allow(platform: Platform) -> None:
    _, engagement_id = await new_engagement(platform)
    contest_id = (await create_contest(platform, engagement_id))["id"]
    path = f"/v1/contests/{contest_id}"
    assert_problem(
        await post(platform, f"{path}/entries", Role.EDITOR, entry("mario")), 409, "conflict"
    )
    assert_problem(await post(platform, f"{path}/close", Role.MANAGER), 409, "conflict")
    assert_problem(await post(platform, f"{path}/draw", Role.MANAGER), 409, "conflict")
    assert (await post(platform, f"{path}/open", Role.MANAGER)).status_code == 200
    assert_problem(await post(platform, f"{path}/open", Role.MANAGER), 409, "conflict")
    assert_problem(await post(platform, f"{path}/draw", Role.MANAGER), 409, "conflict")
    rejected = await enter(platform, contest_id, entry("luca", declared_age=12))
    assert (await post(platform, f"{path}/close", Role.MANAGER)).status_code == 200
    nothing_to_draw = await post(platform, f"{path}/draw", Role.MANAGER)
    assert "no accepted entry" in str(assert_problem(nothing_to_draw, 409, "conflict")["detail"])
    not_a_winner = {"entry_id": rejected["id"]}
    assert_problem(
        await post(platform, f"{path}/claims", Role.EDITOR, not_a_winner), 409, "conflict"
    )
    unknown = {"entry_id": str(uuid.uuid4())}
    assert_problem(await post(platform, f"{path}/claims", Role.EDITOR, unknown), 404, "not-found")
    assert_problem(await get(platform, f"{path}/result"), 404, "not-found")
    assert_problem(await get(platform, f"{path}/draws/1/verification"), 404, "not-found")

    ended = await create_contest(
        platform,
        engagement_id,
        starts_at=(NOW - timedelta(days=9)).isoformat(),
        ends_at=(NOW - timedelta(days=2)).isoformat(),
    )
    assert_problem(
        await post(platform, f"/v1/contests/{ended['id']}/open", Role.MANAGER), 409, "conflict"
    )


def error_fields(response: httpx.Response) -> set[str]:
    body = assert_problem(response, 422, "validation-error")
    errors = body["errors"]
    assert isinstance(errors, list)
    return {error["field"] for error in errors}


async def test_invalid_bodies_name_their_fields(platform: Platform) -> None:
    _, engagement_id = await new_engagement(platform)
    create = f"/v1/engagements/{engagement_id}/contests"
    invalid_rules = {
        "body": rules(ends_at=rules()["starts_at"]),
        "body.starts_at": rules(starts_at="2027-06-01T10:00:00"),
        "body.keyword": rules(keyword="#due parole"),
        "body.allowed_regions.0": rules(allowed_regions=["Atlantide"]),
        "body.winners": rules(winners=0),
        "body.prize": rules(prize="una cena"),
        "body.channels": rules(channels=["instagram", "instagram"]),
    }
    for field, body in invalid_rules.items():
        assert field in error_fields(await post(platform, create, Role.EDITOR, body)), field

    contest_id = await open_contest(platform, engagement_id)
    entries = f"/v1/contests/{contest_id}/entries"
    invalid_entries = {
        "body.declared_age": entry("mario", declared_age=-1),
        "body.entered_at": entry("mario", entered_at="2027-06-01T10:00:00"),
        "body.user_handle": entry("@"),
        "body.platform": entry("mario", platform="myspace"),
    }
    for field, body in invalid_entries.items():
        assert field in error_fields(await post(platform, entries, Role.EDITOR, body)), field
    claims = f"/v1/contests/{contest_id}/claims"
    assert "body.entry_id" in error_fields(await post(platform, claims, Role.EDITOR, {}))


async def test_the_draw_is_verifiable_and_claims_publish_the_result(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    contest_id = await open_contest(platform, engagement_id)
    path = f"/v1/contests/{contest_id}"
    handles = ["anna", "bruno", "carla", "dario"]
    accepted = {
        (await enter(platform, contest_id, entry(handle)))["id"]: handle for handle in handles
    }
    await enter(platform, contest_id, entry("ettore", declared_age=15))
    assert (await post(platform, f"{path}/close", Role.MANAGER)).status_code == 200

    requested = await post(platform, f"{path}/draw", Role.MANAGER)
    assert requested.status_code == 202, requested.text
    assert requested.json()["status"] == "drawing"

    async def drawn() -> bool:
        return bool((await get(platform, f"{path}/draws")).json())

    await wait_until(drawn, timeout=20)
    (record,) = (await get(platform, f"{path}/draws")).json()
    assert (record["number"], record["reason"], record["candidates"]) == (1, "initial", 4)
    assert (len(record["winners"]), len(record["reserves"])) == (2, 1)
    assert record["requested_by"] == "tester"
    assert_problem(await post(platform, f"{path}/draw", Role.MANAGER), 409, "conflict")

    verification = (
        await get(platform, record["verification_url"], Role.CLIENT_VIEWER, [organization_id])
    ).json()
    assert verification["recomputed_matches"] is True
    entry_ids = [uuid.UUID(text) for text in verification["entry_ids"]]
    assert entry_ids == sorted((uuid.UUID(text) for text in accepted), key=str)
    assert verification["entries_hash"] == draw.entries_hash(entry_ids)
    recomputed = draw.recompute(verification["seed"], entry_ids, 3)
    assert [str(pick) for pick in recomputed] == record["winners"] + record["reserves"]

    reserve = {"entry_id": record["reserves"][0]}
    assert_problem(await post(platform, f"{path}/claims", Role.EDITOR, reserve), 409, "conflict")
    for winner in record["winners"]:
        claimed = await post(platform, f"{path}/claims", Role.EDITOR, {"entry_id": winner})
        assert (claimed.status_code, claimed.json()["award"]) == (200, "claimed"), claimed.text
    repeated = await post(platform, f"{path}/claims", Role.EDITOR, {"entry_id": winner})
    assert repeated.json()["claimed_at"] == claimed.json()["claimed_at"]

    async def published() -> bool:
        return (await get(platform, f"{path}/result")).status_code == 200

    await wait_until(published, timeout=20)
    result = (await get(platform, f"{path}/result", Role.CLIENT_VIEWER, [organization_id])).json()
    assert sorted(winner["handle"] for winner in result["winners"]) == sorted(
        accepted[winner] for winner in record["winners"]
    )
    assert (result["unassigned_prizes"], result["draws"]) == (0, [record["verification_url"]])
    assert (await get(platform, path)).json()["status"] == "result_published"

    events = platform.settings.events
    js = nats_client.jetstream()
    subject = f"{events.subject_prefix}.content.contest_result_published.*"

    async def result_event() -> list[dict[str, Any]]:
        return [
            data
            for msg in await stream_messages(js, events.stream, subject)
            if (data := json.loads(msg.data)["data"])["contest_id"] == contest_id
        ]

    async def result_event_relayed() -> bool:
        return bool(await result_event())

    await wait_until(result_event_relayed, timeout=15)
    (event,) = await result_event()
    assert sorted(winner["handle"] for winner in event["winners"]) == sorted(
        winner["handle"] for winner in result["winners"]
    )
