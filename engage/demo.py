"""``engage demo``: a sample Italian client's engagement through all six phases, live.

Against a running platform (``make up``), the demo plays every person involved: it registers an
agriturismo near Gubbio as an agency manager, starts its engagement on the built-in ``sandbox``
channel with its durations compressed (the request's ``time_scale``), connects a sandbox account
(the gateway's OAuth flow) and prepares an approved editorial plan of a few posts due during
seeding and launch, follows the organisation's Server-Sent Events and answers what the lifecycle
asks of people: each gate is approved by the role it names, each task completed by its owner.
From seeding on the engagement publishes the plan, and the posts appear on the sandbox as they
fall due. The engagement listens to the sandbox account (a listening source on the connection):
the comments and mentions its simulated users write arrive as mentions, with their sentiment and
places, and the summary shows the sentiment share and the top places. Before listening starts
the demo sets the engagement's inbox hours (every day, all day, a first answer within an hour)
and a keyword alert rule on the complaints the sandbox's users write; then, as the agency's
manager, it answers the first conversation the comments open and acknowledges the alerts the
rule raises. After the engagement ends it waits a little for the reply's first response and
for an alert, and the summary says whether the comment was answered within the SLA and which
alert was acknowledged. The stream is opened before the engagement is created, so no event is
missed; a dropped connection resumes with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from engage.demo_reports import (
    DemoReport,
    ObjectivesRefused,
    ReportFollower,
    approve_objectives,
    described,
    objectives_body,
)
from shared.auth import ALL_ORGANIZATIONS, Role, issue_dev_token
from shared.domain import Phase
from shared.settings import LifecycleSettings, Settings

PHASES = tuple(Phase)
CLIENT = {"name": "Agriturismo Il Sentiero (Gubbio)", "timezone": "Europe/Rome"}
ASSETS: tuple[dict[str, Any], ...] = (
    {
        "kind": "account",
        "channel": "instagram",
        "handle": "@ilsentiero.gubbio",
        "audience_size": 1840,
        "posts_per_week": 2,
        "notes": "Photos of the olive grove and the Monte Ingino trail",
    },
    {"kind": "website", "url": "https://ilsentiero-gubbio.example", "monthly_visits": 2300},
)
SECONDS_PER_DAY = 86_400
# An approval can arrive through the stream a moment before the workflow shows the gate waiting.
GATE_RETRIES = 20
GATE_RETRY_SECONDS = 0.25
EVENTS_SHOWN = 14
RECONNECT_SECONDS = 0.5
FINISHED = "lifecycle.engagement_completed"
CANCELLED = "lifecycle.engagement_cancelled"
POST_SCHEDULED = "publisher.post_scheduled"
POST_PUBLISHED = "publisher.post_published"
MENTIONS_INGESTED = "listening.mentions_ingested"
CONVERSATION_OPENED = "conversations.conversation_opened"
FIRST_RESPONSE = "conversations.first_response"
REPLY_FAILED = "conversations.reply_failed"
ALERT_RAISED = "listening.alert_raised"
ALERT_ACKNOWLEDGED = "listening.alert_acknowledged"
SENTIMENTS = ("positive", "neutral", "negative", "mixed", "unlabelled")
# The listening source's poll interval: the shortest the service takes.
LISTENING_POLL_SECONDS = 10
# The inbox's hours: every day, all day (whole minutes: the latest closing time the schema
# takes is 23:59), so a comment answered at once is answered within the target whenever the
# demo runs.
INBOX_SETTINGS: dict[str, Any] = {
    "target_first_response_minutes": 60,
    "business_days": [1, 2, 3, 4, 5, 6, 7],
    "opens": "00:00",
    "closes": "23:59",
    "time_zone": "Europe/Rome",
}
# Complaints, in Italian and English: every way the sandbox's unhappy users put it
# (services/sandbox/voices.py), so any complaint among the mentions raises the alert.
ALERT_RULE: dict[str, Any] = {
    "kind": "keyword",
    "name": "Clienti scontenti",
    "keywords": [
        "nessuno mi ha risposto",
        "molto lento",
        "troppo alti",
        "peccato",
        "pessima",
        "scorretto",
        "delusa",
        "disappointing",
        "rude",
        "no answer",
        "pictures promised",
        "let down",
        "nobody answers",
        "not recommend",
    ],
}
REPLY = (
    "Grazie di averci scritto! Le rispondiamo subito in privato con tutti i dettagli. "
    "A presto, lo staff del Sentiero"
)
ACKNOWLEDGE_NOTE = "Preso in carico: rispondiamo in privato e verifichiamo con lo staff."
# After the engagement ends, how long the demo waits for a first response and an alert.
FOLLOW_UP_SECONDS = 60.0
TOP_PLACES = 5
# The sandbox approves an authorisation at once and redirects here with the code; nothing
# needs to answer at this address, the demo reads the redirect itself.
REDIRECT_URI = "https://demo.atlantide.local/oauth/callback"
PLAN_TIMEZONE = ZoneInfo("Europe/Rome")
POSTS: tuple[str, ...] = (
    "Buongiorno dal Sentiero: colazione in terrazza con vista su Gubbio",
    "Il sentiero dei Cappuccini al tramonto, a due passi da noi",
    "Olio nuovo: la raccolta nel nostro uliveto è cominciata",
)
# The first post falls due once the first three gates have been passed; the others spread
# over seeding and launch, at least this far apart.
FIRST_POST_AFTER_SECONDS = 12.0
MIN_POST_GAP_SECONDS = 2.0
POST_WINDOW_SECONDS = 20


class DemoError(Exception):
    """What stops the demo, said so a newcomer knows what to do."""


@dataclass
class Frame:
    """One Server-Sent Event: the JetStream sequence, the event's name and its CloudEvent."""

    id: str
    event: str
    cloud_event: dict[str, Any]
    seen_at: float = 0.0

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.cloud_event.get("data") or {}
        return data


