"""The gateway calls that set the engagement up, as its people would make them: the client and
its assets, the engagement and its objectives, the sandbox account connected through OAuth,
the inbox's hours and the alert rule, the listening source; and the top places read at the end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from engage.demo.reports import ObjectivesRefused, approve_objectives, objectives_body
from engage.demo.run import DemoError, DemoRun, Tokens
from engage.demo.script import (
    ALERT_RULE,
    ASSETS,
    CLIENT,
    INBOX_SETTINGS,
    LISTENING_POLL_SECONDS,
    REDIRECT_URI,
    TOP_PLACES,
)


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
