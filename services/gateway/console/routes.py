"""``/console``: HTML pages for project managers, outside the JSON API (not in the OpenAPI).

Pages are shells rendered without a token; their sections are fragments the browser loads
(htmx) with the caller's bearer token, each composed from the gateway's own ``/v1`` routes
called with that token (``gateway_calls``). Writes (approvals, alert acknowledgements) and the
live event stream go from the browser straight to the ``/v1`` endpoints (``static/console.js``).
So every rule is the services' own, as for any frontend. Signing in is ``sign_in``; how a page
is answered (templates, language, security headers) is ``rendering``.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.console import sign_in
from services.gateway.console.charts import calendar_weeks, sentiment_chart
from services.gateway.console.gateway_calls import Answer, GatewayCalls
from services.gateway.console.i18n import Language, language_of
from services.gateway.console.rendering import CONSOLE_PREFIX, problem, render
from shared.domain import Phase
from workflows.engagement.phases import PHASES, STRATEGY_DELIVERABLES

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = f"{CONSOLE_PREFIX}/static"
# Engagements per page of the list (each row reads its alerts and SLA report too).
ENGAGEMENTS_PER_PAGE = 20
MAP_WIDTH = 640
# The places named under the map, most mentioned first (the map's words, for every reader).
TOP_PLACES = 5
# The inbox's conversations shown, each with its thread; the newest messages of each thread.
CONVERSATIONS_SHOWN = 20
MESSAGES_SHOWN = 6
# The engagement's posts read to mark the calendar's slots (the list's largest page).
PUBLICATIONS_READ = 200
# Conversations that may still want an answer (closed and ignored ones refuse replies).
ANSWERABLE_STATES = ("open", "assigned", "answered")
KIND_PHASE = {
    kind: phase for phase, kinds in STRATEGY_DELIVERABLES.items() for kind in kinds.values()
}

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
router.include_router(sign_in.router)


# Pages ---------------------------------------------------------------------------------------


@router.get("", response_class=RedirectResponse)
async def console_home() -> RedirectResponse:
    return RedirectResponse(f"{CONSOLE_PREFIX}/engagements", status_code=303)


@router.get("/engagements", response_class=HTMLResponse)
async def engagements_page(request: Request) -> Response:
    return render(request, "engagements.html")


@router.get("/engagements/{engagement_id}", response_class=HTMLResponse)
async def engagement_page(request: Request, engagement_id: uuid.UUID) -> Response:
    return render(request, "engagement.html", engagement_id=engagement_id)


# Fragments -----------------------------------------------------------------------------------


@dataclass
class EngagementRow:
    engagement: dict[str, Any]
    organization: str
    open_alerts: int | None
    sla_breaches: int | None


@router.get("/fragments/engagements", response_class=HTMLResponse)
async def engagements_fragment(
    request: Request, cursor: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    calls = GatewayCalls(request)
    params = {"limit": str(ENGAGEMENTS_PER_PAGE)}
    if cursor:
        params["cursor"] = cursor
    listed, organizations = await calls.all(
        [calls.get("/v1/engagements", params), calls.get("/v1/organizations", {"limit": "200"})]
    )
    if not listed.ok:
        return problem(request, listed)
    names = {org["id"]: org["name"] for org in organizations.body} if organizations.ok else {}
    engagements: list[dict[str, Any]] = listed.body

    async def row(engagement: dict[str, Any]) -> EngagementRow:
        listening = f"/v1/listening/engagements/{engagement['id']}"
        alerts, sla = await calls.all(
            [
                calls.get(f"{listening}/alerts", {"status": "open", "limit": "200"}),
                calls.get(f"{listening}/conversations/sla"),
            ]
        )
        return EngagementRow(
            engagement,
            names.get(engagement["organization_id"], engagement["organization_id"]),
            len(alerts.body["alerts"]) if alerts.ok else None,
            int(sla.body["breached"]) if sla.ok else None,
        )

    rows = await calls.all([row(engagement) for engagement in engagements])
    return render(request, "fragments/engagements.html", rows=rows, next_cursor=listed.cursor)


@dataclass
class PhaseView:
    phase: Phase
    progress: str
    recorded: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    deliverables: list[dict[str, Any]] = field(default_factory=list)


def _phases(state: dict[str, Any] | None, deliverables: list[dict[str, Any]]) -> list[PhaseView]:
    current = PHASES.index(Phase(state["phase"])) if state else -1
    finished = bool(state) and state is not None and state["status"] == "completed"
    views = []
    for index, phase in enumerate(PHASES):
        if finished or index < current:
            progress = "done"
        elif index == current:
            progress = "current"
        else:
            progress = "upcoming"
        view = PhaseView(phase, progress)
        if state:
            view.recorded = [d for d in state["deliverables"] if d["phase"] == phase]
            view.approvals = [a for a in state["pending_approvals"] if a["phase"] == phase]
            view.decisions = [d for d in state["decisions"] if d["phase"] == phase]
        view.deliverables = [
            d for d in deliverables if KIND_PHASE.get(d["kind"], Phase.ANALYSIS) == phase
        ]
        views.append(view)
    return views


@router.get("/fragments/engagements/{engagement_id}/overview", response_class=HTMLResponse)
async def engagement_overview(request: Request, engagement_id: uuid.UUID) -> Response:
    calls = GatewayCalls(request)
    base = f"/v1/engagements/{engagement_id}"
    engagement, deliverables, tasks, alerts, items, sla = await calls.all(
        [
            calls.get(base),
            calls.get(f"{base}/deliverables"),
            calls.get(f"{base}/tasks", {"limit": "200"}),
            calls.get(
                f"/v1/listening/engagements/{engagement_id}/alerts",
                {"status": "open", "limit": "50"},
            ),
            calls.get(
                "/v1/content-items",
                {"engagement_id": str(engagement_id), "status": "in_review", "limit": "50"},
            ),
            calls.get(f"/v1/listening/engagements/{engagement_id}/conversations/sla"),
        ]
    )
    if not engagement.ok:
        return problem(request, engagement)
    organization = await calls.get(f"/v1/organizations/{engagement.body['organization_id']}")
    state = engagement.body["state"]
    return render(
        request,
        "fragments/overview.html",
        engagement=engagement.body,
        organization=organization.body["name"] if organization.ok else None,
        zone=_zone_of(organization),
        state=state,
        phases=_phases(state, deliverables.body if deliverables.ok else []),
        deliverables=deliverables,
        tasks=tasks,
        alerts=alerts,
        items=items,
        sla=sla,
    )


@dataclass
class ConversationView:
    conversation: dict[str, Any]
    messages: list[dict[str, Any]]
    # The thread's read, when it failed (the conversation is still listed).
    problem: Answer | None = None


@router.get("/fragments/engagements/{engagement_id}/conversations", response_class=HTMLResponse)
async def engagement_conversations(request: Request, engagement_id: uuid.UUID) -> Response:
    """The inbox's conversations still open to an answer, each with its latest messages and a
    reply form posting to ``/v1/listening/conversations/{id}/replies``."""
    calls = GatewayCalls(request)
    inbox = f"/v1/listening/engagements/{engagement_id}/conversations"
    listed = await calls.all(
        [
            calls.get(inbox, {"state": state, "limit": str(CONVERSATIONS_SHOWN)})
            for state in ANSWERABLE_STATES
        ]
    )
    refused = next((answer for answer in listed if not answer.ok), None)
    if refused is not None:
        return problem(request, refused)
    conversations = sorted(
        (conversation for answer in listed for conversation in answer.body),
        key=lambda conversation: str(conversation["opened_at"]),
        reverse=True,
    )[:CONVERSATIONS_SHOWN]
    threads = await calls.all(
        [calls.get(f"/v1/listening/conversations/{c['id']}") for c in conversations]
    )
    views = [
        ConversationView(
            conversation,
            thread.body["messages"][-MESSAGES_SHOWN:] if thread.ok else [],
            None if thread.ok else thread,
        )
        for conversation, thread in zip(conversations, threads, strict=True)
    ]
    return render(
        request,
        "fragments/conversations.html",
        conversations=views,
        zone=await _client_zone(calls, engagement_id),
    )


def _zone_of(organization: Answer) -> str:
    """The client's time zone, in which the console shows every time (UTC when unreadable)."""
    return str(organization.body.get("timezone", "UTC")) if organization.ok else "UTC"