@dataclass
class DemoRun:
    """What the demo did and saw: the test's evidence and the closing summary."""

    organization_id: str = ""
    engagement_id: str = ""
    workflow_id: str = ""
    phases_started: list[str] = field(default_factory=list)
    approvals: list[tuple[str, Role]] = field(default_factory=list)
    tasks_completed: int = 0
    # The plan's posts: placed in the plan, scheduled by the engagement, out on the sandbox.
    posts_planned: int = 0
    posts_scheduled: int = 0
    posts_published: int = 0
    # What listening heard from the sandbox: mentions stored, by sentiment; the top places.
    mentions: int = 0
    sentiment: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENTS, 0))
    top_places: list[dict[str, Any]] = field(default_factory=list)
    # The inbox and alerts: set up with listening; the conversation answered and its first
    # response; the alerts raised and acknowledged.
    watching: bool = False
    answered: dict[str, Any] = field(default_factory=dict)
    first_response: dict[str, Any] = field(default_factory=dict)
    reply_failure: str = ""
    within_sla: int = 0
    alerts_raised: list[dict[str, Any]] = field(default_factory=list)
    alerts_acknowledged: list[dict[str, Any]] = field(default_factory=list)
    # The first periodic report: approved by the manager, downloaded by the client.
    report: DemoReport = field(default_factory=DemoReport)
    follow_up_until: float | None = None
    events: list[Frame] = field(default_factory=list)
    completed: bool = False
    completed_after: float = 0.0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def phase(self) -> str | None:
        return self.phases_started[-1] if self.phases_started else None

    def awaited(self) -> list[str]:
        """What the demo still waits for once the engagement has ended."""
        waiting = [] if self.report.done else ["the reports"]
        if not self.watching:
            return waiting
        if not self.first_response and not self.reply_failure:
            waiting.append("a first response")
        if not self.alerts_acknowledged:
            waiting.append("an alert")
        return waiting


def time_scale_for(
    target_seconds: float, lifecycle: LifecycleSettings, support_weeks: int
) -> float:
    """The compression that makes the lifecycle's timed steps last about ``target_seconds``.

    Seeding, launch and the post-launch cycles are the only waits; gates are answered at once.
    """
    cycles = math.ceil(support_weeks * 7 / lifecycle.cycle_days)
    days = lifecycle.seeding_days + lifecycle.launch_days + cycles * lifecycle.cycle_days
    return min(1.0, target_seconds / (days * SECONDS_PER_DAY))


class Tokens:
    """Development tokens of the people the demo plays."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.admin = self._mint("demo-admin@atlantide.local", Role.ADMIN, ALL_ORGANIZATIONS)
        self.manager = self._mint("demo-manager@atlantide.local", Role.MANAGER, ALL_ORGANIZATIONS)
        self.approver = self.viewer = ""

    def for_client(self, organization_id: str) -> None:
        self.approver = self._mint(
            "titolare@ilsentiero.example", Role.CLIENT_APPROVER, organization_id
        )
        self.viewer = self._mint("staff@ilsentiero.example", Role.CLIENT_VIEWER, organization_id)

    def acting_as(self, roles: list[str]) -> tuple[Role, dict[str, str]]:
        """Who answers for ``roles``: the manager for agency work, else the client's approver."""
        if Role.MANAGER in roles:
            return Role.MANAGER, self.headers(self.manager)
        return Role.CLIENT_APPROVER, self.headers(self.approver)

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _mint(self, subject: str, role: Role, organization: str) -> str:
        return issue_dev_token(self._settings, subject, [role], [organization])


