"""Touchpoints of the real world through the gateway: their tracked links and QR codes, the public
redirect that counts each scan or click per day (and keeps nothing about who), the reports."""

from __future__ import annotations

import asyncio
import io
import struct
import uuid
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import segno
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_strategy_deliverables import objectives_body, outbox_envelopes
from tests.test_thin_thread import create_org

Json = dict[str, Any]
PROBLEM = "application/problem+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVENT_TYPE = "engage.strategy.{}.v1"


def touchpoints_path(engagement_id: str, touchpoint_id: str = "") -> str:
    path = f"/v1/engagements/{engagement_id}/touchpoints"
    return f"{path}/{touchpoint_id}" if touchpoint_id else path


def touchpoint_body(**overrides: object) -> Json:
    return {
        "kind": "event",
        "name": "Stand at Vinitaly 2027",
        "place": "Verona, hall 8",
        "destination_url": "https://www.laquercia.example/vini?lang=it#degustazione",
        "channels": ["instagram"],
        "objective_ids": ["engagement"],
        **overrides,
    }


async def client_engagement(platform: Platform, name: str = "Agriturismo La Quercia") -> Json:
    """(organisation, engagement, its manager's headers), the objectives deliverable saved."""
    organization_id = await create_org(platform, name)
    engagement_id = await stored_engagement(platform, organization_id)
    manager = platform.auth(Role.MANAGER, orgs=[organization_id])
    saved = await platform.gateway.put(
        f"/v1/engagements/{engagement_id}/deliverables/objectives",
        json=objectives_body(),
        headers=manager,
    )
    assert saved.status_code == 201, saved.text
    return {"organization_id": organization_id, "engagement_id": engagement_id, "auth": manager}


async def create_touchpoint(platform: Platform, client: Json, **overrides: object) -> Json:
    created = await platform.gateway.post(
        touchpoints_path(client["engagement_id"]),
        json=touchpoint_body(**overrides),
        headers=client["auth"],
    )
    assert created.status_code == 201, created.text
    touchpoint: Json = created.json()
    return touchpoint


async def follow(platform: Platform, link: str) -> Any:
    """Follow a tracked link through the gateway as anyone on the internet: no token."""
    parts = urlsplit(link)
    return await platform.gateway.get(
        parts.path, params=dict(parse_qsl(parts.query)), follow_redirects=False
    )


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def today_in_rome() -> str:
    return datetime.now(ZoneInfo("Europe/Rome")).date().isoformat()


async def test_a_manager_records_a_touchpoint_with_its_tracked_link_and_event(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)

    assert touchpoint["engagement_id"] == client["engagement_id"]
    assert touchpoint["organization_id"] == client["organization_id"]
    assert (touchpoint["kind"], touchpoint["channels"]) == ("event", ["instagram"])
    assert touchpoint["objective_ids"] == ["engagement"]
    # The engagement's client and start month, when no campaign is given.
    assert touchpoint["campaign"] == "agriturismo-la-quercia-2026-12"
    base = platform.settings.reporting.public_base_url
    code = touchpoint["tracked_link"].removeprefix(f"{base}/t/")
    assert len(code) == 11
    assert code.replace("-", "").replace("_", "").isalnum()
    assert touchpoint["qr_link"] == f"{touchpoint['tracked_link']}?via=qr"
    link = touchpoint["tagged_destinations"]["link"]
    assert link.startswith("https://www.laquercia.example/vini?lang=it&utm_source=event")
    assert link.endswith("#degustazione")
    assert dict(query_of(link)) == {
        "lang": "it",
        "utm_source": "event",
        "utm_medium": "link",
        "utm_campaign": "agriturismo-la-quercia-2026-12",
        "utm_content": "stand-at-vinitaly-2027",
    }
    assert dict(query_of(touchpoint["tagged_destinations"]["qr"]))["utm_medium"] == "qr"

    read = await platform.gateway.get(
        touchpoints_path(client["engagement_id"], touchpoint["id"]),
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[client["organization_id"]]),
    )
    assert read.status_code == 200, read.text
    assert read.json() == touchpoint
    envelopes = await outbox_envelopes(sessions, touchpoint["id"])
    assert [envelope["type"] for envelope in envelopes] == [
        EVENT_TYPE.format("touchpoint_recorded")
    ]
    assert envelopes[0]["data"]["change"] == "created"
    assert envelopes[0]["data"]["engagement_id"] == client["engagement_id"]


