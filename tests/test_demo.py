"""``engage demo`` against the in-process platform, and the ``time_scale`` it relies on; how it
answers the inbox and acknowledges alerts, on frames it is handed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.demo import (
    ACKNOWLEDGE_NOTE,
    ALERT_RULE,
    INBOX_SETTINGS,
    POSTS,
    REPLY,
    Demo,
    DemoError,
    DemoRun,
    Frame,
    Tokens,
    alerts,
    inbox,
    run_demo,
    summary,
    time_scale_for,
    watch_inbox_and_alerts,
)
from engage.demo import plan as demo_plan
from engage.demo.script import (
    EDITORIAL_RULES,
    GRAPHIC_LINE,
    HANDBOOK_CHANNEL,
    PLAN_REAPPROVAL_NOTE,
    POSITIONING,
)
from services.listening.alerts.contracts import ALERTS_WORKFLOW, AlertsInput, AlertsRound
from services.listening.contracts import RawAuthor, RawMention, SourceKind
from services.listening.conversations import intake
from services.listening.intake import publish_raw_mentions
from services.strategy.app import build_app as build_strategy
from shared import task_queues
from shared.auth import Role, issue_dev_token
from shared.domain import Phase
from shared.settings import LifecycleSettings, Settings
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import engagement_body

PHASE_NAMES = [phase.value for phase in Phase]
GATES = [
    ("brief", Role.CLIENT_APPROVER),
    ("strategy", Role.CLIENT_APPROVER),
    ("editorial_plan", Role.MANAGER),
    ("go_live", Role.MANAGER),
]


COMPLAINT = "Ho scritto tre volte e nessuno mi ha risposto."
CUSTOMER = "cliente.deluso"


def gateway_url(platform: Platform) -> str:
    return f"http://127.0.0.1:{platform.settings.ports.gateway}"


@pytest.fixture
async def inbox_consumers(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], nats_client: NatsClient
) -> AsyncIterator[None]:
    """The listening worker's conversations consumers, as ``make up`` runs them."""
    stop = asyncio.Event()
    running = [
        asyncio.create_task(
            subscription.consumer(nats_client.jetstream(), sessions, platform.settings.events).run(
                stop
            )
        )
        for subscription in intake.SUBSCRIPTIONS
    ]
    yield
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.gather(*running)


async def complain_then_evaluate(platform: Platform, nats: NatsClient, run: DemoRun) -> None:
    """A customer complains about the demo's client on the sandbox (the in-process platform
    polls no source by itself), then alert rounds run as the schedule runs them, until the demo
    sees the alert."""
    complaint = RawMention(
        organization_id=uuid.UUID(run.organization_id),
        engagement_id=uuid.UUID(run.engagement_id),
        source=SourceKind.SANDBOX,
        external_id=f"comment-demo-{uuid.uuid4()}",
        author=RawAuthor(handle=CUSTOMER),
        text=COMPLAINT,
        published_at=datetime.now(UTC),
        language="it",
    )
    await publish_raw_mentions(nats.jetstream(), platform.settings, [complaint])
    prefix = platform.settings.temporal.task_queue_prefix
    while not run.alerts_raised:
        await platform.temporal.execute_workflow(
            ALERTS_WORKFLOW,
            AlertsInput(task_queue_prefix=prefix),
            id=f"alerts-demo-{uuid.uuid4()}",
            task_queue=platform.settings.task_queue(task_queues.WORKFLOWS),
            result_type=AlertsRound,
        )
        await asyncio.sleep(0.5)


