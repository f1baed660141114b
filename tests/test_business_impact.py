"""The business-model impact and the positioning, through the gateway: typed bodies, the
references the impact, the brief and the objectives make to each other (checked: a name that
does not resolve is 422 at its field), client approval, events and tenancy."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_errors import assert_problem
from tests.test_strategy_deliverables import (
    approve,
    brief_body,
    deliverables_path,
    objectives_body,
    outbox_envelopes,
    save,
)
from tests.test_thin_thread import create_org

Json = dict[str, Any]


async def new_engagement(platform: Platform, name: str = "Agriturismo La Quercia") -> Json:
    organization_id = await create_org(platform, name)
    engagement_id = await stored_engagement(platform, organization_id)
    return {"id": engagement_id, "organization_id": organization_id}


def impact_body(**indicator: object) -> Json:
    return {
        "summary": "Bookings and questions move to Instagram messages.",
        "areas": [
            {
                "area": "bookings",
                "how_social_touches_it": "Guests ask for rooms in direct messages.",
                "expected_effects": ["A third of weekend bookings start on Instagram"],
                "costs": [
                    {"item": "Front desk answering messages", "staff_hours_per_week": 5},
                    {"item": "Booking link tool", "amount": "19.90", "recurrence": "monthly"},
                ],
                "risks": [
                    {
                        "title": "Unanswered requests in high season",
                        "likelihood": "medium",
                        "impact": "high",
                        "mitigation": "Saved replies; the agency covers weekends",
                    }
                ],
                "kpis": [{"metric": "engagement_rate", "channel": "instagram", **indicator}],
            },
            {
                "area": "reputation",
                "expected_effects": ["Reviews answered within a day"],
                "kpis": [{"metric": "review_rating"}],
            },
        ],
    }


def positioning_body() -> Json:
    return {
        "statement": "For couples who eat well and travel slowly, La Quercia is the Umbrian "
        "farm stay where dinner comes from the garden behind the kitchen.",
        "category": "Agriturismo",
        "audience": ["Foodie couples", "Slow travellers"],
        "differentiators": ["Own garden and olive oil", "Cooking classes"],
        "values": ["Hospitality", "Seasonality"],
        "personality": ["Warm", "Down to earth"],
        "tone_of_voice": "Friendly, first names, no exclamation marks in series",
        "key_messages": ["Dinner from our garden"],
        "words_to_use": ["orto", "stagione"],
        "words_to_avoid": ["lusso"],
        "competitors": [{"name": "Resort Le Colline", "how_we_differ": "Family-run"}],
        "replies": {
            "within_hours": 4,
            "principles": ["Thank first", "Answer the question asked"],
            "escalate_when": ["A complaint about hygiene"],
        },
    }


def errors_of(problem: Json) -> dict[str, str]:
    return {error["field"]: error["type"] for error in problem["errors"]}


def messages_of(problem: Json) -> str:
    return " ".join(error["message"] for error in problem["errors"])


async def test_an_impact_is_versioned_approved_by_the_client_and_announced(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    engagement = await new_engagement(platform)

    saved = await save(platform, engagement, "business_impact", impact_body())
    assert saved.status_code == 201, saved.text
    assert (saved.json()["kind"], saved.json()["version"]) == ("business_impact", 1)
    assert saved.json()["body"]["areas"][0]["costs"][1]["amount"] == "19.90"

    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    approved = await approve(platform, engagement, "business_impact", 1, client, "Agreed")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_as"]) == ("approved", "client")
    again = await approve(platform, engagement, "business_impact", 1, client)
    assert_problem(again, 409, "conflict")

    envelopes = await outbox_envelopes(sessions, saved.json()["id"])
    assert [e["type"] for e in envelopes] == [
        "engage.strategy.deliverable_versioned.v1",
        "engage.strategy.deliverable_approved.v1",
    ]
    assert envelopes[1]["data"]["kind"] == "business_impact"
    assert envelopes[1]["data"]["body"] == saved.json()["body"]


async def test_an_impact_names_only_objectives_and_kpis_that_exist(platform: Platform) -> None:
    engagement = await new_engagement(platform)

    before = await save(
        platform, engagement, "business_impact", impact_body(objective_id="engagement")
    )
    problem = assert_problem(before, 422, "validation-error")
    assert errors_of(problem) == {"body.areas.0.kpis.0.objective_id": "unknown_objective"}

    assert (await save(platform, engagement, "objectives", objectives_body())).status_code == 201
    unknown = await save(platform, engagement, "business_impact", impact_body(objective_id="sales"))
    problem = assert_problem(unknown, 422, "validation-error")
    assert errors_of(problem) == {"body.areas.0.kpis.0.objective_id": "unknown_objective"}

    wrong_metric = impact_body(objective_id="engagement")
    wrong_metric["areas"][0]["kpis"][0]["metric"] = "bookings"
    problem = assert_problem(
        await save(platform, engagement, "business_impact", wrong_metric), 422, "validation-error"
    )
    assert errors_of(problem) == {"body.areas.0.kpis.0.metric": "unknown_kpi"}

    wrong_channel = impact_body(objective_id="engagement", channel="facebook")
    problem = assert_problem(
        await save(platform, engagement, "business_impact", wrong_channel), 422, "validation-error"
    )
    assert "on facebook" in messages_of(problem)

    good = await save(
        platform, engagement, "business_impact", impact_body(objective_id="engagement")
    )
    assert good.status_code == 201, good.text


async def test_the_brief_and_the_objectives_link_an_impact_version_that_exists(
    platform: Platform,
) -> None:
    engagement = await new_engagement(platform)
    linked_brief = {**brief_body(), "business_impact_version": 1}

    missing = await save(platform, engagement, "brief", linked_brief)
    problem = assert_problem(missing, 422, "validation-error")
    assert errors_of(problem) == {"body.business_impact_version": "unknown_business_impact"}

    assert (await save(platform, engagement, "objectives", objectives_body())).status_code == 201
    impact = await save(
        platform, engagement, "business_impact", impact_body(objective_id="engagement")
    )
    assert impact.status_code == 201, impact.text
    brief = await save(platform, engagement, "brief", linked_brief)
    assert brief.status_code == 201, brief.text
    assert brief.json()["body"]["business_impact_version"] == 1

    # Objectives that adopt the impact must keep the KPI it counts on.
    renamed = objectives_body()
    renamed["objectives"][0]["kpis"][0]["metric"] = "reach"
    dropped = await save(
        platform, engagement, "objectives", {**renamed, "business_impact_version": 1}
    )
    problem = assert_problem(dropped, 422, "validation-error")
    assert errors_of(problem) == {"body.business_impact_version": "unknown_kpi"}
    assert "areas.0.kpis.0.metric" in messages_of(problem)

    kept = await save(
        platform, engagement, "objectives", {**objectives_body(), "business_impact_version": 1}
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["version"] == 2

    too_far = await save(
        platform, engagement, "objectives", {**objectives_body(), "business_impact_version": 2}
    )
    problem = assert_problem(too_far, 422, "validation-error")
    assert errors_of(problem) == {"body.business_impact_version": "unknown_business_impact"}


async def test_bad_bodies_are_422_at_their_fields(platform: Platform) -> None:
    engagement = await new_engagement(platform)
    repeated = impact_body()
    repeated["areas"][1]["area"] = "bookings"
    cases: list[tuple[str, Json, str]] = [
        ("business_impact", repeated, "body.areas"),
        (
            "business_impact",
            {"areas": [{**impact_body()["areas"][0], "area": "x"}]},
            "body.areas.0.area",
        ),
        (
            "business_impact",
            {"areas": [{**impact_body()["areas"][0], "kpis": []}]},
            "body.areas.0.kpis",
        ),
        ("business_impact", {"areas": []}, "body.areas"),
        ("positioning", {**positioning_body(), "statement": ""}, "body.statement"),
        (
            "positioning",
            {**positioning_body(), "replies": {"within_hours": 0, "principles": ["a"]}},
            "body.replies.within_hours",
        ),
        ("positioning", {**positioning_body(), "slogan": "Buono"}, "body.slogan"),
    ]
    for kind, body, field in cases:
        response = await save(platform, engagement, kind, body)
        problem = assert_problem(response, 422, "validation-error")
        assert field in errors_of(problem), (kind, field, problem)


async def test_positioning_is_the_clients_to_approve_and_other_organisations_see_nothing(
    platform: Platform,
) -> None:
    engagement = await new_engagement(platform)
    other = await new_engagement(platform, "Comune di Gubbio")

    saved = await save(platform, engagement, "positioning", positioning_body())
    assert saved.status_code == 201, saved.text
    stranger = platform.auth(Role.CLIENT_APPROVER, orgs=[other["organization_id"]])
    hidden = await approve(platform, engagement, "positioning", 1, stranger)
    assert_problem(hidden, 404, "not-found")
    read = await platform.gateway.get(
        deliverables_path(engagement, "positioning"), headers=stranger
    )
    assert_problem(read, 404, "not-found")
    editor = platform.auth(Role.EDITOR, orgs=[engagement["organization_id"]])
    refused = await approve(platform, engagement, "positioning", 1, editor)
    assert_problem(refused, 403, "forbidden")

    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    approved = await approve(platform, engagement, "positioning", 1, client)
    assert approved.status_code == 200, approved.text

    kinds = await platform.gateway.get("/v1/deliverable-kinds", headers=client)
    by_kind = {item["kind"]: item for item in kinds.json()}
    for kind in ("business_impact", "positioning"):
        assert by_kind[kind]["approver_roles"] == ["admin", "client_approver", "manager"]
        assert by_kind[kind]["written_by"] == f"PUT /engagements/{{id}}/deliverables/{kind}"
    areas = by_kind["business_impact"]["body_schema"]["$defs"]["BusinessArea"]["enum"]
    assert areas == [
        "customer_care",
        "sales",
        "bookings",
        "recruitment",
        "reputation",
        "internal_processes",
    ]
