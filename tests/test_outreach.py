"""Seeding and relationships through the gateway: the outreach list of an engagement, its steps
along the allowed transitions (409 for others), reminders and overdue next steps, the counts by
status each event carries, and candidates from listening's top authors less those listed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_listening_analytics import mention
from tests.test_strategy_deliverables import outbox_envelopes
from tests.test_thin_thread import create_org

Json = dict[str, Any]
PROBLEM = "application/problem+json"


def contacts_path(engagement_id: str, rest: str = "") -> str:
    return f"/v1/engagements/{engagement_id}/outreach/contacts{rest}"


async def client_engagement(platform: Platform, name: str = "Cantina Le Colline") -> Json:
    organization_id = await create_org(platform, name)
    engagement_id = await stored_engagement(platform, organization_id)
    return {
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "auth": platform.auth(Role.EDITOR, orgs=[organization_id]),
    }


async def add_contact(engage: Platform, client: Json, **fields: object) -> Json:
    body = {"kind": "person", "platform": "instagram", "handle": "lucia.sommelier", **fields}
    created = await engage.gateway.post(
        contacts_path(client["engagement_id"]), json=body, headers=client["auth"]
    )
    assert created.status_code == 201, created.text
    contact: Json = created.json()
    return contact


async def step(platform: Platform, client: Json, contact_id: str, **body: object) -> httpx.Response:
    return await platform.gateway.post(
        contacts_path(client["engagement_id"], f"/{contact_id}/steps"),
        json=body,
        headers=client["auth"],
    )


def rome_today() -> date:
    return datetime.now(ZoneInfo("Europe/Rome")).date()


async def test_a_relationship_moves_along_the_allowed_steps_only(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform)
    contact = await add_contact(
        platform, client, display_name="Lucia, sommelier", next_step="Send the press kit"
    )
    assert (contact["status"], contact["next_step"], contact["overdue"]) == (
        "to_contact",
        "Send the press kit",
        False,
    )
    # The same handle on the same platform, whatever its case, is the same contact.
    again = await platform.gateway.post(
        contacts_path(client["engagement_id"]),
        json={"kind": "person", "platform": "Instagram", "handle": "LUCIA.sommelier"},
        headers=client["auth"],
    )
    assert again.status_code == 409, again.text
    assert again.json()["contact_id"] == contact["id"]
    # On another platform it is another contact.
    await add_contact(platform, client, platform="mastodon", kind="community")

    skipped = await step(platform, client, contact["id"], status="engaged")
    assert skipped.status_code == 409, skipped.text
    assert skipped.headers["content-type"].startswith(PROBLEM)
    assert skipped.json()["allowed"] == ["contacted"]

    due = (rome_today() + timedelta(days=3)).isoformat()
    contacted = await step(
        platform, client, contact["id"], status="contacted", note="DM sent", next_step="Follow up",
        due_on=due,
    )  # fmt: skip
    assert contacted.status_code == 201, contacted.text
    assert (contacted.json()["previous_status"], contacted.json()["status"]) == (
        "to_contact",
        "contacted",
    )
    for status in ("replied", "engaged"):
        moved = await step(platform, client, contact["id"], status=status)
        assert moved.status_code == 201, moved.text
    # Engaged is where a relationship ends up: no step leads out of it.
    declined = await step(platform, client, contact["id"], status="declined")
    assert declined.status_code == 409, declined.text

    read = await platform.gateway.get(
        contacts_path(client["engagement_id"], f"/{contact['id']}"), headers=client["auth"]
    )
    # The last step left no reminder: the one before is cleared.
    assert (read.json()["status"], read.json()["next_step"], read.json()["due_on"]) == (
        "engaged",
        None,
        None,
    )
    steps = await platform.gateway.get(
        contacts_path(client["engagement_id"], f"/{contact['id']}/steps"),
        params={"limit": 2},
        headers=client["auth"],
    )
    assert [s["status"] for s in steps.json()] == ["contacted", "replied"]
    assert steps.json()[0]["note"] == "DM sent"
    following = await platform.gateway.get(steps.links["next"]["url"], headers=client["auth"])
    assert [s["status"] for s in following.json()] == ["engaged"]
    assert "next" not in following.links

    envelopes = await outbox_envelopes(sessions, contact["id"])
    names = [envelope["type"] for envelope in envelopes]
    assert names == [
        "engage.strategy.outreach_contact_recorded.v1",
        *["engage.strategy.outreach_step_recorded.v1"] * 3,
    ]
    last = envelopes[-1]["data"]
    assert (last["previous_status"], last["status"]) == ("replied", "engaged")
    # The engagement's counts after the step: the mastodon community still to contact.
    assert last["by_status"] == {
        "to_contact": 1,
        "contacted": 0,
        "replied": 0,
        "engaged": 1,
        "declined": 0,
    }


async def test_reminders_list_next_steps_by_due_day_and_the_overdue_ones(
    platform: Platform,
) -> None:
    client = await client_engagement(platform, "Frantoio San Vito")
    today = rome_today()
    late = await add_contact(
        platform, client, handle="oleoteca", next_step="Call", due_on=str(today - timedelta(1))
    )
    soon = await add_contact(
        platform, client, handle="foodblog", next_step="Email", due_on=str(today + timedelta(2))
    )
    await add_contact(platform, client, handle="noreminder")
    assert late["overdue"] is True
    assert soon["overdue"] is False

    path = f"/v1/engagements/{client['engagement_id']}/outreach/reminders"
    every = await platform.gateway.get(path, headers=client["auth"])
    assert [c["handle"] for c in every.json()] == ["oleoteca", "foodblog"]
    overdue = await platform.gateway.get(path, params={"overdue": "true"}, headers=client["auth"])
    assert [c["handle"] for c in overdue.json()] == ["oleoteca"]

    counts = await platform.gateway.get(
        f"/v1/engagements/{client['engagement_id']}/outreach/counts", headers=client["auth"]
    )
    assert counts.status_code == 200, counts.text
    assert (counts.json()["total"], counts.json()["overdue"]) == (3, 1)
    assert counts.json()["by_status"]["to_contact"] == 3

    # Clearing the reminder takes the contact off the reminders.
    cleared = await platform.gateway.patch(
        contacts_path(client["engagement_id"], f"/{late['id']}"),
        json={"next_step": None, "due_on": None, "notes": "Met at the fair"},
        headers=client["auth"],
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["due_on"], cleared.json()["overdue"]) == (None, False)
    overdue = await platform.gateway.get(path, params={"overdue": "true"}, headers=client["auth"])
    assert overdue.json() == []

    filtered = await platform.gateway.get(
        contacts_path(client["engagement_id"]),
        params={"handles": "FOODBLOG,oleoteca,unknown"},
        headers=client["auth"],
    )
    assert sorted(c["handle"] for c in filtered.json()) == ["foodblog", "oleoteca"]


async def test_bad_input_other_organisations_and_roles(platform: Platform) -> None:
    client = await client_engagement(platform, "Birrificio Valle")
    contact = await add_contact(platform, client)
    engagement_id = client["engagement_id"]

    bad = await platform.gateway.post(
        contacts_path(engagement_id),
        json={"kind": "influencer", "platform": "in sta", "handle": "a b"},
        headers=client["auth"],
    )
    assert bad.status_code == 422, bad.text
    fields = {error["field"] for error in bad.json()["errors"]}
    assert {"body.kind", "body.platform", "body.handle"} <= fields
    nul = await platform.gateway.get(
        contacts_path(engagement_id), params={"handles": "a\x00b"}, headers=client["auth"]
    )
    assert nul.status_code == 422, nul.text
    unknown_status = await step(platform, client, contact["id"], status="ghosted")
    assert unknown_status.status_code == 422, unknown_status.text

    # Another organisation's editor sees nothing of it, and changes nothing.
    other = await create_org(platform, "Altra Azienda")
    stranger = platform.auth(Role.MANAGER, orgs=[other])
    for response in (
        await platform.gateway.get(contacts_path(engagement_id), headers=stranger),
        await platform.gateway.get(
            contacts_path(engagement_id, f"/{contact['id']}"), headers=stranger
        ),
        await platform.gateway.post(
            contacts_path(engagement_id, f"/{contact['id']}/steps"),
            json={"status": "contacted"},
            headers=stranger,
        ),
        await platform.gateway.get(
            f"/v1/engagements/{engagement_id}/outreach/candidates", headers=stranger
        ),
    ):
        assert response.status_code == 404, response.text
    # A client's people read the list but do not work it.
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[client["organization_id"]])
    listed = await platform.gateway.get(contacts_path(engagement_id), headers=viewer)
    assert [c["id"] for c in listed.json()] == [contact["id"]]
    refused = await platform.gateway.post(
        contacts_path(engagement_id, f"/{contact['id']}/steps"),
        json={"status": "contacted"},
        headers=viewer,
    )
    assert refused.status_code == 403, refused.text
    unknown = await platform.gateway.get(
        contacts_path(engagement_id, "/00000000-0000-4000-8000-000000000000"),
        headers=client["auth"],
    )
    assert unknown.status_code == 404, unknown.text


async def test_candidates_are_listenings_top_authors_less_those_listed(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform, "Agriturismo Il Poggio")
    o, e = client["organization_id"], client["engagement_id"]
    async with sessions() as session:
        session.add_all(
            [
                *(mention(o, e, "2026-11-20T10:00:00Z", author_handle="marta",
                          author_name="Marta", sentiment_label="positive") for _ in range(3)),
                *(mention(o, e, "2026-11-21T10:00:00Z", author_handle="gianni",
                          sentiment_label="negative") for _ in range(2)),
                mention(o, e, "2026-11-22T10:00:00Z", author_handle="luca", source="mastodon"),
            ]
        )  # fmt: skip
        await session.commit()
    path = f"/v1/engagements/{e}/outreach/candidates"

    async def known() -> bool:
        return (await platform.gateway.get(path, headers=client["auth"])).status_code == 200

    await wait_until(known, timeout=15)
    # Gianni is on the list already (his handle in another case).
    await add_contact(platform, client, handle="Gianni")

    found = await platform.gateway.get(path, headers=client["auth"])
    assert found.status_code == 200, found.text
    candidates = found.json()["candidates"]
    assert [(c["platform"], c["handle"], c["mentions"]) for c in candidates] == [
        ("instagram", "marta", 3),
        ("mastodon", "luca", 1),
    ]
    assert (candidates[0]["display_name"], candidates[0]["positive"]) == ("Marta", 3)
    assert found.json()["on_the_list"] == 1

    one = await platform.gateway.get(
        path, params={"limit": 1, "source": "mastodon"}, headers=client["auth"]
    )
    assert [c["handle"] for c in one.json()["candidates"]] == ["luca"]
    bad = await platform.gateway.get(path, params={"limit": 0}, headers=client["auth"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.limit"
