"""``engage demo`` followed in the console, in a real headless Chromium: once the demo has run
its engagement through every phase on the test platform, the console shows the sentiment chart
with points, the Map Track with the places mentioned, the reports with a PDF that downloads, the
calendar with the published posts and the timeline at its last phase. Each section is saved at
1280 px and at 390 px.

The test platform polls no listening source by itself, so the people who comment are played
here: while the demo runs, a few mentions of its engagement (some days old, naming places
around Gubbio) are published for ingestion, as the sandbox source would. The demo is used only
through its public entry point, ``engage.demo.run_demo``.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from rich.console import Console
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.demo import run_demo
from services.listening.contracts import RawAuthor, RawMention, SourceKind
from services.listening.intake import publish_raw_mentions
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.console_browser import (
    chromium,
    conversation_intake,
    in_browser,
    open_engagement,
    screenshots,
    sign_in,
    wait_for,
    wait_for_text,
)

# What the demo's audience writes: (days ago, where they write from, text).
VOICES = (
    (4, "Gubbio", "Weekend stupendo a Gubbio, colazione in terrazza meravigliosa!"),
    (3, "Perugia", "Da Perugia al Sentiero in mezz'ora: posto bellissimo, consigliato."),
    (2, "Assisi", "Servizio molto lento e prezzi troppo alti, che peccato."),
    (1, "Gubbio", "Il sentiero dei Cappuccini al tramonto è magico, grazie!"),
    (0, "Firenze", "Qualcuno sa se accettano cani? Vorremmo venire da Firenze."),
)
# The demo's timed steps (seeding, launch, support): short, yet long enough on a loaded machine
# for its plan's posts to be scheduled before their slots pass.
DEMO_SECONDS = 15
DEMO_TIMEOUT_SECONDS = 120
# After the engagement ends the demo waits this long for a first response and an alert; no
# alert round runs here, so it waits it all, and the reports come meanwhile.
FOLLOW_UP_SECONDS = 20
SECTIONS = {
    "timeline": "#phases-title + .timeline",
    "conversations": "#conversations",
    "insights": "#insights",
    "calendar": "#calendar",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


async def the_demos_engagement(platform: Platform, known: set[str]) -> dict[str, Any]:
    """The engagement the demo starts: the newest one that was not there before."""
    found: dict[str, Any] = {}

    async def started() -> bool:
        listed = await platform.gateway.get(
            "/v1/engagements", params={"limit": "5"}, headers=platform.auth(Role.MANAGER)
        )
        fresh = [e for e in listed.json() if e["id"] not in known]
        if fresh:
            found.update(fresh[0])
        return bool(fresh)

    await wait_until(started, timeout=60, interval=0.5)
    return found


async def the_audience_writes(
    platform: Platform, nats_client: NatsClient, engagement: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    await publish_raw_mentions(
        nats_client.jetstream(),
        platform.settings,
        [
            RawMention(
                organization_id=uuid.UUID(engagement["organization_id"]),
                engagement_id=uuid.UUID(engagement["id"]),
                source=SourceKind.SANDBOX,
                external_id=f"console-demo-{uuid.uuid4()}",
                author=RawAuthor(handle=f"ospite{n}", profile_location=place),
                text=text,
                published_at=now - timedelta(days=days_ago, minutes=n),
                language="it",
            )
            for n, (days_ago, place, text) in enumerate(VOICES)
        ],
    )


async def test_the_demo_is_followed_in_the_console_from_start_to_end(
    platform: Platform,
    browser: WebDriver,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    manager = platform.auth(Role.MANAGER)
    before = await platform.gateway.get("/v1/engagements", params={"limit": "200"}, headers=manager)
    known = {e["id"] for e in before.json()}
    base = str(platform.gateway.base_url).rstrip("/")
    async with conversation_intake(platform, sessions, nats_client):
        demo = asyncio.create_task(
            run_demo(
                platform.settings,
                base,
                Console(file=io.StringIO(), width=120),
                target_seconds=DEMO_SECONDS,
                timeout_seconds=DEMO_TIMEOUT_SECONDS,
                follow_up_seconds=FOLLOW_UP_SECONDS,
            )
        )
        try:
            engagement = await the_demos_engagement(platform, known)
            await the_audience_writes(platform, nats_client, engagement)
            run = await demo
        finally:
            demo.cancel()
    assert run.completed
    engagement_id = run.engagement_id
    assert engagement_id == engagement["id"]

    reports: list[dict[str, Any]] = []

    async def a_report_with_its_pdf() -> bool:
        listed = await platform.gateway.get(
            f"/v1/engagements/{engagement_id}/reports", headers=manager
        )
        reports[:] = [r for r in listed.json() if any(d["format"] == "pdf" for d in r["documents"])]
        return bool(reports)

    statuses: list[str] = []

    async def every_post_out() -> bool:
        listed = await platform.gateway.get(
            "/v1/publications", params={"engagement_id": engagement_id}, headers=manager
        )
        statuses[:] = [p["status"] for p in listed.json()]
        return statuses == ["published"] * run.posts_planned

    await wait_until(a_report_with_its_pdf, timeout=90, interval=0.5)
    try:
        await wait_until(every_post_out, timeout=60, interval=0.5)
    except TimeoutError:
        read = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
        publishing = [
            (d["phase"], d["reference"])
            for d in read.json()["state"]["deliverables"]
            if d["name"] == "plan_publishing"
        ]
        raise AssertionError(
            f"{run.posts_planned} posts planned, {run.posts_scheduled} scheduled; their "
            f"publications: {statuses}; the engagement's plan publishing: {publishing}"
        ) from None

    def the_console_shows_it() -> dict[str, Any]:
        sign_in(browser, base, Role.MANAGER)
        open_engagement(browser, engagement_id)
        wait_for_text(browser, "#engagement-status", "completed")
        progress = [
            e.get_attribute("data-progress")
            for e in browser.find_elements(By.CSS_SELECTOR, ".timeline > li.phase")
        ]
        # The sentiment over time: a point per day with mentions.
        wait_for(browser, "#insights svg.chart circle")
        points = len(browser.find_elements(By.CSS_SELECTOR, "#insights svg.chart circle"))
        # The Map Track: the picture, and the places it colours named under it.
        wait_for(browser, "#insights img.map")
        places = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#insights ol.places li")]
        links = [
            e.get_attribute("href")
            for e in browser.find_elements(By.CSS_SELECTOR, "#insights ul.reports a[data-download]")
        ]
        wait_for(browser, "#calendar .slot")
        published = browser.find_elements(
            By.CSS_SELECTOR, "#calendar .slot[data-post-status='published']"
        )
        screenshots(browser, "10-demo-engagement")
        for name, css in SECTIONS.items():
            screenshots(browser, f"11-demo-{name}", css)
        return {
            "progress": progress,
            "points": points,
            "places": places,
            "links": links,
            "published": len(published),
        }

    shown = await in_browser(the_console_shows_it)
    assert shown["progress"] == ["done"] * 6, shown
    assert shown["points"] >= 2, shown
    assert any("Perugia" in place for place in shown["places"]), shown
    assert shown["published"] == run.posts_planned, shown
    assert shown["links"], shown
    async with httpx.AsyncClient(timeout=30) as client:
        for link in shown["links"]:
            pdf = await client.get(link, headers=manager)
            assert pdf.status_code == 200, pdf.text
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.content.startswith(b"%PDF")
