"""``/v1/stream`` and ``/v1/engagements/{id}/stream``: live events as Server-Sent Events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.clients import Services
from services.gateway.deps import EngagementDep, ServicesDep
from services.gateway.streams import (
    EventFeed,
    EventFilter,
    EventStreamResponse,
    OpenStreams,
    about_engagement,
    filter_subjects,
    visible_to,
)
from services.strategy.schemas import OrganizationOut
from shared.app import Runtime, SettingsDep
from shared.auth import CurrentPrincipal, Principal
from shared.errors import PROBLEM_MEDIA_TYPE, Problem
from shared.events.envelope import CloudEvent
from shared.events.subjects import organization_filter

router = APIRouter(tags=["live events"])

# JetStream sequences are unsigned 64-bit; anything above cannot name an event.
_MAX_SEQUENCE = 2**63 - 1
CLOUD_EVENT_SCHEMA = "CloudEvent"

_STREAM_DESCRIPTION = (
    "`text/event-stream`. Each event: `id:` (the JetStream stream sequence), `event:` (the "
    "CloudEvent name, e.g. `lifecycle.phase_started`) and `data:` (the CloudEvent JSON); a "
    "`: keep-alive` comment every 15 s of silence. Events about the stream itself are named "
    "`stream.*`, carry a CloudEvent too and no `id:` (so `Last-Event-ID` stays the last event "
    "received): `stream.replay_truncated` first, when the resume point was further back than "
    "the replay cap (`data.data.resumed_after`: where it resumed); `stream.interrupted` (NATS "
    "stopped answering: reconnect after `retry:` with `Last-Event-ID`) and "
    "`stream.token_expired` (reconnect with a new token and `Last-Event-ID`), after which the "
    "stream ends."
)
_SSE_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "description": "JetStream stream sequence"},
        "event": {"type": "string", "description": "`<domain>.<event>`, or `stream.*`"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": f"#/components/schemas/{CLOUD_EVENT_SCHEMA}"},
        },
        "retry": {"type": "integer", "minimum": 0},
    },
}
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": _STREAM_DESCRIPTION,
        "content": {"text/event-stream": {"itemSchema": _SSE_ITEM_SCHEMA}},
    },
    429: {
        "model": Problem,
        "description": "Too many open streams for this caller; see Retry-After",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


def register_stream_schemas(app: FastAPI) -> None:
    """Add the CloudEvent schema the stream responses refer to to the app's components."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas[CLOUD_EVENT_SCHEMA] = CloudEvent.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _resume_point(
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=_MAX_SEQUENCE,
            description="Resume after this event (sent by EventSource when it reconnects)",
        ),
    ] = None,
    since: Annotated[
        int | None,
        Query(
            ge=0,
            le=_MAX_SEQUENCE,
            description=(
                "Events after this stream sequence (0: from the start of the stream, at most "
                "the replay cap back)"
            ),
        ),
    ] = None,
) -> int | None:
    """The last sequence the client has; ``None``: only events published from now on."""
    # The header wins: a reconnecting EventSource repeats the URL with its original ``since``.
    return last_event_id if last_event_id is not None else since


ResumePoint = Annotated[int | None, Depends(_resume_point)]

_bearer = HTTPBearer(auto_error=False)


async def _token_expiry(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> datetime | None:
    """When the caller's token expires: the stream ends then.

    Read without verifying: ``CurrentPrincipal`` has verified this very token (``exp`` is a
    required claim) before the stream opens."""
    if credentials is None:
        return None
    claims = jwt.decode(credentials.credentials, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


TokenExpiry = Annotated[datetime | None, Depends(_token_expiry)]


async def _open_streams(request: Request, settings: SettingsDep) -> OpenStreams:
    state = request.app.state
    if not hasattr(state, "open_streams"):
        state.open_streams = OpenStreams(settings.gateway.max_streams_per_principal)
    streams: OpenStreams = state.open_streams
    return streams


OpenStreamsDep = Annotated[OpenStreams, Depends(_open_streams)]


async def _stream(
    runtime: Runtime,
    services: Services,
    principal: Principal,
    open_streams: OpenStreamsDep,
    expires_at: datetime | None,
    after_sequence: int | None,
    accepts: EventFilter,
    subjects: list[str],
    description: str,
) -> EventStreamResponse:
    release = open_streams.claim(principal.subject)
    try:
        settings = runtime.settings
        feed = await EventFeed.open(
            runtime.js,
            settings.events,
            after_sequence=after_sequence,
            accepts=accepts,
            subjects=subjects,
            description=f"gateway SSE: {description}",
            interruption=runtime.nats_supervisor.interruption(),
            expires_at=expires_at,
            max_replay_events=settings.gateway.max_replay_events,
            on_event=services.reads.clear,
        )
    except BaseException:
        release()
        raise
    return EventStreamResponse(feed, on_close=release)


@router.get(
    "/stream",
    response_class=Response,
    responses=_STREAM_RESPONSES,
    summary="Live events of the organisations the caller may see (any role)",
)
async def stream_organizations(
    request: Request,
    principal: CurrentPrincipal,
    services: ServicesDep,
    runtime: Runtime,
    resume: ResumePoint,
    open_streams: OpenStreamsDep,
    expires_at: TokenExpiry,
    organization_id: uuid.UUID | None = None,
) -> EventStreamResponse:
    if organization_id is not None:
        # 404 for an unknown organisation, or one the caller may not see.
        await services.strategy.call(
            request, "GET", f"/organizations/{organization_id}", OrganizationOut
        )
    prefix = runtime.settings.events.subject_prefix
    return await _stream(
        runtime,
        services,
        principal,
        open_streams,
        expires_at,
        resume,
        visible_to(principal.scope, organization_id),
        filter_subjects(prefix, principal.scope, organization_id),
        f"organization {organization_id or 'any visible'} for {principal.subject}",
    )


@router.get(
    "/engagements/{engagement_id}/stream",
    response_class=Response,
    responses=_STREAM_RESPONSES,
    summary="Live events of one engagement (any role, own organisations)",
)
async def stream_engagement(
    engagement: EngagementDep,
    principal: CurrentPrincipal,
    services: ServicesDep,
    runtime: Runtime,
    resume: ResumePoint,
    open_streams: OpenStreamsDep,
    expires_at: TokenExpiry,
) -> EventStreamResponse:
    prefix = runtime.settings.events.subject_prefix
    return await _stream(
        runtime,
        services,
        principal,
        open_streams,
        expires_at,
        resume,
        about_engagement(engagement.id, engagement.organization_id),
        [organization_filter(prefix, engagement.organization_id)],
        f"engagement {engagement.id} for {principal.subject}",
    )
