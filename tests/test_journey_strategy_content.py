"""The issue's "done means", end to end: from an empty organisation to an approved brief,
strategy, editorial rules and a filled, approved monthly editorial plan, first through the
gateway alone, then with the deliverables read and the plan made by activities on the strategy
and content services' real task queues.

The plan is kept small so the journey runs fast: one rule, twice a week on Instagram and the
sandbox over February 2027, whose four ISO weeks are whole (W05 to W08).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date

from pydantic import BaseModel

from services.content.contracts import GET_APPROVED_VARIANTS, ApprovedVariantsQuery
from services.content.plan.contracts import GENERATE_PLAN, GET_PLAN, GeneratePlan, GetPlan
from services.strategy.contracts import GET_APPROVED_DELIVERABLE, GetApprovedDeliverable
from services.strategy.deliverables.kinds import DeliverableKind
from shared import task_queues
from shared.auth import Role
from shared.editorial import EditorialRules
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement
from tests.test_content_items import create_item, post_body
from tests.test_content_media import jpeg, upload
from tests.test_content_review import act
from tests.test_plan_export import ics_events
from tests.test_strategy_channel_mix import mix_inputs
from tests.test_strategy_deliverables import (
    Json,
    analysis_body,
    approve,
    brief_body,
    deliverables_path,
    graphic_line_body,
    objectives_body,
    save,
)
from tests.test_thin_thread import create_org

PERIOD = {"period_start": "2027-02-01", "period_end": "2027-02-28"}
CHANNELS = ("instagram", "sandbox")
# Tuesdays and Fridays of February 2027, each at 12:00 in Rome (CET, 11:00 UTC).
POSTING_DAYS = [f"2027-02-{day:02d}" for day in (2, 5, 9, 12, 16, 19, 23, 26)]
SLOTS = len(POSTING_DAYS) * len(CHANNELS)
CLIENT_FACING = ("brief", "objectives", "editorial_rules", "graphic_line")
AGENCY_ONLY = ("analysis", "channel_mix")


def editorial_rules() -> Json:
    return {
        "timezone": "Europe/Rome",
        "rules": [
            {
                "id": "kitchen",
                "pillar": "Dalla nostra cucina",
                "formats": ["image"],
                "channels": list(CHANNELS),
                "days": [1, 4],
                "windows": [{"start": "12:00", "end": "13:30"}],
                "cadence": {"per": "week", "count": 2},
                "target": "Foodie couples",
                "tone_of_voice": "Warm, direct",
                "hashtags": ["#agriturismo"],
            }
        ],
    }


class Journey:
    """One client's engagement driven through the gateway, with the roles the README names."""

    def __init__(self, platform: Platform, organization_id: str, engagement: Json) -> None:
        self.platform = platform
        self.organization_id = organization_id
        self.engagement = engagement
        self.engagement_id: str = engagement["id"]
        self.manager = platform.auth(Role.MANAGER)
        self.client = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])

    @classmethod
    async def start(cls, platform: Platform) -> Journey:
        organization_id = await create_org(platform, f"Agriturismo {uuid.uuid4().hex[:6]}")
        return cls(platform, organization_id, await started_engagement(platform, organization_id))

    def plan_path(self, rest: str = "") -> str:
        return f"/v1/engagements/{self.engagement_id}/plan{rest}"

    async def approve(self, kind: str, version: int, *, as_client: bool) -> Json:
        headers = self.client if as_client else self.manager
        response = await approve(self.platform, self.engagement, kind, version, headers, "ok")
        assert response.status_code == 200, response.text
        approved: Json = response.json()
        assert (approved["status"], approved["version"]) == ("approved", version)
        assert approved["approved_as"] == ("client" if as_client else "agency")
        return approved

    async def put_and_approve(self, kind: str, body: Json) -> Json:
        """Save a kind's first version as the manager; the client signs off what it is shown."""
        saved = await save(self.platform, self.engagement, kind, body, Role.MANAGER)
        assert saved.status_code == 201, saved.text
        assert (saved.json()["version"], saved.json()["status"]) == (1, "draft")
        return await self.approve(kind, 1, as_client=kind in CLIENT_FACING)

    async def slots(self) -> list[Json]:
        response = await self.platform.gateway.get(
            self.plan_path(), params={"view": "monthly"}, headers=self.manager
        )
        assert response.status_code == 200, response.text
        periods = response.json()["periods"]
        assert [period["period"] for period in periods] == ["2027-02"]
        slots: list[Json] = periods[0]["slots"]
        return slots

    async def approved_post(self, photo_id: str, number: int) -> Json:
        """A photo post with a variant per plan channel, approved by the agency and the client."""
        item = await create_item(
            self.platform,
            post_body(
                self.organization_id,
                kind="image",
                title=f"Dalla nostra cucina {number}",
                body=f"Il piatto della settimana n. {number} #agriturismo",
                engagement_id=self.engagement_id,
                media_ids=[photo_id],
                client_approval_required=True,
                variants=[{"channel": channel} for channel in CHANNELS],
            ),
            role=Role.MANAGER,
        )
        assert [variant["channel"] for variant in item["variants"]] == list(CHANNELS)
        submitted = await act(self.platform, item["id"], "submit", Role.MANAGER)
        assert submitted.json()["status"] == "in_review", submitted.text
        agency = await act(self.platform, item["id"], "approve", Role.MANAGER)
        assert agency.json()["status"] == "in_review", "the client's approval is still due"
        client = await act(
            self.platform, item["id"], "approve", Role.CLIENT_APPROVER, orgs=[self.organization_id]
        )
        approved: Json = client.json()
        assert approved["status"] == "approved", client.text
        assert (approved["agency_approved_by"], approved["client_approved_by"]) == (
            "tester",
            "tester",
        )
        return approved

    async def fill_every_slot(self) -> dict[str, str]:
        """Approved content in every slot, one post per posting moment; slot id → variant id."""
        photo = await upload(self.platform, self.organization_id, jpeg(1080, 1350), "image/jpeg")
        by_moment: dict[str, list[Json]] = {}
        for slot in await self.slots():
            by_moment.setdefault(slot["starts_at"], []).append(slot)
        filled: dict[str, str] = {}
        for number, moment in enumerate(sorted(by_moment), start=1):
            post = await self.approved_post(str(photo["id"]), number)
            variants = {variant["channel"]: variant["id"] for variant in post["variants"]}
            for slot in by_moment[moment]:
                response = await self.platform.gateway.put(
                    self.plan_path(f"/slots/{slot['id']}"),
                    json={"variant_id": variants[slot["channel"]]},
                    headers=self.manager,
                )
                assert response.status_code == 200, response.text
                assert response.json()["filled_by"] == "tester"
                filled[slot["id"]] = response.json()["variant_id"]
        return filled

    async def coverage(self) -> Json:
        response = await self.platform.gateway.get(
            self.plan_path("/coverage"), headers=self.manager
        )
        assert response.status_code == 200, response.text
        coverage: Json = response.json()
        return coverage