async def test_a_campaign_given_and_the_destinations_own_utm_values_are_the_rules(
    platform: Platform,
) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(
        platform,
        client,
        kind="print",
        name="Menù stampato: estate",
        destination_url="https://laquercia.example/menu?utm_source=old&table=4&utm_term=pasta",
        campaign="estate-2027",
    )
    assert query_of(touchpoint["tagged_destinations"]["qr"]) == [
        ("table", "4"),
        ("utm_term", "pasta"),
        ("utm_source", "print"),
        ("utm_medium", "qr"),
        ("utm_campaign", "estate-2027"),
        ("utm_content", "menu-stampato-estate"),
    ]


@pytest.mark.parametrize(
    ("change", "field", "error_type"),
    [
        ({"destination_url": "ftp://laquercia.example/menu"}, "body.destination_url", None),
        ({"destination_url": "javascript:alert(1)"}, "body.destination_url", None),
        ({"destination_url": "not a link"}, "body.destination_url", None),
        (
            {"destination_url": "https://laquercia.example/" + "a" * 2100},
            "body.destination_url",
            None,
        ),
        (
            {"destination_url": "https://bank.example@evil.example/"},
            "body.destination_url",
            None,
        ),
        ({"kind": "billboard"}, "body.kind", None),
        ({"channels": ["facebook"]}, "body.channels.0", "unknown_channel"),
        ({"channels": ["instagram", "instagram"]}, "body.channels", None),
        ({"objective_ids": ["engagement", "sales"]}, "body.objective_ids.1", "unknown_objective"),
        ({"campaign": "two words"}, "body.campaign", None),
        ({"surprise": 1}, "body.surprise", None),
    ],
)
async def test_an_invalid_touchpoint_is_422_naming_the_field(
    platform: Platform, change: Json, field: str, error_type: str | None
) -> None:
    client = await client_engagement(platform)
    refused = await platform.gateway.post(
        touchpoints_path(client["engagement_id"]),
        json=touchpoint_body(**change),
        headers=client["auth"],
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith(PROBLEM)
    errors = refused.json()["errors"]
    assert field in [error["field"] for error in errors], errors
    if error_type is not None:
        assert error_type in [error["type"] for error in errors]
    listed = await platform.gateway.get(
        touchpoints_path(client["engagement_id"]), headers=client["auth"]
    )
    assert listed.json() == []


async def test_objectives_without_an_objectives_deliverable_are_unknown(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    refused = await platform.gateway.post(
        touchpoints_path(engagement_id),
        json=touchpoint_body(),
        headers=platform.auth(Role.MANAGER, orgs=[organization_id]),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "body.objective_ids.0"
    # Without objectives named, a touchpoint needs none.
    created = await platform.gateway.post(
        touchpoints_path(engagement_id),
        json=touchpoint_body(objective_ids=[]),
        headers=platform.auth(Role.MANAGER, orgs=[organization_id]),
    )
    assert created.status_code == 201, created.text


async def test_a_repeated_name_and_a_change_once_archived_are_409(platform: Platform) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)
    again = await platform.gateway.post(
        touchpoints_path(client["engagement_id"]),
        json=touchpoint_body(name="stand at VINITALY 2027"),
        headers=client["auth"],
    )
    assert again.status_code == 409, again.text
    assert again.json()["touchpoint_id"] == touchpoint["id"]

    path = touchpoints_path(client["engagement_id"], touchpoint["id"])
    other = await create_touchpoint(platform, client, name="Shop window")
    renamed = await platform.gateway.patch(
        touchpoints_path(client["engagement_id"], other["id"]),
        json={"name": touchpoint["name"]},
        headers=client["auth"],
    )
    assert renamed.status_code == 409, renamed.text

    archived = await platform.gateway.delete(path, headers=client["auth"])
    assert archived.status_code == 204, archived.text
    changed = await platform.gateway.patch(path, json={"place": "Hall 9"}, headers=client["auth"])
    assert changed.status_code == 409, changed.text
    assert changed.headers["content-type"].startswith(PROBLEM)


async def test_a_change_keeps_the_link_and_an_archived_touchpoint_still_leads(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)
    path = touchpoints_path(client["engagement_id"], touchpoint["id"])

    changed = await platform.gateway.patch(
        path,
        json={"destination_url": "https://laquercia.example/cantina", "place": None},
        headers=client["auth"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tracked_link"] == touchpoint["tracked_link"]
    assert changed.json()["place"] is None
    followed = await follow(platform, touchpoint["tracked_link"])
    assert followed.headers["location"].startswith(
        "https://laquercia.example/cantina?utm_source=event&utm_medium=link"
    )
    cleared = await platform.gateway.patch(path, json={"name": None}, headers=client["auth"])
    assert cleared.status_code == 422, cleared.text

    assert (await platform.gateway.delete(path, headers=client["auth"])).status_code == 204
    # Archiving twice is archiving.
    assert (await platform.gateway.delete(path, headers=client["auth"])).status_code == 204
    listed = await platform.gateway.get(
        touchpoints_path(client["engagement_id"]), headers=client["auth"]
    )
    assert listed.json() == []
    with_archived = await platform.gateway.get(
        touchpoints_path(client["engagement_id"]),
        params={"archived": "true"},
        headers=client["auth"],
    )
    assert [t["id"] for t in with_archived.json()] == [touchpoint["id"]]
    assert with_archived.json()[0]["archived"] is True
    assert (await follow(platform, touchpoint["tracked_link"])).status_code == 302
    types = [envelope["type"] for envelope in await outbox_envelopes(sessions, touchpoint["id"])]
    assert types.count(EVENT_TYPE.format("touchpoint_archived")) == 1
    assert types.count(EVENT_TYPE.format("touchpoint_recorded")) == 2


async def test_the_list_pages_by_cursor(platform: Platform) -> None:
    client = await client_engagement(platform)
    made = [(await create_touchpoint(platform, client, name=f"Poster {n}"))["id"] for n in range(3)]
    first = await platform.gateway.get(
        touchpoints_path(client["engagement_id"]), params={"limit": 2}, headers=client["auth"]
    )
    assert first.status_code == 200, first.text
    assert [t["id"] for t in first.json()] == made[:2]
    following = first.links["next"]["url"]
    assert following.startswith(touchpoints_path(client["engagement_id"]) + "?")
    second = await platform.gateway.get(following, headers=client["auth"])
    assert [t["id"] for t in second.json()] == made[2:]
    assert "link" not in second.headers


async def test_qr_codes_hold_the_qr_link_as_svg_and_png(platform: Platform) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)
    path = touchpoints_path(client["engagement_id"], touchpoint["id"])
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[client["organization_id"]])

    svg = await platform.gateway.get(f"{path}/qr.svg", params={"size": 300}, headers=viewer)
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(svg.content)  # noqa: S314 - the service's own answer
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert 150 < int(root.attrib["width"]) <= 300

    png = await platform.gateway.get(f"{path}/qr.png", params={"size": 400}, headers=viewer)
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png.content[16:24])
    assert width == height
    assert 200 < width <= 400
    # Module by module, the picture is the QR code of the touchpoint's qr_link.
    expected = segno.make_qr(touchpoint["qr_link"], error="m")
    modules = len(expected.matrix) + 8
    scale = width // modules
    image = Image.open(io.BytesIO(png.content)).convert("1")
    side = len(expected.matrix)

    def dark(x: int, y: int) -> bool:
        # The middle pixel of the module, past the 4-module quiet zone; black is 0.
        return image.getpixel(((x + 4) * scale + scale // 2, (y + 4) * scale + scale // 2)) == 0

    assert [[dark(x, y) for x in range(side)] for y in range(side)] == [
        [bool(bit) for bit in row] for row in expected.matrix
    ]

    for size in (10, 5000):
        refused = await platform.gateway.get(
            f"{path}/qr.png", params={"size": size}, headers=viewer
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "query.size"


async def test_the_public_link_redirects_with_utm_and_counts_each_hit_without_a_token(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)
    other = await create_touchpoint(platform, client, kind="shop", name="Shop window")

    clicked = await follow(platform, touchpoint["tracked_link"])
    assert clicked.status_code == 302, clicked.text
    assert clicked.headers["location"] == touchpoint["tagged_destinations"]["link"]
    assert clicked.headers["cache-control"] == "no-store"
    scanned = await follow(platform, touchpoint["qr_link"])
    assert scanned.status_code == 302, scanned.text
    assert scanned.headers["location"] == touchpoint["tagged_destinations"]["qr"]
    assert dict(query_of(scanned.headers["location"]))["utm_medium"] == "qr"
    # Many at once: each one counted, none lost (one upsert per hit).
    hits = await asyncio.gather(*(follow(platform, touchpoint["qr_link"]) for _ in range(19)))
    assert {hit.status_code for hit in hits} == {302}
    await follow(platform, other["tracked_link"])

    scans = await platform.gateway.get(
        f"{touchpoints_path(client['engagement_id'], touchpoint['id'])}/scans",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[client["organization_id"]]),
    )
    assert scans.status_code == 200, scans.text
    report = scans.json()
    assert report["days"] == [{"day": today_in_rome(), "qr": 20, "link": 1, "total": 21}]
    assert (report["qr"], report["link"], report["total"]) == (20, 1, 21)
    assert report["to"] == today_in_rome()

    summary = await platform.gateway.get(
        f"/v1/engagements/{client['engagement_id']}/touchpoint-scans", headers=client["auth"]
    )
    assert summary.status_code == 200, summary.text
    totals = summary.json()
    assert [(t["touchpoint_id"], t["total"]) for t in totals["touchpoints"]] == [
        (touchpoint["id"], 21),
        (other["id"], 1),
    ]
    assert totals["touchpoints"][0]["last_day"] == today_in_rome()
    assert (totals["qr"], totals["link"], totals["total"]) == (20, 2, 22)

    # Scans are not one event each: the day's first of each medium, then its tenth.
    scanned_events = [
        (envelope["data"]["medium"], envelope["data"]["count"])
        for envelope in await outbox_envelopes(sessions, touchpoint["id"])
        if envelope["type"] == EVENT_TYPE.format("touchpoint_scanned")
    ]
    assert sorted(scanned_events) == [("link", 1), ("qr", 1), ("qr", 10)]


async def test_nothing_about_who_followed_a_link_is_kept(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)
    parts = urlsplit(touchpoint["tracked_link"])
    followed = await platform.gateway.get(
        parts.path,
        headers={"User-Agent": "Mozilla/5.0 (Giulia's phone)", "X-Forwarded-For": "203.0.113.9"},
        follow_redirects=False,
    )
    assert followed.status_code == 302, followed.text
    async with sessions() as session:
        columns = await session.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'strategy' AND table_name = 'touchpoint_scans' "
                "ORDER BY ordinal_position"
            )
        )
        assert list(columns) == ["touchpoint_id", "day", "medium", "organization_id", "count"]
        rows = (
            await session.execute(
                text(
                    "SELECT to_jsonb(s)::text FROM strategy.touchpoint_scans s "
                    "WHERE touchpoint_id = :id"
                ),
                {"id": touchpoint["id"]},
            )
        ).scalars()
        kept = list(rows)
    assert len(kept) == 1
    assert "203.0.113.9" not in kept[0]
    assert "Mozilla" not in kept[0]


async def test_an_unknown_or_malformed_code_is_404_without_a_token(platform: Platform) -> None:
    for code in ("AAAAAAAAAAA", "short", "x" * 64, "abc.def.ghi"):
        answered = await platform.gateway.get(f"/t/{code}", follow_redirects=False)
        assert answered.status_code == 404, (code, answered.text)
        assert answered.headers["content-type"].startswith(PROBLEM)
    too_long = await platform.gateway.get(f"/t/{'x' * 65}", follow_redirects=False)
    assert too_long.status_code == 422
    bad_medium = await platform.gateway.get("/t/AAAAAAAAAAA?via=fax", follow_redirects=False)
    assert bad_medium.status_code == 422


async def test_another_organisations_touchpoints_are_404(platform: Platform) -> None:
    theirs = await client_engagement(platform, "Cantina Colli Eugubini")
    ours = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, theirs)
    their_path = touchpoints_path(theirs["engagement_id"], touchpoint["id"])
    # Their touchpoint named under our engagement is no more found.
    mixed_path = touchpoints_path(ours["engagement_id"], touchpoint["id"])
    for role in (Role.MANAGER, Role.CLIENT_VIEWER):
        headers = platform.auth(role, orgs=[ours["organization_id"]])
        for method, path, body in [
            ("GET", touchpoints_path(theirs["engagement_id"]), None),
            ("GET", their_path, None),
            ("GET", f"{their_path}/qr.svg", None),
            ("GET", f"{their_path}/qr.png", None),
            ("GET", f"{their_path}/scans", None),
            ("GET", f"/v1/engagements/{theirs['engagement_id']}/touchpoint-scans", None),
            ("GET", mixed_path, None),
            ("GET", f"{mixed_path}/scans", None),
        ] + (
            [
                ("POST", touchpoints_path(theirs["engagement_id"]), touchpoint_body(name="X")),
                ("PATCH", their_path, {"place": "Somewhere else"}),
                ("DELETE", their_path, None),
                ("PATCH", mixed_path, {"place": "Somewhere else"}),
                ("DELETE", mixed_path, None),
            ]
            if role is Role.MANAGER
            else []
        ):
            answered = await platform.gateway.request(method, path, json=body, headers=headers)
            assert answered.status_code == 404, (role, method, path, answered.text)
            assert answered.headers["content-type"].startswith(PROBLEM)
    unchanged = await platform.gateway.get(their_path, headers=theirs["auth"])
    assert unchanged.json() == touchpoint
    ghost = touchpoints_path(ours["engagement_id"], str(uuid.uuid4()))
    assert (await platform.gateway.get(ghost, headers=ours["auth"])).status_code == 404


@pytest.mark.parametrize("role", [Role.EDITOR, Role.CLIENT_APPROVER, Role.CLIENT_VIEWER])
async def test_only_agency_leads_change_touchpoints(platform: Platform, role: Role) -> None:
    client = await client_engagement(platform)
    touchpoint = await create_touchpoint(platform, client)
    headers = platform.auth(role, orgs=[client["organization_id"]])
    path = touchpoints_path(client["engagement_id"], touchpoint["id"])
    for method, where, body in [
        ("POST", touchpoints_path(client["engagement_id"]), touchpoint_body(name="Leaflet")),
        ("PATCH", path, {"place": "Hall 9"}),
        ("DELETE", path, None),
    ]:
        refused = await platform.gateway.request(method, where, json=body, headers=headers)
        assert refused.status_code == 403, (method, refused.text)
    assert (await platform.gateway.get(path, headers=headers)).status_code == 200
