"""The client handbook through the gateway: generated from the approved channel mix, editorial
rules, graphic line and positioning and from the platform tables; versioned; read as JSON, HTML
and PDF; announced; another organisation's is not found."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform
from tests.test_business_impact import new_engagement, positioning_body
from tests.test_errors import assert_problem
from tests.test_strategy_channel_mix import mix_inputs
from tests.test_strategy_deliverables import (
    approve,
    editorial_rules_body,
    graphic_line_body,
    outbox_envelopes,
    save,
)

Json = dict[str, Any]


def handbook_path(engagement: Json, suffix: str = "") -> str:
    return f"/v1/engagements/{engagement['id']}/handbook/versions{suffix}"


async def approved(platform: Platform, engagement: Json, kind: str, body: Json) -> int:
    saved = await save(platform, engagement, kind, body)
    assert saved.status_code == 201, saved.text
    version: int = saved.json()["version"]
    manager = platform.auth(Role.MANAGER, orgs=[engagement["organization_id"]])
    done = await approve(platform, engagement, kind, version, manager)
    assert done.status_code == 200, done.text
    return version


async def approved_mix(platform: Platform, engagement: Json) -> None:
    scored = await platform.gateway.post(
        f"/v1/engagements/{engagement['id']}/channel-mix",
        json=mix_inputs(),
        headers=platform.auth(Role.EDITOR),
    )
    assert scored.status_code == 201, scored.text
    assert scored.json()["body"]["recommended"] == ["instagram", "facebook"]
    manager = platform.auth(Role.MANAGER, orgs=[engagement["organization_id"]])
    done = await approve(platform, engagement, "channel_mix", 1, manager)
    assert done.status_code == 200, done.text


async def generate(
    platform: Platform, engagement: Json, role: Role = Role.EDITOR
) -> httpx.Response:
    return await platform.gateway.post(
        handbook_path(engagement),
        headers=platform.auth(role, orgs=[engagement["organization_id"]]),
    )


def guide(handbook: Json, channel: str) -> Json:
    found: Json = next(g for g in handbook["content"]["channels"] if g["channel"] == channel)
    return found


async def test_the_handbook_is_made_from_what_was_approved_and_versioned(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    engagement = await new_engagement(platform)

    early = await generate(platform, engagement)
    assert_problem(early, 409, "conflict")

    await approved_mix(platform, engagement)
    first = await generate(platform, engagement)
    assert first.status_code == 201, first.text
    handbook = first.json()
    assert (handbook["version"], handbook["channels"]) == (1, ["instagram", "facebook"])
    assert handbook["sources"] == {"channel_mix": 1}
    assert len(handbook["content"]["gaps"]) == 3
    instagram = guide(handbook, "instagram")
    assert instagram["what_to_post"] == []
    assert instagram["answering"] == []
    formats = [line["what"] for line in instagram["formats"]]
    # From the platform rules table and the feed display table.
    assert "Text: at most 2,200 characters" in formats
    assert "At most 30 hashtags" in formats
    assert "Images from 4:5 (tall) to 1.91:1 (wide)" in formats
    assert any("first 125 characters, then “more”" in line for line in formats)

    await approved(platform, engagement, "editorial_rules", editorial_rules_body())
    await approved(platform, engagement, "graphic_line", graphic_line_body())
    await approved(platform, engagement, "positioning", positioning_body())
    second = await generate(platform, engagement)
    assert second.status_code == 201, second.text
    handbook = second.json()
    assert handbook["version"] == 2
    assert handbook["sources"] == {
        "channel_mix": 1,
        "editorial_rules": 1,
        "graphic_line": 1,
        "positioning": 1,
    }
    assert handbook["content"]["gaps"] == []
    assert handbook["content"]["client"] == "Agriturismo La Quercia"
    instagram = guide(handbook, "instagram")
    assert instagram["what_to_post"] == [
        {
            "pillar": "From our kitchen",
            "formats": "image, video",
            "when": "2 a week; Tue, Fri, 12:00-13:30",
            "target": "Foodie couples",
            "hashtags": "",
        }
    ]
    assert {
        "what": "Feed portrait: 1080x1350 px (4:5)",
        "rule": "image_format",
        "source": "graphic line",
    } in instagram["formats"]
    assert instagram["tone"] == ["Friendly, first names, no exclamation marks in series"]
    assert "Avoid: lusso" in instagram["dont"]
    assert instagram["answering"][0] == "Answer within 4 hours, every question and every complaint"
    assert (
        "Pass it on to the agency or a manager when: A complaint about hygiene"
        in (instagram["answering"])
    )
    # Facebook has no editorial rule nor graphic line of its own: the platform's only.
    facebook = guide(handbook, "facebook")
    assert facebook["what_to_post"] == []
    assert {line["source"] for line in facebook["formats"]} == {"platform rules", "feed display"}

    same = await generate(platform, engagement, Role.MANAGER)
    assert same.status_code == 200, same.text
    assert same.json()["id"] == handbook["id"]

    envelopes = await outbox_envelopes(sessions, handbook["id"])
    assert [e["type"] for e in envelopes] == ["engage.strategy.handbook_generated.v1"]
    assert envelopes[0]["data"] == {
        "handbook_id": handbook["id"],
        "engagement_id": engagement["id"],
        "organization_id": engagement["organization_id"],
        "version": 2,
        "channels": ["instagram", "facebook"],
        "sources": handbook["sources"],
        "created_by": "tester",
    }

    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[engagement["organization_id"]])
    page = await platform.gateway.get(
        handbook_path(engagement), params={"limit": 1}, headers=viewer
    )
    assert page.status_code == 200, page.text
    assert [v["version"] for v in page.json()] == [1]
    assert 'rel="next"' in page.headers["link"]
    one = await platform.gateway.get(handbook_path(engagement, "/2"), headers=viewer)
    assert one.json() == handbook


async def test_the_handbook_reads_as_html_and_as_pdf(platform: Platform) -> None:
    engagement = await new_engagement(platform)
    await approved_mix(platform, engagement)
    await approved(platform, engagement, "editorial_rules", editorial_rules_body())
    await approved(platform, engagement, "graphic_line", graphic_line_body())
    body = positioning_body()
    body["key_messages"] = ["Dinner from our <garden>"]
    await approved(platform, engagement, "positioning", body)
    assert (await generate(platform, engagement)).status_code == 201
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[engagement["organization_id"]])

    html = await platform.gateway.get(handbook_path(engagement, "/1/handbook.html"), headers=viewer)
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    text = html.text
    for expected in (
        "Client handbook",
        "Agriturismo La Quercia",
        "Version 1",
        "Instagram",
        "Facebook",
        "What to post",
        "Formats and sizes",
        "How to answer",
        "From our kitchen",
        "Dinner from our &lt;garden&gt;",
    ):
        assert expected in text, expected
    assert "<garden>" not in text

    pdf = await platform.gateway.get(handbook_path(engagement, "/1/handbook.pdf"), headers=viewer)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'inline; filename="handbook-v1.pdf"'
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type /Page\b", pdf.content))
    assert pages >= 2, pages
    if os.environ.get("ENGAGE_KEEP_HANDBOOK"):
        Path(os.environ["ENGAGE_KEEP_HANDBOOK"]).write_bytes(pdf.content)


async def test_roles_tenancy_and_bad_paths(platform: Platform) -> None:
    engagement = await new_engagement(platform)
    other = await new_engagement(platform, "Comune di Gubbio")
    await approved_mix(platform, engagement)
    assert (await generate(platform, engagement)).status_code == 201

    viewer = await generate(platform, engagement, Role.CLIENT_VIEWER)
    assert_problem(viewer, 403, "forbidden")

    stranger = platform.auth(Role.MANAGER, orgs=[other["organization_id"]])
    refused = await platform.gateway.post(handbook_path(engagement), headers=stranger)
    assert_problem(refused, 404, "not-found")
    for suffix in ("", "/1", "/1/handbook.html", "/1/handbook.pdf"):
        hidden = await platform.gateway.get(handbook_path(engagement, suffix), headers=stranger)
        assert_problem(hidden, 404, "not-found")

    own = platform.auth(Role.EDITOR, orgs=[engagement["organization_id"]])
    for suffix in ("/2", "/2/handbook.pdf"):
        assert_problem(
            await platform.gateway.get(handbook_path(engagement, suffix), headers=own),
            404,
            "not-found",
        )
    for suffix in ("/0", "/x/handbook.html", "/2147483648"):
        bad = await platform.gateway.get(handbook_path(engagement, suffix), headers=own)
        assert_problem(bad, 422, "validation-error")
    unknown = {**engagement, "id": "00000000-0000-4000-8000-000000000000"}
    assert_problem(
        await platform.gateway.post(handbook_path(unknown), headers=platform.auth(Role.EDITOR)),
        404,
        "not-found",
    )