async def test_demo_runs_an_engagement_through_every_phase(
    platform: Platform,
    nats_client: NatsClient,
    inbox_consumers: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customers: list[asyncio.Task[None]] = []

    # prepare_plan sets the inbox and the alert rule up before listening starts.
    async def watched(client: httpx.AsyncClient, tokens: Tokens, run: DemoRun) -> None:
        await watch_inbox_and_alerts(client, tokens, run)
        customers.append(asyncio.create_task(complain_then_evaluate(platform, nats_client, run)))

    monkeypatch.setattr(demo_plan, "watch_inbox_and_alerts", watched)
    output = io.StringIO()
    try:
        run = await run_demo(
            platform.settings,
            gateway_url(platform),
            Console(file=output, width=120),
            target_seconds=8,
            timeout_seconds=90,
            follow_up_seconds=45,
        )
    finally:
        for customer in customers:
            customer.cancel()

    assert run.completed
    assert run.phases_started == PHASE_NAMES
    assert run.approvals == GATES
    assert run.tasks_completed > 0
    seen = [frame.event for frame in run.events]
    assert seen.count("lifecycle.engagement_completed") == 1
    assert seen.count("lifecycle.deliverable_recorded") >= 2
    assert run.workflow_id == f"engagement-{run.engagement_id}"
    printed = output.getvalue()
    assert f"/namespaces/default/workflows/{run.workflow_id}" in printed
    assert f"/v1/engagements/{run.engagement_id}" in printed

    read = await platform.gateway.get(
        f"/v1/engagements/{run.engagement_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    state = read.json()["state"]
    assert (state["status"], state["phase"]) == ("completed", "post_launch")
    assert state["post_launch"]["cycles_done"] == 2
    await the_method_pieces_are_there(platform, run, printed)

    # The plan's posts: scheduled from seeding on, then out on the sandbox at their time (some
    # after this short demo has ended). Near midnight in Rome the demo makes no plan.
    assert run.posts_planned in (0, len(POSTS))
    assert run.posts_scheduled == run.posts_planned
    seeding = next(
        d["reference"]
        for d in state["deliverables"]
        if (d["name"], d["phase"]) == ("plan_publishing", "seeding")
    )
    if run.posts_planned:
        assert (seeding["status"], seeding["scheduled"]) == ("done", len(POSTS))
    publications: list[dict[str, Any]] = []

    async def all_published() -> bool:
        listed = await platform.gateway.get(
            "/v1/publications",
            params={"engagement_id": run.engagement_id},
            headers=platform.auth(Role.MANAGER),
        )
        publications[:] = listed.json()
        return all(p["status"] == "published" for p in publications)

    await wait_until(all_published, timeout=60, interval=0.5)
    assert len(publications) == run.posts_planned

    # The inbox and the alerts: set up with listening (none near midnight in Rome).
    assert run.watching == bool(run.posts_planned)
    if run.watching:
        await the_demo_answered_and_acknowledged(platform, run, printed)


async def the_method_pieces_are_there(platform: Platform, run: DemoRun, printed: str) -> None:
    """In design the manager scored and approved the channel mix, recorded a touchpoint (its QR
    code scanned once) and generated the handbook, whose PDF the client's viewer downloaded; in
    seeding an outreach contact was reached; in post-launch a training participant joined."""
    manager = platform.auth(Role.MANAGER)
    engagement = f"/v1/engagements/{run.engagement_id}"
    method = run.method
    mix = await platform.gateway.get(
        f"{engagement}/deliverables/channel_mix", params={"status": "approved"}, headers=manager
    )
    assert mix.status_code == 200, mix.text
    assert (mix.json()["version"], mix.json()["approved_by"]) == (
        method.channel_mix_version,
        "demo-manager@atlantide.local",
    )
    assert method.recommended == mix.json()["body"]["recommended"]
    assert method.recommended
    assert "sandbox" not in method.recommended

    handbooks = await platform.gateway.get(f"{engagement}/handbook/versions", headers=manager)
    [handbook] = handbooks.json()
    assert (handbook["version"], handbook["channels"]) == (1, method.recommended)
    assert handbook["sources"]["channel_mix"] == method.channel_mix_version
    saved = Path(method.handbook_pdf_path)
    assert saved.read_bytes().startswith(b"%PDF")
    assert saved.stat().st_size == method.handbook_pdf_bytes
    # The terminal wraps long lines: links are looked for with the whitespace taken out.
    unwrapped = "".join(printed.split())
    pdf = f"{engagement}/handbook/versions/1/handbook.pdf"
    assert f"PDF:{gateway_url(platform)}{pdf}" in unwrapped
    assert "strategy.handbook_generated" in [frame.event for frame in run.events]
    await the_handbook_says_what_design_agreed(platform, run, printed)

    touchpoint = method.touchpoint
    assert method.touchpoint_scans == 1
    scans = await platform.gateway.get(
        f"{engagement}/touchpoints/{touchpoint['id']}/scans", headers=manager
    )
    assert (scans.json()["qr"], scans.json()["link"]) == (1, 0)
    assert touchpoint["tracked_link"] in unwrapped

    contacts = await platform.gateway.get(f"{engagement}/outreach/contacts", headers=manager)
    [contact] = contacts.json()
    assert (contact["handle"], contact["status"]) == ("camminando.in.umbria", "contacted")
    [participant] = (
        await platform.gateway.get(f"{engagement}/training/participants", headers=manager)
    ).json()
    assert (participant["name"], participant["job_title"]) == ("Chiara Bartolini", "receptionist")
    assert "training participant Chiara Bartolini (receptionist)" in " ".join(printed.split())


async def the_handbook_says_what_design_agreed(
    platform: Platform, run: DemoRun, printed: str
) -> None:
    """The editorial rules, graphic line and positioning, saved by the manager and approved by
    the client's approver, fill the handbook's chapter on the recommended channel: nothing is
    left to agree. Setup made the plan again from the rules; the manager approved it again."""
    manager = platform.auth(Role.MANAGER)
    engagement = f"/v1/engagements/{run.engagement_id}"
    agreed = {"editorial_rules": 1, "graphic_line": 1, "positioning": 1}
    assert run.method.agreed == agreed
    for kind in agreed:
        approved = (
            await platform.gateway.get(
                f"{engagement}/deliverables/{kind}", params={"status": "approved"}, headers=manager
            )
        ).json()
        assert (approved["version"], approved["approved_by"], approved["approved_as"]) == (
            1,
            "titolare@ilsentiero.example",
            "client",
        )
    read = await platform.gateway.get(f"{engagement}/handbook/versions/1", headers=manager)
    assert read.status_code == 200, read.text
    handbook = read.json()
    assert handbook["sources"] == {"channel_mix": run.method.channel_mix_version, **agreed}
    content = handbook["content"]
    assert content["gaps"] == []
    assert content["positioning"]["statement"] == POSITIONING["statement"]
    [guide] = [g for g in content["channels"] if g["channel"] == HANDBOOK_CHANNEL]
    rules = EDITORIAL_RULES["rules"]
    assert [line["pillar"] for line in guide["what_to_post"]] == [r["pillar"] for r in rules]
    assert [line["when"] for line in guide["what_to_post"]] == [
        "2 a week; Tue, Fri, 12:30-14:00",
        "1 a week; Sat, 08:00-09:30",
    ]
    assert guide["tone"] == [POSITIONING["tone_of_voice"], *(r["tone_of_voice"] for r in rules)]
    assert guide["do"][: len(rules[0]["do"])] == rules[0]["do"]
    assert guide["dont"][-1] == f"Avoid: {', '.join(POSITIONING['words_to_avoid'])}"
    replies = POSITIONING["replies"]
    assert guide["answering"] == [
        f"Answer within {replies['within_hours']} hours, every question and every complaint",
        *replies["principles"],
        *(f"Pass it on to the agency or a manager when: {c}" for c in replies["escalate_when"]),
    ]
    graphic = [line["what"] for line in guide["formats"] if line["source"] == "graphic line"]
    assert "Post verticale: 1080x1350 px (4:5)" in graphic
    assert (
        "Colours: Verde oliva #6B7B3A, Pietra di Gubbio #E6DCC8, Terracotta #B5563A, "
        "Antracite #2F2F2C"
    ) in graphic
    assert len(graphic) == len(GRAPHIC_LINE["channels"][0]["image_formats"]) + 4
    said = "agreed editorial rules v1, graphic line v1, positioning v1, approved by the client"
    assert said in " ".join(printed.split())
    if run.posts_planned:
        plan = (await platform.gateway.get(f"{engagement}/plan", headers=manager)).json()["plan"]
        assert (plan["status"], plan["generation"]) == ("approved", run.method.plan_generation)
        assert plan["rules"]["rules"][0]["id"] == rules[0]["id"]
        assert plan["history"][-1]["note"] == PLAN_REAPPROVAL_NOTE


async def the_demo_answered_and_acknowledged(
    platform: Platform, run: DemoRun, printed: str
) -> None:
    manager = platform.auth(Role.MANAGER)
    listening = f"/v1/listening/engagements/{run.engagement_id}"
    hours = (await platform.gateway.get(f"{listening}/inbox-settings", headers=manager)).json()
    assert (hours["target_first_response_minutes"], hours["business_days"]) == (
        INBOX_SETTINGS["target_first_response_minutes"],
        INBOX_SETTINGS["business_days"],
    )
    [rule] = (await platform.gateway.get(f"{listening}/alert-rules", headers=manager)).json()
    assert (rule["kind"], rule["keywords"]) == ("keyword", ALERT_RULE["keywords"])
    # The complaint opened a conversation, which the manager answered (the sandbox does not
    # know the comment, so the reply fails there: the demo says so).
    assert run.answered["author_handle"] == CUSTOMER
    conversation = (
        await platform.gateway.get(
            f"/v1/listening/conversations/{run.answered['conversation_id']}", headers=manager
        )
    ).json()
    [reply] = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert (reply["author"], reply["text"]) == ("demo-manager@atlantide.local", REPLY)
    assert run.first_response or run.reply_failure
    # The complaint raised the keyword alert, and the manager acknowledged it with a note.
    [raised] = run.alerts_raised
    assert raised["evidence"]["matched_keywords"] == ["nessuno mi ha risposto"]
    [acknowledged] = run.alerts_acknowledged
    assert (acknowledged["kind"], acknowledged["acknowledged_by"]) == (
        "keyword",
        "demo-manager@atlantide.local",
    )
    alert = (
        await platform.gateway.get(f"/v1/listening/alerts/{raised['alert_id']}", headers=manager)
    ).json()
    assert (alert["status"], alert["acknowledge_note"]) == ("acknowledged", ACKNOWLEDGE_NOTE)
    assert "alert keyword acknowledged by manager" in printed
    assert not run.awaited()
    # The engagement's schedule reported a support week, and the manager asked for the whole
    # run once it ended: each approved by the manager, its PDF downloaded by the client's viewer
    # through the gateway.
    report = run.report
    assert report.failure == ""
    assert report.periodic is not None
    assert report.overall is not None
    assert report.periodic.data["kind"] == "periodic"
    for downloaded in (report.periodic, report.overall):
        saved = Path(downloaded.pdf_path)
        assert saved.read_bytes().startswith(b"%PDF")
        assert saved.stat().st_size == downloaded.pdf_bytes
        assert downloaded.download_path == f"/v1/reports/{downloaded.data['report_id']}/report.pdf"
    assert "approved by the manager, delivered, PDF" in " ".join(printed.split())
    whole = await platform.gateway.get(
        f"/v1/reports/{report.overall.data['report_id']}", headers=platform.auth(Role.MANAGER)
    )
    assert (whole.json()["status"], whole.json()["approved_by"]) == (
        "delivered",
        "demo-manager@atlantide.local",
    )
    # Posts still due when the engagement ended are published during the demo's follow-up.
    assert whole.json()["kpis"]["publishing"]["published"] <= run.posts_published
    assert [item["metric"] for item in whole.json()["kpis"]["objectives"]] == [
        "mentions",
        "net_sentiment",
        "posts_published",
        "within_sla_share",
    ]


ENGAGEMENT = str(uuid.uuid4())
CONVERSATION = str(uuid.uuid4())


def frame(event: str, **data: Any) -> Frame:
    return Frame("1", event, {"data": {"engagement_id": ENGAGEMENT, **data}, "subject": ENGAGEMENT})


async def test_the_demo_answers_the_first_conversation_and_acknowledges_each_alert(
    tmp_path: Path,
) -> None:
    asked: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(202 if request.url.path.endswith("/replies") else 200, json={})

    run = DemoRun(engagement_id=ENGAGEMENT, watching=True)
    assert run.awaited() == ["the reports", "a first response", "an alert"]
    opened = {"category": "complaint", "source": "sandbox", "triage_reason": "negative"}
    alert = {"alert_id": str(uuid.uuid4()), "kind": "keyword", "rule_name": "Clienti scontenti"}
    frames = [
        frame("conversations.conversation_opened", conversation_id=CONVERSATION,
              author_handle="sarah.k", **opened),
        frame("conversations.conversation_opened", conversation_id=str(uuid.uuid4()),
              author_handle="tom.eats.italy", **opened),
        frame("conversations.first_response", conversation_id=CONVERSATION,
              response_minutes=0.4, within_sla=True),
        frame("listening.alert_raised", **alert,
              evidence={"observed": 2, "matched_keywords": ["rude", "pessima"]}),
        frame("listening.alert_acknowledged", **alert,
              acknowledged_by="demo-manager@atlantide.local"),
    ]  # fmt: skip
    transport = httpx.MockTransport(gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        demo = Demo(client, Tokens(Settings()), run, tmp_path)
        for each in frames:
            await demo.handle(each)

    # One reply, to the first conversation, and the alert acknowledged with a note.
    assert [(r.method, r.url.path) for r in asked] == [
        ("POST", f"/v1/listening/conversations/{CONVERSATION}/replies"),
        ("POST", f"/v1/listening/alerts/{alert['alert_id']}/acknowledge"),
    ]
    assert [r.content for r in asked] == [
        httpx.Request("POST", "/", json={"text": REPLY}).content,
        httpx.Request("POST", "/", json={"note": ACKNOWLEDGE_NOTE}).content,
    ]
    assert (run.within_sla, run.awaited()) == (1, ["the reports"])
    assert [summary(each) for each in frames[2:]] == [
        "answered in 0.4 business minutes, within SLA",
        "keyword alert 'Clienti scontenti' on 2 mentions: rude, pessima",
        "keyword alert acknowledged by demo-manager@atlantide.local",
    ]
    assert inbox(run) == "sandbox comment by @sarah.k answered in 0.4 business minutes, within SLA"
    assert alerts(run) == ("alert keyword acknowledged by manager (demo-manager@atlantide.local)")


def test_the_summary_says_what_never_came() -> None:
    run = DemoRun(engagement_id=ENGAGEMENT, watching=True, mentions=3)
    assert inbox(run).startswith("no conversation opened yet")
    assert alerts(run).startswith("no alert raised: the rule 'Clienti scontenti' saw no complaint")
    assert DemoRun().awaited() == ["the reports"]


async def test_demo_says_to_start_the_platform_when_the_gateway_is_away(
    platform: Platform,
) -> None:
    with pytest.raises(DemoError, match="start the platform with `make up` first"):
        await run_demo(platform.settings, "http://127.0.0.1:9", Console(file=io.StringIO()))


def test_time_scale_fits_the_timed_steps_into_the_target() -> None:
    lifecycle = LifecycleSettings()
    # Seeding 14 days, launch 7, two weekly cycles: 35 days of engagement in 70 seconds.
    assert time_scale_for(70, lifecycle, support_weeks=2) == pytest.approx(70 / (35 * 86_400))
    assert time_scale_for(10**9, lifecycle, support_weeks=2) == 1.0


async def test_prod_refuses_a_compressed_engagement(platform: Platform) -> None:
    """The strategy service's own rule: the gateway forwards time_scale and strategy refuses it."""
    prod = platform.settings.model_copy(update={"environment": "prod"})
    headers = {"Authorization": f"Bearer {issue_dev_token(prod, 'pm', [Role.MANAGER], ['*'])}"}
    body = engagement_body("00000000-0000-4000-8000-000000000001")
    transport = httpx.ASGITransport(app=build_strategy(prod))
    async with httpx.AsyncClient(transport=transport, base_url="http://strategy") as strategy:
        refused = await strategy.post(
            "/engagements", json={**body, "time_scale": 0.001}, headers=headers
        )
        plain = await strategy.post("/engagements", json=body, headers=headers)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in refused.json()["errors"]] == ["body.time_scale"]
    # Without time_scale the request goes past that check (to the unknown organisation).
    assert plain.status_code == 404, plain.text


async def test_time_scale_outside_its_range_is_a_validation_error(platform: Platform) -> None:
    body = {**engagement_body("00000000-0000-4000-8000-000000000001"), "time_scale": 2}
    response = await platform.gateway.post(
        "/v1/engagements", json=body, headers=platform.auth(Role.MANAGER)
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.time_scale"