async def _expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise DemoError(f"{what} failed: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def check_platform(client: httpx.AsyncClient, gateway_url: str) -> None:
    try:
        ready = await client.get("/readyz")
    except httpx.TransportError as error:
        raise DemoError(
            f"the gateway at {gateway_url} is not reachable ({error.__class__.__name__}): "
            "start the platform with `make up` first"
        ) from error
    if ready.status_code != 200:
        raise DemoError(f"the platform at {gateway_url} is not ready yet: {ready.text}")


async def create_client(client: httpx.AsyncClient, tokens: Tokens) -> str:
    manager = tokens.headers(tokens.manager)
    # Registering an organisation is the admin's; the manager runs the engagement.
    created = await _expect(
        await client.post("/v1/organizations", json=CLIENT, headers=tokens.headers(tokens.admin)),
        201,
        "creating the client",
    )
    organization_id: str = created["id"]
    for asset in ASSETS:
        path = f"/v1/organizations/{organization_id}/assets"
        await _expect(
            await client.post(path, json=asset, headers=manager), 201, "recording an asset"
        )
    return organization_id


async def start_engagement(
    client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, time_scale: float, support_weeks: int
) -> None:
    starts_on = datetime.now(UTC).date()
    body = {
        "organization_id": run.organization_id,
        "mode": "realizzazione",
        "channels": ["sandbox"],
        "starts_on": starts_on.isoformat(),
        "ends_on": (starts_on + timedelta(days=support_weeks * 7 - 1)).isoformat(),
        "time_scale": time_scale,
    }
    created = await _expect(
        await client.post("/v1/engagements", json=body, headers=tokens.headers(tokens.manager)),
        201,
        "starting the engagement",
    )
    run.engagement_id, run.workflow_id = created["id"], created["workflow_id"]
    ends_on = date.fromisoformat(str(body["ends_on"]))
    try:
        await approve_objectives(
            client,
            run.engagement_id,
            tokens.headers(tokens.manager),
            tokens.headers(tokens.approver),
            objectives_body(starts_on, ends_on),
        )
    except ObjectivesRefused as refused:
        raise DemoError(str(refused)) from refused


async def connect_sandbox(client: httpx.AsyncClient, tokens: Tokens, organization_id: str) -> str:
    """A new sandbox account connected through the gateway's OAuth flow; its connection id."""
    manager = tokens.headers(tokens.manager)
    started = await _expect(
        await client.post(
            "/v1/connections/oauth/start",
            json={
                "organization_id": organization_id,
                "channel": "sandbox",
                "redirect_uri": REDIRECT_URI,
            },
            headers=manager,
        ),
        201,
        "starting the sandbox authorisation",
    )
    async with httpx.AsyncClient(timeout=10) as platform:
        redirect = await platform.get(started["authorize_url"])
    if redirect.status_code != 302:
        raise DemoError(f"the sandbox did not authorise: {redirect.status_code} {redirect.text}")
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    connected = await _expect(
        await client.post(
            "/v1/connections/oauth/complete",
            json={"state": query["state"][0], "code": query["code"][0]},
            headers=manager,
        ),
        200,
        "connecting the sandbox account",
    )
    connection_id: str = connected["id"]
    return connection_id


async def listen_to_sandbox(
    client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, connection_id: str
) -> None:
    """A listening source on the connected account: its posts' comments and its mentions."""
    await _expect(
        await client.post(
            "/v1/listening/sources",
            json={
                "organization_id": run.organization_id,
                "engagement_id": run.engagement_id,
                "kind": "sandbox",
                "name": "Comments and mentions of the sandbox account",
                "settings": {"connection_id": connection_id},
                "poll_interval_seconds": LISTENING_POLL_SECONDS,
            },
            headers=tokens.headers(tokens.manager),
        ),
        201,
        "adding the listening source",
    )


async def watch_inbox_and_alerts(client: httpx.AsyncClient, tokens: Tokens, run: DemoRun) -> None:
    """Inbox hours the demo can meet, and a keyword alert rule on complaints: set before
    listening starts, so the first conversation follows them."""
    manager = tokens.headers(tokens.manager)
    listening = f"/v1/listening/engagements/{run.engagement_id}"
    await _expect(
        await client.put(f"{listening}/inbox-settings", json=INBOX_SETTINGS, headers=manager),
        200,
        "setting the inbox's hours",
    )
    await _expect(
        await client.post(f"{listening}/alert-rules", json=ALERT_RULE, headers=manager),
        201,
        "adding the alert rule",
    )
    run.watching = True


async def read_top_places(client: httpx.AsyncClient, tokens: Tokens, run: DemoRun) -> None:
    """The engagement's most mentioned places (Map Track), for the summary."""
    response = await client.get(
        f"/v1/listening/engagements/{run.engagement_id}/top-places",
        params={"level": "comune", "limit": TOP_PLACES},
        headers=tokens.headers(tokens.viewer),
    )
    run.top_places = await _expect(response, 200, "reading the top places")  # type: ignore[assignment]


def post_times(now: datetime, publishing_seconds: float) -> list[datetime]:
    """When the plan's posts fall due: spread over seeding and launch."""
    gap = max((publishing_seconds - FIRST_POST_AFTER_SECONDS) / len(POSTS), MIN_POST_GAP_SECONDS)
    first = now + timedelta(seconds=FIRST_POST_AFTER_SECONDS)
    return [first + timedelta(seconds=gap * index) for index in range(len(POSTS))]


def plan_rules(times: list[datetime]) -> dict[str, Any]:
    """Editorial rules giving one sandbox slot at each of ``times`` (one local day)."""
    rule = {
        "id": "demo",
        "pillar": "Vita in agriturismo",
        "formats": ["text"],
        "channels": ["sandbox"],
        "days": [times[0].weekday()],
        "windows": [
            {
                "start": at.time().isoformat(),
                "end": (at + timedelta(seconds=POST_WINDOW_SECONDS)).time().isoformat(),
            }
            for at in times
        ],
        "cadence": {"per": "day", "count": len(times)},
        "target": "famiglie",
    }
    return {"timezone": str(PLAN_TIMEZONE), "rules": [rule]}


async def prepare_plan(
    client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, publishing_seconds: float
) -> None:
    """An approved plan of ``POSTS`` due during seeding and launch, on a connected sandbox
    account; near midnight in Rome (the posts would fall on two days) there is no plan."""
    now = datetime.now(PLAN_TIMEZONE).replace(microsecond=0)
    times = post_times(now, publishing_seconds)
    last = times[-1] + timedelta(seconds=POST_WINDOW_SECONDS)
    if last.date() != now.date():
        return
    manager = tokens.headers(tokens.manager)
    connection_id = await connect_sandbox(client, tokens, run.organization_id)
    await watch_inbox_and_alerts(client, tokens, run)
    await listen_to_sandbox(client, tokens, run, connection_id)
    engagement = f"/v1/engagements/{run.engagement_id}"
    day = now.date().isoformat()
    await _expect(
        await client.post(
            f"{engagement}/plan",
            json={
                "organization_id": run.organization_id,
                "period_start": day,
                "period_end": day,
                "rules": plan_rules(times),
            },
            headers=manager,
        ),
        201,
        "generating the editorial plan",
    )
    plan = await _expect(
        await client.get(f"{engagement}/plan", params={"view": "daily"}, headers=manager),
        200,
        "reading the editorial plan",
    )
    slots = sorted(
        (slot for period in plan["periods"] for slot in period["slots"]),
        key=lambda slot: slot["starts_at"],
    )
    for slot, text in zip(slots, POSTS, strict=False):
        variant_id = await approved_post(client, manager, run, text)
        await _expect(
            await client.put(
                f"{engagement}/plan/slots/{slot['id']}",
                json={"variant_id": variant_id},
                headers=manager,
            ),
            200,
            "filling a slot of the plan",
        )
        run.posts_planned += 1
    await _expect(
        await client.post(f"{engagement}/plan/approval", json={}, headers=manager),
        200,
        "approving the editorial plan",
    )


async def approved_post(
    client: httpx.AsyncClient, manager: dict[str, str], run: DemoRun, text: str
) -> str:
    """A text post for the sandbox, submitted and approved by the agency; its variant id."""
    item = await _expect(
        await client.post(
            "/v1/content-items",
            json={
                "organization_id": run.organization_id,
                "engagement_id": run.engagement_id,
                "kind": "text",
                "title": text[:60],
                "body": text,
                "variants": [{"channel": "sandbox"}],
            },
            headers=manager,
        ),
        201,
        "writing a post",
    )
    for action in ("submit", "approve"):
        await _expect(
            await client.post(f"/v1/content-items/{item['id']}/{action}", json={}, headers=manager),
            200,
            f"{action} of a post",
        )
    variant_id: str = item["variants"][0]["id"]
    return variant_id


async def sse_frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Parse a ``text/event-stream``: fields until a blank line; comments (keep-alives) skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
            continue
        if "data" in fields:
            yield Frame(fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"]))
        fields = {}


@asynccontextmanager
async def event_stream(
    client: httpx.AsyncClient, organization_id: str, headers: dict[str, str], last_id: str | None
) -> AsyncIterator[httpx.Response]:
    """The organisation's live events, after ``last_id`` when resuming."""
    resume = {"Last-Event-ID": last_id} if last_id else {}
    async with client.stream(
        "GET",
        "/v1/stream",
        params={"organization_id": organization_id},
        headers={**headers, **resume, "Accept": "text/event-stream"},
        timeout=httpx.Timeout(10, read=None),
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise DemoError(f"the event stream refused: {response.status_code} {response.text}")
        yield response


class Display:
    """The live terminal view: current phase, a bar over the six phases, the latest events."""

    def __init__(self, run: DemoRun) -> None:
        self._run = run
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} phases"),
            TextColumn("[dim]{task.fields[elapsed]}"),
        )
        self._bar = self._progress.add_task("starting", total=len(PHASES), elapsed="")

    def __rich__(self) -> RenderableType:
        run = self._run
        done = len(PHASES) if run.completed else max(0, _phase_index(run.phase))
        description = "completed" if run.completed else f"phase: {run.phase or 'starting'}"
        if run.posts_planned:
            description += f" · posts {run.posts_published}/{run.posts_planned} published"
        if run.mentions:
            description += f" · {run.mentions} mentions heard"
        if run.follow_up_until is not None and run.awaited():
            left = max(0.0, run.follow_up_until - run.elapsed)
            description += f" · waiting {left:.0f}s more for {' and '.join(run.awaited())}"
        self._progress.update(
            self._bar, completed=done, description=description, elapsed=f"{run.elapsed:5.1f}s"
        )
        return Group(self._progress, self._events())

    def _events(self) -> Table:
        table = Table(expand=True, box=None, header_style="dim")
        for column in ("seq", "+s", "event", "phase", "summary"):
            table.add_column(column, no_wrap=column != "summary")
        for frame in self._run.events[-EVENTS_SHOWN:]:
            at = f"{frame.seen_at:.1f}"
            table.add_row(frame.id, at, frame.event, frame.data.get("phase", ""), summary(frame))
        return table


def _phase_index(phase: str | None) -> int:
    return [p.value for p in PHASES].index(phase) if phase else -1


def _joined(data: dict[str, Any], key: str) -> str:
    return ", ".join(str(value) for value in data.get(key) or [])


def _sla(data: dict[str, Any]) -> str:
    within = "within SLA" if data.get("within_sla") else "over the SLA"
    return f"answered in {float(data.get('response_minutes') or 0):.1f} business minutes, {within}"


def summary(frame: Frame) -> str:
    """A short line saying what the event is about."""
    data = frame.data
    name = frame.event.partition(".")[2]
    evidence = data.get("evidence") or {}
    lines = {
        "engagement_started": f"{data.get('mode')} on {_joined(data, 'channels')}",
        "phase_started": f"revision {data.get('revision')}",
        "phase_completed": f"revision {data.get('revision')}",
        "deliverable_recorded": str(data.get("name")),
        "approval_requested": f"gate {data.get('gate')} for {_joined(data, 'approver_roles')}",
        "approval_granted": f"{data.get('gate')} approved by {data.get('actor')}",
        "task_created": f"{data.get('title')} ({data.get('owner')})",
        "task_completed": f"{data.get('task_id')} by {data.get('actor')}",
        "task_overdue": f"{data.get('task_id')} escalated to {data.get('escalated_to')}",
        "engagement_completed": f"{data.get('post_launch_cycles')} support cycles",
        "post_scheduled": f"{data.get('channel')} post due {data.get('due_at')}",
        "post_published": f"{data.get('channel')} post {data.get('platform_post_id')} is out",
        "post_failed": f"{data.get('channel')} post failed: {data.get('failure_class')}",
        "metrics_collected": f"{data.get('posts')} posts, {data.get('accounts')} accounts measured",
        "mentions_ingested": f"{data.get('mentions')} mentions: "
        + ", ".join(
            f"{count} {label}" for label, count in (data.get("sentiment") or {}).items() if count
        ),
        "conversation_opened": f"{data.get('category')} from @{data.get('author_handle')} "
        f"on {data.get('source')}: {data.get('triage_reason')}",
        "triaged": f"{data.get('category')}: {data.get('reason')}",
        "assigned": f"to {data.get('assignee_subject') or data.get('assignee_role')}",
        "first_response": _sla(data),
        "reply_failed": f"reply failed: {data.get('failure')}",
        "sla_due_soon": "first response due soon",
        "sla_breached": "first response overdue",
        "alert_raised": f"{data.get('kind')} alert {data.get('rule_name')!r} on "
        f"{evidence.get('observed', 0):.0f} mentions: {_joined(evidence, 'matched_keywords')}",
        "alert_escalated": f"{data.get('kind')} alert now with the {data.get('responsible_role')}",
        "alert_acknowledged": f"{data.get('kind')} alert acknowledged by "
        f"{data.get('acknowledged_by')}",
        "alert_resolved": f"{data.get('kind')} alert resolved by {data.get('resolved_by')}",
    }
    return lines.get(name, str(frame.cloud_event.get("subject", "")))


class Demo:
    """Plays every person of the engagement: starts it, then answers each gate and task."""

    def __init__(
        self, client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, reports_dir: Path
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._run = run
        self._reports = ReportFollower(
            client,
            tokens.headers(tokens.manager),
            tokens.headers(tokens.viewer),
            run.report,
            reports_dir,
        )

    async def handle(self, frame: Frame) -> None:
        if frame.event == MENTIONS_INGESTED:
            self._heard(frame.data)
            return
        if frame.data.get("engagement_id") != self._run.engagement_id:
            return
        if frame.event.startswith("reporting."):
            await self._reports.handle(frame.event, frame.data)
        if frame.event == CONVERSATION_OPENED:
            await self._answer(frame.data)
        elif frame.event == FIRST_RESPONSE:
            self._first_response(frame.data)
        elif frame.event == REPLY_FAILED:
            if frame.data.get("conversation_id") == self._run.answered.get("conversation_id"):
                self._run.reply_failure = str(frame.data.get("failure"))
        elif frame.event == ALERT_RAISED:
            await self._acknowledge(frame.data)
        elif frame.event == ALERT_ACKNOWLEDGED:
            self._run.alerts_acknowledged.append(frame.data)
        elif frame.event == "lifecycle.phase_started":
            self._run.phases_started.append(str(frame.data["phase"]))
        elif frame.event == "lifecycle.approval_requested":
            await self._approve(frame.data)
        elif frame.event == "lifecycle.task_created":
            await self._complete_task(frame.data)
        elif frame.event == POST_SCHEDULED:
            self._run.posts_scheduled += 1
        elif frame.event == POST_PUBLISHED:
            self._run.posts_published += 1
        elif frame.event == FINISHED:
            self._run.completed = True
            self._run.completed_after = self._run.elapsed
            await self._reports.request_overall(self._run.engagement_id)
        elif frame.event == CANCELLED:
            raise DemoError(f"the engagement was cancelled: {frame.data.get('reason')}")

    def _heard(self, data: dict[str, Any]) -> None:
        if self._run.engagement_id not in (data.get("engagement_ids") or []):
            return
        self._run.mentions += int(data.get("mentions") or 0)
        for label, count in (data.get("sentiment") or {}).items():
            if label in self._run.sentiment:
                self._run.sentiment[label] += int(count)

    async def _answer(self, data: dict[str, Any]) -> None:
        """The first conversation gets a reply from the agency's manager (realizzazione: the
        agency answers the inbox)."""
        if self._run.answered:
            return
        self._run.answered = data
        path = f"/v1/listening/conversations/{data['conversation_id']}/replies"
        headers = self._tokens.headers(self._tokens.manager)
        # 409 while listening has not heard the engagement's mode yet: a moment later it has.
        for _ in range(GATE_RETRIES):
            response = await self._client.post(path, json={"text": REPLY}, headers=headers)
            if response.status_code != 409:
                break
            await asyncio.sleep(GATE_RETRY_SECONDS)
        await _expect(response, 202, "replying to a comment")

    def _first_response(self, data: dict[str, Any]) -> None:
        if data.get("within_sla"):
            self._run.within_sla += 1
        if data.get("conversation_id") == self._run.answered.get("conversation_id"):
            self._run.first_response = data

    async def _acknowledge(self, data: dict[str, Any]) -> None:
        self._run.alerts_raised.append(data)
        response = await self._client.post(
            f"/v1/listening/alerts/{data['alert_id']}/acknowledge",
            json={"note": ACKNOWLEDGE_NOTE},
            headers=self._tokens.headers(self._tokens.manager),
        )
        # 409: someone took it already.
        if response.status_code != 409:
            await _expect(response, 200, "acknowledging an alert")

    async def _approve(self, data: dict[str, Any]) -> None:
        role, headers = self._tokens.acting_as(data["approver_roles"])
        body = {
            "gate": data["gate"],
            "decision": "approve",
            "reason": f"Approved by the demo's {role}",
        }
        path = f"/v1/engagements/{self._run.engagement_id}/approvals"
        for _ in range(GATE_RETRIES):
            response = await self._client.post(path, json=body, headers=headers)
            if response.status_code != 409:
                break
            await asyncio.sleep(GATE_RETRY_SECONDS)
        await _expect(response, 200, f"approving the {data['gate']} gate")
        self._run.approvals.append((str(data["gate"]), role))

    async def _complete_task(self, data: dict[str, Any]) -> None:
        _, headers = self._tokens.acting_as(data["assignee_roles"])
        path = f"/v1/engagements/{self._run.engagement_id}/tasks/{data['task_id']}/complete"
        note = {"note": "Done (engage demo)"}
        response = await self._client.post(path, json=note, headers=headers)
        # 409: no longer open (e.g. the phase moved on and closed it): nothing left to do.
        if response.status_code != 409:
            await _expect(response, 200, f"completing task {data['task_id']}")
            self._run.tasks_completed += 1


async def run_demo(
    settings: Settings,
    gateway_url: str,
    console: Console,
    *,
    target_seconds: float = 120.0,
    support_weeks: int = 2,
    timeout_seconds: float = 360.0,
    follow_up_seconds: float = FOLLOW_UP_SECONDS,
) -> DemoRun:
    """Run the demo against the platform at ``gateway_url``; raise ``DemoError`` when it cannot."""
    if settings.environment == "prod":
        raise DemoError("the demo plays people with development tokens: not in prod")
    run = DemoRun()
    tokens = Tokens(settings)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        await check_platform(client, gateway_url)
        run.organization_id = await create_client(client, tokens)
        tokens.for_client(run.organization_id)
        scale = time_scale_for(target_seconds, settings.lifecycle, support_weeks)
        console.print(
            f"[bold]{CLIENT['name']}[/] ({run.organization_id}): engagement on the sandbox "
            f"channel, {support_weeks} weeks of support, time scale {scale:.2e}"
        )
        publishing_seconds = (
            (settings.lifecycle.seeding_days + settings.lifecycle.launch_days)
            * SECONDS_PER_DAY
            * scale
        )
        with Live(Display(run), console=console, refresh_per_second=4):
            try:
                await asyncio.wait_for(
                    _drive(
                        client,
                        tokens,
                        run,
                        scale,
                        support_weeks,
                        publishing_seconds,
                        follow_up_seconds,
                        Path(settings.data_dir) / "demo",
                    ),
                    timeout_seconds + follow_up_seconds,
                )
            except httpx.TransportError as error:
                raise DemoError(
                    f"lost the gateway at {gateway_url} ({error.__class__.__name__}); "
                    "is `make up` still running?"
                ) from error
            except TimeoutError as error:
                raise DemoError(
                    f"the engagement did not complete within {timeout_seconds:.0f}s "
                    f"(phase {run.phase}); see the workflow {run.workflow_id or '(not started)'} "
                    "in the Temporal UI"
                ) from error
        if run.posts_planned:
            await read_top_places(client, tokens, run)
    # A terminal leaves the live view's last line open.
    console.print()
    print_outcome(console, run, settings, gateway_url)
    return run


def print_outcome(console: Console, run: DemoRun, settings: Settings, gateway_url: str) -> None:
    ui = f"http://127.0.0.1:{settings.temporal.ui_port}"
    gates = ", ".join(f"{gate} ({role})" for gate, role in run.approvals)
    posts = (
        f"{run.posts_published} of the plan's {run.posts_planned} posts published on the sandbox"
    )
    if run.posts_published < run.posts_planned:
        posts += " (the others follow at their time)"
    console.print(
        f"[bold green]Engagement completed[/] in {run.completed_after:.0f}s: "
        f"{len(run.events)} events, "
        f"gates approved: {gates}; {run.tasks_completed} tasks completed; {posts}.\n"
        f"  listening   {heard(run)}\n"
        f"  inbox       {inbox(run)}\n"
        f"  alerts      {alerts(run)}\n"
        f"  report      {described(run.report, gateway_url)}\n"
        f"  engagement  {run.engagement_id}\n"
        f"  workflow    {run.workflow_id}\n"
        f"  Temporal UI {ui}/namespaces/{settings.temporal.namespace}/workflows/{run.workflow_id}\n"
        f"  gateway     {gateway_url}/v1/engagements/{run.engagement_id}\n"
        "              (TOKEN=$(.venv/bin/engage token --role manager); "
        'curl -H "Authorization: Bearer $TOKEN" ...)',
        highlight=False,
    )


def heard(run: DemoRun) -> str:
    """What listening heard: the sentiment share and the top places."""
    if not run.mentions:
        return "no mentions yet (the sandbox's users comment as the posts age)"
    labelled = {label: count for label, count in run.sentiment.items() if count}
    share = ", ".join(
        f"{count * 100 / run.mentions:.0f}% {label}" for label, count in labelled.items()
    )
    places = ", ".join(f"{place['name']} ({place['count']})" for place in run.top_places)
    return f"{run.mentions} mentions: {share}; top places: {places or 'none named'}"


def inbox(run: DemoRun) -> str:
    """The conversation the demo answered, and how fast."""
    if not run.watching:
        return "not watched (no listening source near midnight)"
    if not run.answered:
        return "no conversation opened yet (comments come as the posts age)"
    author = f"@{run.answered.get('author_handle')}"
    if run.reply_failure:
        return f"the reply to {author} failed: {run.reply_failure}"
    if not run.first_response:
        return f"{author} answered; the reply's first response had not arrived yet"
    sla = _sla(run.first_response)
    return f"{run.answered.get('source')} comment by {author} {sla}"


def alerts(run: DemoRun) -> str:
    """The alerts the rule raised and who acknowledged them."""
    if not run.watching:
        return "not watched (no listening source near midnight)"
    if not run.alerts_raised:
        return (
            f"no alert raised: the rule {ALERT_RULE['name']!r} saw no complaint among the "
            f"{run.mentions} mentions heard (about one in six sandbox users complains)"
        )
    if not run.alerts_acknowledged:
        return f"{len(run.alerts_raised)} raised; the acknowledgement had not arrived yet"
    return "; ".join(
        f"alert {alert.get('kind')} acknowledged by manager ({alert.get('acknowledged_by')})"
        for alert in run.alerts_acknowledged
    )


async def _drive(
    client: httpx.AsyncClient,
    tokens: Tokens,
    run: DemoRun,
    scale: float,
    support_weeks: int,
    publishing_seconds: float,
    follow_up_seconds: float,
    reports_dir: Path,
) -> None:
    """Open the stream, start the engagement and prepare its plan, then answer what its events
    ask until it ends, and up to ``follow_up_seconds`` more for a first response and an
    alert."""
    demo = Demo(client, tokens, run, reports_dir)
    # The client's viewer watches: the stream shows only what that role may see.
    viewer = tokens.headers(tokens.viewer)
    last_id: str | None = None
    follow_up = asyncio.timeout(None)
    try:
        async with follow_up:
            while True:
                try:
                    async with event_stream(
                        client, run.organization_id, viewer, last_id
                    ) as response:
                        # Started once the stream is open, so not even its first event is missed.
                        if not run.engagement_id:
                            await start_engagement(client, tokens, run, scale, support_weeks)
                            # Ready before setup looks for it: the brief gate waits for the demo.
                            await prepare_plan(client, tokens, run, publishing_seconds)
                        async for frame in sse_frames(response):
                            last_id = frame.id
                            frame.seen_at = run.elapsed
                            run.events.append(frame)
                            await demo.handle(frame)
                            if run.completed and not run.awaited():
                                return
                            if run.completed and run.follow_up_until is None:
                                run.follow_up_until = run.elapsed + follow_up_seconds
                                follow_up.reschedule(
                                    asyncio.get_running_loop().time() + follow_up_seconds
                                )
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    await asyncio.sleep(RECONNECT_SECONDS)
    except TimeoutError:
        # The wait after the engagement ran out: the summary says what did not come.
        if not follow_up.expired():
            raise
