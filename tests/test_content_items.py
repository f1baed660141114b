"""Content items and their per-channel variants through the gateway."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.models import OutboxEvent
from shared.auth import Role
from tests.conftest import Platform
from tests.test_content_media import jpeg, mp4, upload
from tests.test_thin_thread import create_org, engagement_body


async def create_item(platform: Platform, body: dict[str, Any], role: Role = Role.EDITOR) -> Any:
    response = await platform.gateway.post(
        "/v1/content-items", json=body, headers=platform.auth(role)
    )
    assert response.status_code == 201, response.text
    return response.json()


def post_body(organization_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "kind": "text",
        "title": "Festa della vendemmia",
        "body": "Sabato si vendemmia insieme! #vendemmia",
        **fields,
    }


async def outbox_events(
    sessions: async_sessionmaker[AsyncSession], name: str, subject: str
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.name == name))
        return [row.envelope for row in rows if row.envelope.get("subject") == subject]


async def test_an_item_is_created_with_variants_that_default_to_its_own_fields(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    photo = await upload(platform, organization_id, jpeg(1080, 1350), "image/jpeg")
    video = await upload(platform, organization_id, mp4(1920, 1080, 30), "video/mp4")
    item = await create_item(
        platform,
        post_body(
            organization_id,
            kind="image",
            link="https://laquercia.example/vendemmia",
            media_ids=[photo["id"]],
            variants=[
                {"channel": "instagram"},
                {"channel": "x", "text": "Vendemmia sabato! https://laquercia.example/v"},
                {"channel": "youtube", "text": "Il video", "media_ids": [video["id"]]},
            ],
        ),
    )
    assert item["status"] == "draft"
    assert item["created_by"] == "tester"
    variants = {variant["channel"]: variant for variant in item["variants"]}
    assert list(variants) == ["instagram", "x", "youtube"]
    assert variants["instagram"]["text"] == item["body"]
    assert variants["instagram"]["media_ids"] == [photo["id"]]
    assert variants["instagram"]["title"] is None
    assert variants["instagram"]["link"] == "https://laquercia.example/vendemmia"
    assert variants["youtube"]["title"] == "Festa della vendemmia"
    assert variants["youtube"]["media_ids"] == [video["id"]]

    read = await platform.gateway.get(
        f"/v1/content-items/{item['id']}",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[item["organization_id"]]),
    )
    assert read.json() == item
    (event,) = await outbox_events(sessions, "content.item_created", item["id"])
    assert event["type"] == "engage.content.item_created.v1"
    assert event["data"]["channels"] == ["instagram", "x", "youtube"]
    assert event["data"]["organization_id"] == organization_id


async def test_a_variant_breaking_a_platform_rule_is_a_422_naming_rule_channel_and_field(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        "/v1/content-items",
        json=post_body(
            organization_id,
            variants=[{"channel": "x", "text": "a" * 281}, {"channel": "pinterest"}],
        ),
        headers=platform.auth(Role.EDITOR),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:engage:problem:platform-rule-violation"
    found = {(v["channel"], v["rule"], v["field"]) for v in problem["violations"]}
    assert found == {("x", "max_length", "text"), ("pinterest", "media_count", "media")}
    x_violation = next(v for v in problem["violations"] if v["channel"] == "x")
    assert (x_violation["limit"], x_violation["actual"]) == (280, 281)
    assert x_violation["source"].startswith("https://")
    listed = await platform.gateway.get(
        "/v1/content-items",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.EDITOR),
    )
    assert listed.json() == []


async def test_variants_are_put_replaced_and_deleted_per_channel(platform: Platform) -> None:
    organization_id = await create_org(platform)
    item = await create_item(platform, post_body(organization_id))
    path = f"/v1/content-items/{item['id']}/variants/mastodon"
    writer = platform.auth(Role.EDITOR)
    created = await platform.gateway.put(path, json={}, headers=writer)
    assert created.status_code == 200, created.text
    assert created.json()["text"] == item["body"]
    replaced = await platform.gateway.put(path, json={"text": "Nuovo testo"}, headers=writer)
    assert replaced.json()["id"] == created.json()["id"]
    assert replaced.json()["text"] == "Nuovo testo"

    too_long = await platform.gateway.put(path, json={"text": "é" * 501}, headers=writer)
    assert too_long.status_code == 422
    (violation,) = too_long.json()["violations"]
    assert (violation["rule"], violation["channel"], violation["field"]) == (
        "max_length",
        "mastodon",
        "text",
    )
    read = await platform.gateway.get(f"/v1/content-items/{item['id']}", headers=writer)
    assert [v["text"] for v in read.json()["variants"]] == ["Nuovo testo"]

    assert (await platform.gateway.delete(path, headers=writer)).status_code == 204
    assert (await platform.gateway.delete(path, headers=writer)).status_code == 404
    unknown = await platform.gateway.put(
        f"/v1/content-items/{item['id']}/variants/myspace", json={}, headers=writer
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "path.channel"


async def test_editing_changes_fields_and_refuses_bad_values(platform: Platform) -> None:
    organization_id = await create_org(platform)
    item = await create_item(platform, post_body(organization_id, link="https://a.example/x"))
    path = f"/v1/content-items/{item['id']}"
    writer = platform.auth(Role.EDITOR)
    edited = await platform.gateway.patch(
        path, json={"title": "Nuovo titolo", "link": None}, headers=writer
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["title"], edited.json()["link"]) == ("Nuovo titolo", None)
    assert edited.json()["updated_at"] > item["updated_at"]

    nulled = await platform.gateway.patch(path, json={"title": None}, headers=writer)
    assert nulled.status_code == 422
    linkless = await platform.gateway.patch(path, json={"kind": "link"}, headers=writer)
    assert linkless.status_code == 422
    assert linkless.json()["errors"][0]["field"] == "body.link"
    empty = await platform.gateway.patch(path, json={}, headers=writer)
    assert empty.status_code == 422
    other = await create_org(platform, "Altro cliente")
    foreign = await upload(platform, other, jpeg(10, 10), "image/jpeg")
    borrowed = await platform.gateway.patch(
        path, json={"media_ids": [foreign["id"]]}, headers=writer
    )
    assert borrowed.status_code == 422
    assert borrowed.json()["type"] == "urn:engage:problem:unknown-media"
    read = await platform.gateway.get(path, headers=writer)
    assert (read.json()["title"], read.json()["media_ids"]) == ("Nuovo titolo", [])


async def test_bodies_are_validated_with_field_paths(platform: Platform) -> None:
    organization_id = await create_org(platform)
    writer = platform.auth(Role.EDITOR)
    cases = [
        (post_body(organization_id, colour="red"), "body.colour"),
        (post_body(organization_id, kind="hologram"), "body.kind"),
        (post_body(organization_id, title=""), "body.title"),
        (post_body(organization_id, link="ftp://x"), "body.link"),
        (
            post_body(organization_id, variants=[{"channel": "x"}, {"channel": "x"}]),
            "body.variants",
        ),
    ]
    for body, field in cases:
        response = await platform.gateway.post("/v1/content-items", json=body, headers=writer)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == field
    malformed = await platform.gateway.post(
        "/v1/content-items",
        content=b"{not json",
        headers={**writer, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400


async def test_roles_and_organisations_limit_who_writes_and_who_sees(platform: Platform) -> None:
    organization_id = await create_org(platform)
    other = await create_org(platform, "Altro cliente")
    for role in (Role.CLIENT_VIEWER, Role.CLIENT_APPROVER):
        refused = await platform.gateway.post(
            "/v1/content-items",
            json=post_body(organization_id),
            headers=platform.auth(role, orgs=[organization_id]),
        )
        assert refused.status_code == 403
        assert refused.json()["required_roles"] == ["admin", "editor", "manager"]
    outside = await platform.gateway.post(
        "/v1/content-items",
        json=post_body(organization_id),
        headers=platform.auth(Role.EDITOR, orgs=[other]),
    )
    assert outside.status_code == 404
    item = await create_item(platform, post_body(organization_id), role=Role.MANAGER)
    stranger = platform.auth(Role.CLIENT_VIEWER, orgs=[other])
    hidden = await platform.gateway.get(f"/v1/content-items/{item['id']}", headers=stranger)
    assert hidden.status_code == 404
    listed = await platform.gateway.get("/v1/content-items", headers=stranger)
    assert item["id"] not in {i["id"] for i in listed.json()}
    no_token = await platform.gateway.get("/v1/content-items")
    assert no_token.status_code == 401


async def test_an_items_engagement_must_belong_to_its_organisation(platform: Platform) -> None:
    organization_id = await create_org(platform)
    other = await create_org(platform, "Altro cliente")
    engagement = await platform.gateway.post(
        "/v1/engagements", json=engagement_body(other), headers=platform.auth(Role.MANAGER)
    )
    assert engagement.status_code == 201, engagement.text
    engagement_id = engagement.json()["id"]
    mismatch = await platform.gateway.post(
        "/v1/content-items",
        json=post_body(organization_id, engagement_id=engagement_id),
        headers=platform.auth(Role.EDITOR),
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"][0]["field"] == "body.engagement_id"
    item = await create_item(platform, post_body(other, engagement_id=engagement_id))
    listed = await platform.gateway.get(
        "/v1/content-items",
        params={"engagement_id": engagement_id},
        headers=platform.auth(Role.EDITOR),
    )
    assert [i["id"] for i in listed.json()] == [item["id"]]


async def test_the_rules_table_is_published_and_variants_can_be_checked_unsaved(
    platform: Platform,
) -> None:
    reader = platform.auth(Role.CLIENT_VIEWER)
    table = await platform.gateway.get(
        "/v1/platform-rules", params={"channel": "x"}, headers=reader
    )
    assert table.status_code == 200
    rules = table.json()
    assert {rule["channel"] for rule in rules} == {"x"}
    assert {"rule": "max_length", "field": "text", "limit": 280}.items() <= rules[0].items()
    assert all(rule["source"].startswith("https://") for rule in rules)

    checked = await platform.gateway.post(
        "/v1/platform-rules/check",
        json={"channel": "youtube", "text": "<b>", "title": "t" * 101},
        headers=reader,
    )
    assert checked.status_code == 200
    result = checked.json()
    assert result["passes"] is False
    assert {(v["rule"], v["field"]) for v in result["violations"]} == {
        ("max_length", "title"),
        ("forbidden_characters", "text"),
        ("media_count", "media"),
    }
    fine = await platform.gateway.post(
        "/v1/platform-rules/check", json={"channel": "sandbox", "text": "ciao"}, headers=reader
    )
    assert fine.json() == {"passes": True, "violations": []}