def assert_slots_follow_the_rule(slots: list[Json]) -> None:
    assert len(slots) == SLOTS
    assert Counter(slot["channel"] for slot in slots) == dict.fromkeys(CHANNELS, 8)
    assert {slot["local_start"] for slot in slots} == {f"{day}T12:00:00" for day in POSTING_DAYS}
    assert {slot["starts_at"] for slot in slots} == {f"{day}T11:00:00Z" for day in POSTING_DAYS}
    assert {slot["rule_id"] for slot in slots} == {"kitchen"}
    per_week = Counter((slot["channel"], slot["iso_week"]) for slot in slots)
    assert set(per_week.values()) == {2}, "two posts a week on each channel"


async def check_brief_renders(journey: Journey) -> None:
    render = f"{deliverables_path(journey.engagement, 'brief')}/render"
    viewer = journey.platform.auth(Role.CLIENT_VIEWER, orgs=[journey.organization_id])
    markdown = await journey.platform.gateway.get(
        render, params={"status": "approved"}, headers=viewer
    )
    assert markdown.status_code == 200, markdown.text
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Brief: Agriturismo ")
    assert "_Version 1 (approved)," in markdown.text
    assert brief_body()["context"] in markdown.text
    assert "- Fill the shoulder season\n" in markdown.text
    html = await journey.platform.gateway.get(
        render, params={"format": "html", "status": "approved"}, headers=viewer
    )
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<!DOCTYPE html>")
    assert "<h1>Brief: Agriturismo " in html.text
    assert "Foodie couples" in html.text


