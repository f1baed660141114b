"""The editorial plan through the gateway: every route's happy path, its errors, and events."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import Counter
from typing import Any

import httpx
from nats.aio.client import Client as NatsClient

from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.content_helpers import new_variant
from tests.engagement_helpers import new_engagement
from tests.events_helpers import stream_messages
from tests.test_errors import assert_problem
from tests.test_plan_export import ics_events
from tests.test_thin_thread import create_org

MARCH = {"period_start": "2027-03-01", "period_end": "2027-03-31"}
# Rome's clocks jump from 02:00 to 03:00 on Sunday 2027-03-28.
SPRING_FORWARD_SLOT = ("2027-03-28T03:30:00", "2027-03-28T01:30:00Z")


def stories_rule(start: str = "09:00") -> dict[str, Any]:
    """Twice a week on Monday, Wednesday or Friday, on Instagram and Facebook."""
    return {
        "id": "stories",
        "pillar": "Storie del territorio",
        "formats": ["image", "video"],
        "channels": ["instagram", "facebook"],
        "days": [0, 2, 4],
        "windows": [{"start": start, "end": "11:00"}],
        "cadence": {"per": "week", "count": 2},
        "target": "famiglie",
    }


def events_rule() -> dict[str, Any]:
    """Twice every Sunday on X, but with one window: each Sunday falls one post short."""
    return {
        "id": "events",
        "pillar": "Eventi",
        "formats": ["image"],
        "channels": ["x"],
        "days": [6],
        "windows": [{"start": "02:30", "end": "04:00"}],
        "cadence": {"per": "day", "count": 2},
        "target": "giovani",
    }


def plan_body(organization_id: str, *rules: dict[str, Any], note: str = "") -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        **MARCH,
        "rules": {
            "timezone": "Europe/Rome",
            "rules": list(rules or (stories_rule(), events_rule())),
        },
        "note": note,
    }


def invalid_fields(response: httpx.Response) -> list[str]:
    """The field paths of a 422 validation problem."""
    errors = assert_problem(response, 422, "validation-error")["errors"]
    assert isinstance(errors, list)
    return [str(error["field"]) for error in errors]


async def generated_plan(platform: Platform, **body: Any) -> tuple[str, str, dict[str, Any]]:
    """(organisation id, engagement id, plan) with the default rules over March 2027."""
    organization_id, engagement_id = await new_engagement(platform)
    response = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan",
        json={**plan_body(organization_id), **body},
        headers=platform.auth(Role.EDITOR),
    )
    assert response.status_code == 201, response.text
    return organization_id, engagement_id, response.json()


async def slots_of(platform: Platform, engagement_id: str) -> list[dict[str, Any]]:
    response = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}/plan",
        params={"view": "monthly"},
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 200, response.text
    return [slot for period in response.json()["periods"] for slot in period["slots"]]


async def fill(platform: Platform, engagement_id: str, slot_id: str, variant_id: str) -> Any:
    return await platform.gateway.put(
        f"/v1/engagements/{engagement_id}/plan/slots/{slot_id}",
        json={"variant_id": variant_id},
        headers=platform.auth(Role.EDITOR),
    )


async def approve_plan(platform: Platform, engagement_id: str) -> None:
    approved = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan/approval",
        json={},
        headers=platform.auth(Role.MANAGER),
    )
    assert approved.status_code == 200, approved.text


async def test_generating_a_plan_makes_slots_in_every_view(platform: Platform) -> None:
    _, engagement_id, plan = await generated_plan(platform)
    # stories: 2 a week x 5 ISO weeks x 2 channels; events: 4 Sundays x 1 window.
    assert (plan["status"], plan["generation"], plan["slot_count"]) == ("draft", 1, 24)
    assert [change["action"] for change in plan["history"]] == ["generated"]
    assert plan["timezone"] == "Europe/Rome"

    views: dict[str, list[str]] = {}
    for view in ("daily", "weekly", "monthly"):
        response = await platform.gateway.get(
            f"/v1/engagements/{engagement_id}/plan",
            params={"view": view},
            headers=platform.auth(Role.MANAGER),
        )
        assert response.status_code == 200, response.text
        calendar = response.json()
        assert calendar["view"] == view
        assert sum(len(period["slots"]) for period in calendar["periods"]) == 24
        views[view] = [period["period"] for period in calendar["periods"]]
    assert views["daily"][0] == "2027-03-01"
    assert len(views["daily"]) == 31
    assert views["weekly"] == ["2027-W09", "2027-W10", "2027-W11", "2027-W12", "2027-W13"]
    assert views["monthly"] == ["2027-03"]

    slots = await slots_of(platform, engagement_id)
    sundays = [(s["local_start"], s["starts_at"]) for s in slots if s["rule_id"] == "events"]
    assert SPRING_FORWARD_SLOT in sundays
    per_week = Counter((s["channel"], s["iso_week"]) for s in slots if s["rule_id"] == "stories")
    assert set(per_week.values()) == {2}


async def test_regeneration_keeps_filled_slots_and_replaces_open_ones(platform: Platform) -> None:
    organization_id, engagement_id, _ = await generated_plan(platform)
    before = await slots_of(platform, engagement_id)
    kept = next(slot for slot in before if slot["rule_id"] == "stories")
    variant_id = await new_variant(platform, organization_id, kept["channel"])
    filled = await fill(platform, engagement_id, kept["id"], variant_id)
    assert filled.status_code == 200, filled.text
    assert filled.json()["variant_id"] == variant_id

    moved = plan_body(organization_id, stories_rule(start="10:00"), events_rule())
    response = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan", json=moved, headers=platform.auth(Role.EDITOR)
    )
    assert response.status_code == 200, response.text
    assert response.json()["generation"] == 2

    after = {slot["id"]: slot for slot in await slots_of(platform, engagement_id)}
    assert after[kept["id"]] == {**kept, **filled.json()}
    open_stories = [s for s in after.values() if s["rule_id"] == "stories" and not s["variant_id"]]
    assert open_stories
    assert all(slot["local_start"].endswith("T10:00:00") for slot in open_stories)

    again = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan", json=moved, headers=platform.auth(Role.EDITOR)
    )
    assert again.status_code == 200
    assert again.json()["generation"] == 2, "the same input must not generate again"
    assert {slot["id"] for slot in await slots_of(platform, engagement_id)} == set(after)


async def test_approval_is_audited_and_regeneration_reopens_the_plan(platform: Platform) -> None:
    organization_id, engagement_id, _ = await generated_plan(platform)
    approved = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan/approval",
        json={"note": "ok for March"},
        headers=platform.auth(Role.MANAGER),
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", "tester")
    assert approved.json()["approved_at"]

    twice = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan/approval",
        json={},
        headers=platform.auth(Role.MANAGER),
    )
    assert_problem(twice, 409, "conflict")

    regenerated = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan",
        json=plan_body(organization_id, stories_rule(), note="client wants Sunday posts off"),
        headers=platform.auth(Role.EDITOR),
    )
    assert regenerated.status_code == 200, regenerated.text
    plan = regenerated.json()
    assert (plan["status"], plan["approved_by"], plan["generation"]) == ("draft", None, 2)
    assert [(c["action"], c["generation"], c["note"]) for c in plan["history"]] == [
        ("generated", 1, ""),
        ("approved", 1, "ok for March"),
        ("reopened", 2, "client wants Sunday posts off"),
        ("generated", 2, "client wants Sunday posts off"),
    ]
    assert all(change["actor"] == "tester" and change["at"] for change in plan["history"])


async def test_only_approvers_of_the_plans_organisation_approve(platform: Platform) -> None:
    organization_id, engagement_id, _ = await generated_plan(platform)
    other_organization = await create_org(platform, "Cantina Sociale")
    path = f"/v1/engagements/{engagement_id}/plan/approval"
    for role in (Role.EDITOR, Role.CLIENT_VIEWER):
        refused = await platform.gateway.post(
            path, json={}, headers=platform.auth(role, orgs=[organization_id])
        )
        assert_problem(refused, 403, "forbidden")
    stranger = await platform.gateway.post(
        path, json={}, headers=platform.auth(Role.CLIENT_APPROVER, orgs=[other_organization])
    )
    assert_problem(stranger, 404, "not-found")
    own = await platform.gateway.post(
        path, json={}, headers=platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    )
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "approved"


async def test_clients_read_their_own_plan_and_only_agency_staff_write(platform: Platform) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    path = f"/v1/engagements/{engagement_id}/plan"
    for role in (Role.CLIENT_VIEWER, Role.CLIENT_APPROVER):
        refused = await platform.gateway.post(
            path,
            json=plan_body(organization_id),
            headers=platform.auth(role, orgs=[organization_id]),
        )
        assert_problem(refused, 403, "forbidden")
    created = await platform.gateway.post(
        path, json=plan_body(organization_id), headers=platform.auth(Role.MANAGER)
    )
    assert created.status_code == 201, created.text

    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    assert (await platform.gateway.get(path, headers=viewer)).status_code == 200
    assert (await platform.gateway.get(f"{path}/coverage", headers=viewer)).status_code == 200
    slot = (await slots_of(platform, engagement_id))[0]
    variant_id = await new_variant(platform, organization_id, slot["channel"])
    refused_fill = await platform.gateway.put(
        f"{path}/slots/{slot['id']}", json={"variant_id": variant_id}, headers=viewer
    )
    assert_problem(refused_fill, 403, "forbidden")
    assert (await slots_of(platform, engagement_id))[0]["variant_id"] is None

    stranger = platform.auth(Role.CLIENT_VIEWER, orgs=[await create_org(platform, "Altro")])
    for suffix in ("", "/coverage", "/export.ics", "/export.csv"):
        assert_problem(
            await platform.gateway.get(path + suffix, headers=stranger), 404, "not-found"
        )


async def test_generation_errors_are_problems(platform: Platform) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    path = f"/v1/engagements/{engagement_id}/plan"
    editor = platform.auth(Role.EDITOR)

    unknown = await platform.gateway.post(
        f"/v1/engagements/{uuid.uuid4()}/plan", json=plan_body(organization_id), headers=editor
    )
    assert_problem(unknown, 404, "not-found")

    other_organization = await create_org(platform, "Frantoio")
    mismatch = await platform.gateway.post(path, json=plan_body(other_organization), headers=editor)
    assert invalid_fields(mismatch) == ["body.organization_id"]

    bad = plan_body(organization_id)
    bad["rules"]["timezone"] = "Mars/Olympus"
    bad["rules"]["rules"][0]["cadence"] = {"per": "year", "count": 0}
    invalid = await platform.gateway.post(path, json=bad, headers=editor)
    assert {
        "body.rules.timezone",
        "body.rules.rules.0.cadence.per",
        "body.rules.rules.0.cadence.count",
    } <= set(invalid_fields(invalid))

    backwards = await platform.gateway.post(
        path, json={**plan_body(organization_id), "period_end": "2027-02-01"}, headers=editor
    )
    assert "period_end" in str(assert_problem(backwards, 422, "validation-error")["errors"])

    flood = {**stories_rule(), "channels": ["instagram", "facebook", "x", "youtube", "sandbox"]}
    flood |= {"days": list(range(7)), "cadence": {"per": "day", "count": 50}}
    flood["windows"] = [{"start": f"{hour:02d}:00", "end": f"{hour:02d}:30"} for hour in range(24)]
    year = {**plan_body(organization_id, flood), "period_end": "2028-02-29"}
    too_large = await platform.gateway.post(path, json=year, headers=editor)
    assert assert_problem(too_large, 422, "plan-too-large")["limit"] == 20_000

    no_plan_yet = await platform.gateway.get(path, headers=editor)
    assert_problem(no_plan_yet, 404, "not-found")
    bad_view = await platform.gateway.get(path, params={"view": "yearly"}, headers=editor)
    assert_problem(bad_view, 422, "validation-error")


async def test_filling_slots_errors_are_problems(platform: Platform) -> None:
    organization_id, engagement_id, _ = await generated_plan(platform)
    first, second = [s for s in await slots_of(platform, engagement_id) if s["channel"] == "x"][:2]
    variant_id = await new_variant(platform, organization_id, "x")
    assert (await fill(platform, engagement_id, first["id"], variant_id)).status_code == 200
    refilled = await fill(platform, engagement_id, first["id"], variant_id)
    assert refilled.status_code == 200, "filling again with the same variant is a no-op"

    twice = await fill(platform, engagement_id, second["id"], variant_id)
    assert assert_problem(twice, 409, "conflict")["slot_id"] == first["id"]
    unknown_slot = await fill(platform, engagement_id, str(uuid.uuid4()), variant_id)
    assert assert_problem(unknown_slot, 404, "not-found")["resource"] == "slot"
    no_plan = await fill(platform, str(uuid.uuid4()), first["id"], variant_id)
    assert assert_problem(no_plan, 404, "not-found")["resource"] == "plan of engagement"
    not_a_uuid = await fill(platform, engagement_id, first["id"], "variant-7")
    assert invalid_fields(not_a_uuid) == ["body.variant_id"]


async def test_only_a_variant_of_the_plans_organisation_and_slot_channel_fills_it(
    platform: Platform,
) -> None:
    organization_id, engagement_id, _ = await generated_plan(platform)
    slot = next(s for s in await slots_of(platform, engagement_id) if s["channel"] == "instagram")

    unknown = await fill(platform, engagement_id, slot["id"], str(uuid.uuid4()))
    assert assert_problem(unknown, 404, "not-found")["resource"] == "variant"

    # The editor sees every organisation: the plan's own organisation is what refuses it.
    stranger = await create_org(platform, "Caseificio Valle")
    foreign = await fill(
        platform, engagement_id, slot["id"], await new_variant(platform, stranger, "instagram")
    )
    assert assert_problem(foreign, 404, "not-found")["resource"] == "variant"

    x_variant = await new_variant(platform, organization_id, "x")
    mismatch = await fill(platform, engagement_id, slot["id"], x_variant)
    problem = assert_problem(mismatch, 422, "variant-channel-mismatch")
    assert (problem["slot_channel"], problem["variant_channel"]) == ("instagram", "x")
    expected = f"variant {x_variant} is for x, but slot {slot['id']} is for instagram"
    assert problem["detail"] == expected

    after = {s["id"]: s for s in await slots_of(platform, engagement_id)}
    assert after[slot["id"]]["variant_id"] is None, "a refused variant must leave the slot open"
    fitting = await new_variant(platform, organization_id, "instagram")
    filled = await fill(platform, engagement_id, slot["id"], fitting)
    assert filled.status_code == 200, filled.text
    assert filled.json()["variant_id"] == fitting


async def test_coverage_reports_gaps_and_cadence_shortfalls(platform: Platform) -> None:
    organization_id, engagement_id, _ = await generated_plan(platform)
    path = f"/v1/engagements/{engagement_id}/plan/coverage"
    initial = await platform.gateway.get(path, headers=platform.auth(Role.MANAGER))
    assert initial.status_code == 200, initial.text
    report = initial.json()
    assert (report["slots"], report["filled"]) == (24, 0)
    assert [(g["rule_id"], g["channel"], g["open_slots"]) for g in report["gaps"]] == [
        ("stories", None, 20),
        ("events", None, 4),
    ]
    assert [
        (s["rule_id"], s["channel"], s["period"], s["wanted"], s["available"])
        for s in report["shortfalls"]
    ] == [
        ("events", "x", day, 2, 1)
        for day in ("2027-03-07", "2027-03-14", "2027-03-21", "2027-03-28")
    ]

    instagram = next(
        s for s in await slots_of(platform, engagement_id) if s["channel"] == "instagram"
    )
    variant_id = await new_variant(platform, organization_id, "instagram")
    assert (await fill(platform, engagement_id, instagram["id"], variant_id)).status_code == 200
    after = (await platform.gateway.get(path, headers=platform.auth(Role.MANAGER))).json()
    assert after["filled"] == 1
    assert [(g["rule_id"], g["channel"], g["open_slots"]) for g in after["gaps"]] == [
        ("stories", "facebook", 10),
        ("events", None, 4),
    ]


async def test_exports_as_icalendar_and_csv(platform: Platform) -> None:
    _, engagement_id, _ = await generated_plan(platform)
    slots = await slots_of(platform, engagement_id)
    path = f"/v1/engagements/{engagement_id}/plan"
    viewer = platform.auth(Role.MANAGER)

    ics = await platform.gateway.get(f"{path}/export.ics", headers=viewer)
    assert ics.status_code == 200, ics.text
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.headers["content-disposition"] == f'attachment; filename="plan-{engagement_id}.ics"'
    events = ics_events(ics.text)
    by_uid = {event["UID"]: event for event in events}
    assert len(events) == len(by_uid) == len(slots)
    for slot in slots:
        event = by_uid[f"{slot['id']}@atlantide-engage"]
        assert event["DTSTART"] == slot["starts_at"].replace("-", "").replace(":", "")
        assert event["SUMMARY"] == f"{slot['channel']}: {slot['pillar']}"
        assert event["STATUS"] == "TENTATIVE"

    exported = await platform.gateway.get(f"{path}/export.csv", headers=viewer)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["slot_id"] for row in rows] == [slot["id"] for slot in slots]
    spring_forward = next(row for row in rows if row["day"] == "2027-03-28")
    assert (spring_forward["local_time"], spring_forward["starts_at_utc"]) == (
        "03:30",
        "2027-03-28T01:30:00Z",
    )


async def test_plan_changes_are_published_as_events(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id, engagement_id, plan = await generated_plan(platform)
    slot = (await slots_of(platform, engagement_id))[0]
    variant_id = await new_variant(platform, organization_id, slot["channel"])
    assert (await fill(platform, engagement_id, slot["id"], variant_id)).status_code == 200
    await approve_plan(platform, engagement_id)

    js = nats_client.jetstream()
    settings = platform.settings.events

    async def data_of(event: str) -> list[dict[str, Any]]:
        messages = await stream_messages(
            js, settings.stream, f"{settings.subject_prefix}.content.{event}.*"
        )
        return [
            envelope["data"]
            for envelope in (json.loads(msg.data) for msg in messages)
            if envelope["data"]["plan_id"] == plan["id"]
        ]

    async def all_published() -> bool:
        return all(
            [await data_of(name) for name in ("plan_generated", "slot_filled", "plan_approved")]
        )

    await wait_until(all_published, timeout=15)
    [generated] = await data_of("plan_generated")
    assert generated == {
        "plan_id": plan["id"],
        "engagement_id": engagement_id,
        "organization_id": organization_id,
        "generation": 1,
        "period_start": "2027-03-01",
        "period_end": "2027-03-31",
        "timezone": "Europe/Rome",
        "slots": 24,
        "kept_filled": 0,
        "shortfalls": 4,
        "reopened": False,
    }
    [filled] = await data_of("slot_filled")
    assert (filled["slot_id"], filled["variant_id"], filled["previous_variant_id"]) == (
        slot["id"],
        variant_id,
        None,
    )
    assert filled["starts_at"].replace("+00:00", "Z") == slot["starts_at"]
    [approved] = await data_of("plan_approved")
    assert (approved["approved_by"], approved["generation"], approved["slots"]) == ("tester", 1, 24)
