"""Versioned deliverables through the gateway: versions, approval, roles, tenancy, validation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.models import OutboxEvent
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement
from tests.test_errors import assert_problem
from tests.test_thin_thread import create_org

Json = dict[str, Any]


async def create_engagement(platform: Platform, name: str = "Agriturismo La Quercia") -> Json:
    return await started_engagement(platform, await create_org(platform, name))


async def outbox_envelopes(sessions: async_sessionmaker[AsyncSession], subject: str) -> list[Json]:
    """Events the strategy service staged about ``subject``, oldest first."""
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.envelope["subject"].astext == subject)
            .order_by(OutboxEvent.seq)
        )
        return [row.envelope for row in rows]


def persona(**overrides: object) -> Json:
    return {
        "name": "Foodie couples",
        "age_band": "25-34",
        "interests": ["food_drink", "travel"],
        "language": "it",
        "place": {"name": "Umbria", "reach": "regional"},
        **overrides,
    }


def brief_body() -> Json:
    return {
        "context": "A family-run agriturismo near Gubbio with a restaurant and six rooms.",
        "objectives": ["Fill the shoulder season", "Grow direct bookings"],
        "targets": [persona()],
        "tone": "Warm, direct, never pompous",
        "constraints": ["No paid ads before March"],
        "budget": {"amount": "12000.00", "currency": "EUR"},
        "timing": {
            "starts_on": "2026-12-01",
            "ends_on": "2027-05-31",
            "milestones": [{"name": "Spring launch", "due_on": "2027-03-01"}],
        },
    }


def analysis_body(evidence: Json | None = None) -> Json:
    return {
        "summary": "Present on Instagram, silent elsewhere.",
        "strengths": [
            {
                "title": "Loyal local audience",
                "severity": "low",
                "evidence": [evidence or {"kind": "metric", "ref": "audience_size"}],
            }
        ],
        "weaknesses": [
            {
                "title": "Irregular posting",
                "severity": "high",
                "evidence": [{"kind": "metric", "ref": "posts_per_week", "note": "0.5 a week"}],
            }
        ],
    }


def objectives_body() -> Json:
    return {
        "objectives": [
            {
                "id": "engagement",
                "title": "Conversation on Instagram",
                "goal": "engagement",
                "kpis": [
                    {
                        "metric": "engagement_rate",
                        "channel": "instagram",
                        "comparator": "at_least",
                        "target": 4,
                        "unit": "%",
                        "by_month": 3,
                    }
                ],
            }
        ],
        "actions": [
            {
                "title": "Weekly kitchen reels",
                "objective_ids": ["engagement"],
                "channels": ["instagram"],
                "starts_on": "2026-12-07",
            }
        ],
        "matrix": [{"objective_id": "engagement", "channel": "instagram"}],
    }


def editorial_rules_body() -> Json:
    return {
        "timezone": "Europe/Rome",
        "rules": [
            {
                "id": "kitchen",
                "pillar": "From our kitchen",
                "formats": ["image", "video"],
                "channels": ["instagram"],
                "days": [1, 4],
                "windows": [{"start": "12:00", "end": "13:30"}],
                "cadence": {"per": "week", "count": 2},
                "target": "Foodie couples",
            }
        ],
    }


def graphic_line_body() -> Json:
    return {
        "channels": [
            {
                "channel": "instagram",
                "palette": [{"name": "Olive", "hex": "#556B2F", "role": "primary"}],
                "fonts": [{"family": "Lora", "usage": "headings", "weights": [400, 700]}],
                "logo_variants": [{"name": "Round", "background": "#FFFFFF"}],
                "image_formats": [
                    {"name": "Feed portrait", "width": 1080, "height": 1350, "aspect_ratio": "4:5"}
                ],
                "templates": [{"name": "Menu of the week"}],
            }
        ]
    }


AUTHORED_BODIES = {
    "analysis": analysis_body,
    "brief": brief_body,
    "objectives": objectives_body,
    "editorial_rules": editorial_rules_body,
    "graphic_line": graphic_line_body,
}


# One top-level field per kind, changed.
CHANGES: dict[str, Json] = {
    "analysis": {"summary": "Quieter than we thought."},
    "brief": {"tone": "Playful"},
    "objectives": {"matrix": [{"objective_id": "engagement", "channel": "facebook"}]},
    "editorial_rules": {"timezone": "Europe/Berlin"},
    "graphic_line": {"channels": [{**graphic_line_body()["channels"][0], "channel": "facebook"}]},
}


def deliverables_path(engagement: Json, kind: str = "") -> str:
    path = f"/v1/engagements/{engagement['id']}/deliverables"
    return f"{path}/{kind}" if kind else path


async def save(
    platform: Platform, engagement: Json, kind: str, body: Json, role: Role = Role.EDITOR
) -> httpx.Response:
    return await platform.gateway.put(
        deliverables_path(engagement, kind), json=body, headers=platform.auth(role)
    )


async def approve(
    platform: Platform,
    engagement: Json,
    kind: str,
    version: int,
    headers: dict[str, str],
    comment: str = "",
) -> httpx.Response:
    return await platform.gateway.post(
        f"{deliverables_path(engagement, kind)}/versions/{version}/approve",
        json={"comment": comment},
        headers=headers,
    )


@pytest.mark.parametrize("kind", sorted(AUTHORED_BODIES))
async def test_each_change_makes_a_new_version(platform: Platform, kind: str) -> None:
    engagement = await create_engagement(platform)
    body = AUTHORED_BODIES[kind]()

    first = await save(platform, engagement, kind, body)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    assert first.json()["status"] == "draft"
    assert first.json()["created_by"] == "tester"

    unchanged = await save(platform, engagement, kind, body)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["id"] == first.json()["id"]

    changed = {**body, **CHANGES[kind]}
    second = await save(platform, engagement, kind, changed)
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2

    headers = platform.auth(Role.CLIENT_VIEWER, orgs=[engagement["organization_id"]])
    latest = await platform.gateway.get(deliverables_path(engagement, kind), headers=headers)
    assert latest.status_code == 200, latest.text
    assert latest.json()["version"] == 2
    versions = await platform.gateway.get(
        f"{deliverables_path(engagement, kind)}/versions", headers=headers
    )
    assert [v["version"] for v in versions.json()] == [1, 2]
    one = await platform.gateway.get(
        f"{deliverables_path(engagement, kind)}/versions/1", headers=headers
    )
    assert one.json()["body"] == first.json()["body"]


async def test_approval_freezes_a_version_and_names_the_approver(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    engagement = await create_engagement(platform)
    v1 = (await save(platform, engagement, "brief", brief_body())).json()
    v2 = (await save(platform, engagement, "brief", {**brief_body(), "tone": "Playful"})).json()
    manager = platform.auth(Role.MANAGER)

    superseded = await approve(platform, engagement, "brief", 1, manager)
    assert_problem(superseded, 409, "conflict")
    assert superseded.json()["latest_version"] == 2

    approved = await approve(platform, engagement, "brief", 2, manager, "Good to go")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == "tester"
    assert approved.json()["approved_as"] == "agency"
    assert approved.json()["approval_comment"] == "Good to go"
    assert approved.json()["approved_at"] is not None

    again = await approve(platform, engagement, "brief", 2, manager)
    problem = assert_problem(again, 409, "conflict")
    assert "immutable" in str(problem["detail"])

    v3 = await save(platform, engagement, "brief", {**brief_body(), "tone": "Serious"})
    assert v3.status_code == 201
    assert v3.json()["version"] == 3
    still = await platform.gateway.get(
        deliverables_path(engagement, "brief"), params={"status": "approved"}, headers=manager
    )
    assert still.json()["version"] == 2
    assert still.json()["body"] == v2["body"]

    summary = await platform.gateway.get(deliverables_path(engagement), headers=manager)
    assert summary.json() == [
        {"kind": "brief", "latest_version": 3, "latest_status": "draft", "approved_version": 2}
    ]

    envelopes = await outbox_envelopes(sessions, v2["id"])
    assert [e["type"] for e in envelopes] == [
        "engage.strategy.deliverable_versioned.v1",
        "engage.strategy.deliverable_approved.v1",
    ]
    assert envelopes[1]["data"] == {
        "deliverable_id": v2["id"],
        "engagement_id": engagement["id"],
        "organization_id": engagement["organization_id"],
        "kind": "brief",
        "version": 2,
        "approved_by": "tester",
        "approved_as": "agency",
        "comment": "Good to go",
        # What was approved, for the services that keep it (reporting's objectives).
        "body": v2["body"],
    }
    assert [e["type"] for e in await outbox_envelopes(sessions, v1["id"])] == [
        "engage.strategy.deliverable_versioned.v1"
    ]


async def test_client_approver_signs_off_client_facing_kinds_of_their_own_org_only(
    platform: Platform,
) -> None:
    engagement = await create_engagement(platform)
    other = await create_engagement(platform, "Comune di Gubbio")
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    for kind in ("brief", "analysis"):
        assert (await save(platform, engagement, kind, AUTHORED_BODIES[kind]())).status_code == 201
    assert (await save(platform, other, "brief", brief_body())).status_code == 201

    signed = await approve(platform, engagement, "brief", 1, client)
    assert signed.status_code == 200, signed.text
    assert signed.json()["approved_as"] == "client"

    refused = await approve(platform, engagement, "analysis", 1, client)
    problem = assert_problem(refused, 403, "forbidden")
    assert problem["required_roles"] == ["admin", "manager"]

    elsewhere = await approve(platform, other, "brief", 1, client)
    assert_problem(elsewhere, 404, "not-found")


@pytest.mark.parametrize("role", [Role.EDITOR, Role.CLIENT_VIEWER])
async def test_roles_that_may_not_approve_get_403(platform: Platform, role: Role) -> None:
    engagement = await create_engagement(platform)
    await save(platform, engagement, "brief", brief_body())
    headers = platform.auth(role, orgs=[engagement["organization_id"]])
    assert_problem(await approve(platform, engagement, "brief", 1, headers), 403, "forbidden")


@pytest.mark.parametrize("role", [Role.CLIENT_APPROVER, Role.CLIENT_VIEWER])
async def test_client_roles_may_not_write_deliverables(platform: Platform, role: Role) -> None:
    engagement = await create_engagement(platform)
    headers = platform.auth(role, orgs=[engagement["organization_id"]])
    response = await platform.gateway.put(
        deliverables_path(engagement, "brief"), json=brief_body(), headers=headers
    )
    assert_problem(response, 403, "forbidden")


async def test_another_organizations_deliverables_are_404(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    await save(platform, engagement, "brief", brief_body())
    stranger = platform.auth(Role.CLIENT_VIEWER, orgs=[await create_org(platform, "Cantina")])
    for path in (
        deliverables_path(engagement),
        deliverables_path(engagement, "brief"),
        f"{deliverables_path(engagement, 'brief')}/versions",
        f"{deliverables_path(engagement, 'brief')}/versions/1",
    ):
        assert_problem(await platform.gateway.get(path, headers=stranger), 404, "not-found")
    unknown = {**engagement, "id": str(uuid.uuid4())}
    assert_problem(await save(platform, unknown, "brief", brief_body()), 404, "not-found")


async def test_missing_versions_are_404(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    headers = platform.auth(Role.MANAGER)
    none_yet = await platform.gateway.get(deliverables_path(engagement, "brief"), headers=headers)
    assert_problem(none_yet, 404, "not-found")
    await save(platform, engagement, "brief", brief_body())
    no_approved = await platform.gateway.get(
        deliverables_path(engagement, "brief"), params={"status": "approved"}, headers=headers
    )
    assert_problem(no_approved, 404, "not-found")
    no_v9 = await platform.gateway.get(
        f"{deliverables_path(engagement, 'brief')}/versions/9", headers=headers
    )
    assert_problem(no_v9, 404, "not-found")
    assert_problem(await approve(platform, engagement, "brief", 9, headers), 404, "not-found")


def _without(body: Json, key: str) -> Json:
    return {name: value for name, value in body.items() if name != key}


def _objectives_with_unknown_id() -> Json:
    body = objectives_body()
    body["matrix"].append({"objective_id": "sales", "channel": "facebook"})
    return body


def _graphic_line_with_wrong_ratio() -> Json:
    body = graphic_line_body()
    body["channels"][0]["image_formats"][0]["aspect_ratio"] = "16:9"
    return body


def _rules_with_reversed_window() -> Json:
    body = editorial_rules_body()
    body["rules"][0]["windows"] = [{"start": "14:00", "end": "13:00"}]
    return body


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("brief", _without(brief_body(), "context"), "body.context"),
        ("brief", {**brief_body(), "targets": [persona(age_band="40-50")]}, "body.targets.0"),
        ("brief", {**brief_body(), "surprise": 1}, "body.surprise"),
        ("brief", {**brief_body(), "tone": "nul \u0000 inside"}, "body.tone"),
        ("analysis", {"summary": "nothing found"}, "body"),
        ("objectives", _objectives_with_unknown_id(), "body"),
        ("graphic_line", _graphic_line_with_wrong_ratio(), "body.channels.0.image_formats.0"),
        ("editorial_rules", _rules_with_reversed_window(), "body.rules.0.windows.0"),
    ],
)
async def test_an_invalid_body_is_422_naming_the_field(
    platform: Platform, kind: str, body: Json, field: str
) -> None:
    engagement = await create_engagement(platform)
    problem = assert_problem(await save(platform, engagement, kind, body), 422, "validation-error")
    fields = [error["field"] for error in problem["errors"]]  # type: ignore[attr-defined]
    assert any(name.startswith(field) for name in fields), fields


async def test_paths_and_numbers_out_of_range_are_422(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    headers = platform.auth(Role.MANAGER)
    cases = [
        await platform.gateway.put(
            deliverables_path(engagement, "channel_mix"), json={}, headers=headers
        ),
        await platform.gateway.get(deliverables_path(engagement, "swot"), headers=headers),
        await platform.gateway.get(
            f"{deliverables_path(engagement, 'brief')}/versions/0", headers=headers
        ),
        await platform.gateway.get(
            f"{deliverables_path(engagement, 'brief')}/versions/{2**40}", headers=headers
        ),
        await platform.gateway.put(
            deliverables_path(engagement, "brief"),
            content=b'{"context": "x", "budget": {"amount": NaN}}',
            headers={**headers, "Content-Type": "application/json"},
        ),
    ]
    for response in cases:
        assert_problem(response, 422, "validation-error")


async def test_analysis_evidence_must_name_an_asset_of_the_organization(
    platform: Platform,
) -> None:
    engagement = await create_engagement(platform)
    organization_id = engagement["organization_id"]
    asset = await platform.gateway.post(
        f"/v1/organizations/{organization_id}/assets",
        json={"kind": "website", "url": "https://laquercia.example"},
        headers=platform.auth(Role.EDITOR),
    )
    assert asset.status_code == 201, asset.text
    foreign_org = await create_org(platform, "Cantina")
    foreign = await platform.gateway.post(
        f"/v1/organizations/{foreign_org}/assets",
        json={"kind": "website", "url": "https://cantina.example"},
        headers=platform.auth(Role.EDITOR),
    )

    for ref in (foreign.json()["id"], "not-a-uuid"):
        body = analysis_body({"kind": "asset", "ref": ref})
        problem = assert_problem(
            await save(platform, engagement, "analysis", body), 422, "validation-error"
        )
        assert problem["errors"] == [
            {
                "field": "body.strengths.0.evidence.0.ref",
                "message": f"{ref!r} is not an asset of this organisation",
                "type": "unknown_asset",
            }
        ]
    good = analysis_body({"kind": "asset", "ref": asset.json()["id"], "note": "the website"})
    assert (await save(platform, engagement, "analysis", good)).status_code == 201


async def test_deliverable_kinds_publish_their_schemas_and_approvers(platform: Platform) -> None:
    response = await platform.gateway.get(
        "/v1/deliverable-kinds", headers=platform.auth(Role.CLIENT_VIEWER)
    )
    assert response.status_code == 200, response.text
    kinds = {item["kind"]: item for item in response.json()}
    assert set(kinds) == {*AUTHORED_BODIES, "channel_mix", "business_impact", "positioning"}
    assert kinds["brief"]["approver_roles"] == ["admin", "client_approver", "manager"]
    assert kinds["analysis"]["approver_roles"] == ["admin", "manager"]
    assert kinds["channel_mix"]["written_by"] == "POST /engagements/{id}/channel-mix"
    assert "context" in kinds["brief"]["body_schema"]["required"]
    assert "rules" in kinds["editorial_rules"]["body_schema"]["properties"]


async def test_a_new_version_is_announced_in_the_same_transaction(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    engagement = await create_engagement(platform)
    saved = (await save(platform, engagement, "objectives", objectives_body())).json()
    envelopes = await outbox_envelopes(sessions, saved["id"])
    assert len(envelopes) == 1
    assert envelopes[0]["type"] == "engage.strategy.deliverable_versioned.v1"
    assert envelopes[0]["data"] == {
        "deliverable_id": saved["id"],
        "engagement_id": engagement["id"],
        "organization_id": engagement["organization_id"],
        "kind": "objectives",
        "version": 1,
        "created_by": "tester",
    }