async def design_through_the_gateway(journey: Journey) -> Json:
    """Assets, analysis, channel mix, brief, objectives, rules and graphic line, all approved;
    returns the approved editorial rules as the content service will read them."""
    platform = journey.platform
    assets_path = f"/v1/organizations/{journey.organization_id}/assets"
    nothing_yet = [
        (await platform.gateway.get(path, headers=journey.manager)).json()
        for path in (assets_path, deliverables_path(journey.engagement))
    ]
    assert nothing_yet == [[], []], "the organisation starts empty"
    asset = await platform.gateway.post(
        assets_path,
        json={
            "kind": "account",
            "channel": "instagram",
            "handle": "@laquercia",
            "audience_size": 1840,
            "posts_per_week": 0.5,
        },
        headers=journey.manager,
    )
    assert asset.status_code == 201, asset.text
    evidence = {"kind": "asset", "ref": asset.json()["id"], "note": "rarely posts"}
    await journey.put_and_approve("analysis", analysis_body(evidence))

    mix = await platform.gateway.post(
        f"/v1/engagements/{journey.engagement_id}/channel-mix",
        json=mix_inputs(),
        headers=journey.manager,
    )
    assert mix.status_code == 201, mix.text
    assert "instagram" in mix.json()["body"]["recommended"]
    verdicts = {score["channel"]: score["verdict"] for score in mix.json()["body"]["scores"]}
    assert verdicts["sandbox"] == "not_an_audience"
    await journey.approve("channel_mix", 1, as_client=False)

    await journey.put_and_approve("brief", brief_body())
    await check_brief_renders(journey)
    await journey.put_and_approve("objectives", objectives_body())
    await journey.put_and_approve("editorial_rules", editorial_rules())
    await journey.put_and_approve("graphic_line", graphic_line_body())

    summary = await platform.gateway.get(
        deliverables_path(journey.engagement), headers=journey.client
    )
    assert {row["kind"]: row["approved_version"] for row in summary.json()} == dict.fromkeys(
        (*AGENCY_ONLY, *CLIENT_FACING), 1
    )
    rules = await platform.gateway.get(
        deliverables_path(journey.engagement, "editorial_rules"),
        params={"status": "approved"},
        headers=journey.manager,
    )
    assert rules.status_code == 200, rules.text
    assert (rules.json()["status"], rules.json()["approved_as"]) == ("approved", "client")
    approved_rules: Json = rules.json()["body"]
    assert EditorialRules.model_validate(approved_rules) == EditorialRules.model_validate(
        editorial_rules()
    )
    return approved_rules


async def test_a_manager_goes_from_an_empty_organization_to_an_approved_plan_through_the_gateway(
    platform: Platform,
) -> None:
    journey = await Journey.start(platform)
    approved_rules = await design_through_the_gateway(journey)

    generated = await platform.gateway.post(
        journey.plan_path(),
        json={"organization_id": journey.organization_id, **PERIOD, "rules": approved_rules},
        headers=journey.manager,
    )
    assert generated.status_code == 201, generated.text
    plan = generated.json()
    assert (plan["status"], plan["generation"], plan["slot_count"]) == ("draft", 1, SLOTS)
    assert_slots_follow_the_rule(await journey.slots())
    empty = await journey.coverage()
    assert empty["gaps"] == [
        {
            "rule_id": "kitchen",
            "pillar": "Dalla nostra cucina",
            "channel": None,
            "open_slots": SLOTS,
        }
    ]

    filled = await journey.fill_every_slot()
    assert len(filled) == SLOTS
    assert len(set(filled.values())) == SLOTS, "a variant fills one slot"
    coverage = await journey.coverage()
    assert (coverage["slots"], coverage["filled"]) == (SLOTS, SLOTS)
    assert (coverage["gaps"], coverage["shortfalls"]) == ([], [])

    approval = await platform.gateway.post(
        journey.plan_path("/approval"), json={"note": "Febbraio ok"}, headers=journey.client
    )
    assert approval.status_code == 200, approval.text
    approved = approval.json()
    assert (approved["status"], approved["approved_by"]) == ("approved", "tester")
    assert (approved["slot_count"], approved["filled_count"]) == (SLOTS, SLOTS)
    assert [change["action"] for change in approved["history"]] == ["generated", "approved"]

    exported = await platform.gateway.get(journey.plan_path("/export.ics"), headers=journey.client)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/calendar")
    events = ics_events(exported.text)
    assert len(events) == SLOTS
    assert {event["UID"] for event in events} == {f"{slot}@atlantide-engage" for slot in filled}
    assert {event["STATUS"] for event in events} == {"CONFIRMED"}
    assert {event["DTSTART"] for event in events} == {
        f"{day.replace('-', '')}T110000Z" for day in POSTING_DAYS
    }


async def run(platform: Platform, task_queue: str, name: str, payload: BaseModel) -> Json:
    result: Json = await platform.run_activity(task_queue, name, payload)
    return result