async def _client_zone(calls: GatewayCalls, engagement_id: uuid.UUID) -> str:
    engagement = await calls.get(f"/v1/engagements/{engagement_id}")
    if not engagement.ok:
        return "UTC"
    return _zone_of(await calls.get(f"/v1/organizations/{engagement.body['organization_id']}"))


@router.get("/fragments/engagements/{engagement_id}/insights", response_class=HTMLResponse)
async def engagement_insights(
    request: Request, engagement_id: uuid.UUID, lang: Language | None = None
) -> Response:
    calls = GatewayCalls(request)
    listening = f"/v1/listening/engagements/{engagement_id}"
    language = lang or language_of(request)
    volume, picture, places, reports = await calls.all(
        [
            calls.get(f"{listening}/volume", {"interval": "day"}),
            calls.get(
                f"{listening}/map.png",
                {"level": "province", "width": str(MAP_WIDTH), "lang": language},
            ),
            calls.get(f"{listening}/top-places", {"level": "province", "limit": str(TOP_PLACES)}),
            calls.get(f"/v1/engagements/{engagement_id}/reports", {"limit": "10"}),
        ]
    )
    chart = sentiment_chart(volume.body["buckets"]) if volume.ok else None
    map_uri = (
        "data:image/png;base64," + base64.b64encode(picture.content).decode()
        if picture.ok and picture.content
        else None
    )
    return render(
        request,
        "fragments/insights.html",
        volume=volume,
        chart=chart,
        picture=picture,
        map_uri=map_uri,
        places=places.body if places.ok else [],
        reports=reports,
    )


@router.get("/fragments/engagements/{engagement_id}/calendar", response_class=HTMLResponse)
async def engagement_calendar(
    request: Request,
    engagement_id: uuid.UUID,
    view: Annotated[str, Query(pattern="^(monthly|weekly)$")] = "monthly",
    period: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    calls = GatewayCalls(request)
    plan, publications = await calls.all(
        [
            calls.get(f"/v1/engagements/{engagement_id}/plan", {"view": view}),
            calls.get(
                "/v1/publications",
                {"engagement_id": str(engagement_id), "limit": str(PUBLICATIONS_READ)},
            ),
        ]
    )
    if not plan.ok and plan.status != 404:
        return problem(request, plan)
    # Each slot's post, once the engagement scheduled it: its status, and its link when out.
    posts = {
        str(publication["slot_id"]): publication
        for publication in (publications.body if publications.ok else [])
        if publication["slot_id"]
    }
    periods: list[dict[str, Any]] = plan.body["periods"] if plan.ok else []
    shown = min(period, len(periods) - 1) if periods else 0
    current = periods[shown] if periods else None
    return render(
        request,
        "fragments/calendar.html",
        engagement_id=engagement_id,
        plan=plan,
        view=view,
        index=shown,
        count=len(periods),
        current=current,
        weeks=calendar_weeks(current["period"], current["slots"]) if current else [],
        posts=posts,
    )