async def drafts_through_the_gateway(journey: Journey) -> dict[str, Json]:
    """Each deliverable's first draft saved through the gateway; kind → saved version."""
    platform = journey.platform
    bodies: dict[str, Json] = {
        "analysis": analysis_body(),
        "brief": brief_body(),
        "objectives": objectives_body(),
        "editorial_rules": editorial_rules(),
        "graphic_line": graphic_line_body(),
    }
    saved: dict[str, Json] = {}
    for kind, body in bodies.items():
        response = await save(platform, journey.engagement, kind, body, Role.MANAGER)
        assert response.status_code == 201, response.text
        saved[kind] = response.json()
    mix = await platform.gateway.post(
        f"/v1/engagements/{journey.engagement_id}/channel-mix",
        json=mix_inputs(),
        headers=journey.manager,
    )
    assert mix.status_code == 201, mix.text
    saved["channel_mix"] = mix.json()
    for kind, version in saved.items():
        assert (version["kind"], version["version"], version["status"]) == (kind, 1, "draft")
    return saved


async def approved_deliverable(journey: Journey, kind: DeliverableKind) -> Json:
    lookup = GetApprovedDeliverable(engagement_id=uuid.UUID(journey.engagement_id), kind=kind)
    found = await run(journey.platform, task_queues.STRATEGY, GET_APPROVED_DELIVERABLE, lookup)
    assert (found["engagement_id"], found["kind"]) == (journey.engagement_id, kind.value)
    return found


async def test_the_same_journey_runs_as_activities_on_the_services_task_queues(
    platform: Platform,
) -> None:
    journey = await Journey.start(platform)
    saved = await drafts_through_the_gateway(journey)
    rules_kind = DeliverableKind.EDITORIAL_RULES
    assert (await approved_deliverable(journey, rules_kind))["approved"] is None

    for kind in saved:
        await journey.approve(kind, 1, as_client=kind in CLIENT_FACING)
    for kind, version in saved.items():
        found = await approved_deliverable(journey, DeliverableKind(kind))
        assert found["approved"]["deliverable_id"] == version["id"]
        assert found["approved"]["version"] == 1
    approved_rules = (await approved_deliverable(journey, rules_kind))["approved"]["body"]
    assert EditorialRules.model_validate(approved_rules) == EditorialRules.model_validate(
        editorial_rules()
    )

    request = GeneratePlan(
        engagement_id=uuid.UUID(journey.engagement_id),
        organization_id=uuid.UUID(journey.organization_id),
        period_start=date(2027, 2, 1),
        period_end=date(2027, 2, 28),
        rules=EditorialRules.model_validate(approved_rules),
    )
    generated = await run(platform, task_queues.CONTENT, GENERATE_PLAN, request)
    assert generated["changed"] is True
    assert generated["event_id"]
    assert (generated["generation"], generated["slots"], generated["shortfalls"]) == (1, SLOTS, 0)
    retried = await run(platform, task_queues.CONTENT, GENERATE_PLAN, request)
    assert retried == {**generated, "changed": False, "event_id": None}

    get_plan = GetPlan(engagement_id=uuid.UUID(journey.engagement_id))
    snapshot = await run(platform, task_queues.CONTENT, GET_PLAN, get_plan)
    assert (snapshot["plan_id"], snapshot["status"]) == (generated["plan_id"], "draft")
    assert (snapshot["timezone"], snapshot["generation"]) == ("Europe/Rome", 1)
    assert_slots_follow_the_rule(snapshot["slots"])
    assert all(slot["variant_id"] is None for slot in snapshot["slots"])

    filled = await journey.fill_every_slot()
    kept = await run(platform, task_queues.CONTENT, GENERATE_PLAN, request)
    assert (kept["changed"], kept["generation"]) == (False, 1), "regenerating keeps the content"
    approval = await platform.gateway.post(
        journey.plan_path("/approval"), json={}, headers=journey.manager
    )
    assert approval.status_code == 200, approval.text

    final = await run(platform, task_queues.CONTENT, GET_PLAN, get_plan)
    assert final["status"] == "approved"
    assert {slot["id"]: slot["variant_id"] for slot in final["slots"]} == filled
    publishable = await run(
        platform,
        task_queues.CONTENT,
        GET_APPROVED_VARIANTS,
        ApprovedVariantsQuery(
            organization_id=uuid.UUID(journey.organization_id),
            engagement_id=uuid.UUID(journey.engagement_id),
        ),
    )
    assert {variant["variant_id"] for variant in publishable["variants"]} == set(filled.values())
