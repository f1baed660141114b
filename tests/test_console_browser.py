"""The project manager's console in a real headless Chromium, against the running test platform.

A person signs in, opens an engagement, watches a phase change arrive without reloading the page,
approves a deliverable, and, signed in as a client viewer, sees the 403's detail when trying to.
A manager answers a conversation of the inbox, and a client viewer sees why it may not.
Each page is saved at 1280 px and at 390 px (a phone) in ``ENGAGE_SCREENSHOTS`` (default
``.engage/screenshots/console``), printed at the end of the run. The browser and its helpers:
``tests/console_browser.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nats.aio.client import Client as NatsClient
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform
from tests.console_browser import (
    WAIT_SECONDS,
    chromium,
    click,
    conversation_intake,
    in_browser,
    open_engagement,
    screenshots,
    sign_in,
    type_into,
    wait_for,
    wait_for_text,
)
from tests.engagement_helpers import started_engagement
from tests.test_conversations import opened_conversation
from tests.test_lifecycle_api import approve as approve_gate
from tests.test_strategy_deliverables import analysis_body, save
from tests.test_thin_thread import create_org


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


async def item_in_review(
    platform: Platform, organization_id: str, engagement_id: str
) -> dict[str, Any]:
    """A post with a variant for the sandbox network, submitted for review."""
    editor = platform.auth(Role.EDITOR)
    created = await platform.gateway.post(
        "/v1/content-items",
        json={
            "organization_id": organization_id,
            "engagement_id": engagement_id,
            "kind": "text",
            "title": "Festa della vendemmia",
            "body": "Sabato si vendemmia insieme! #vendemmia",
            "variants": [{"channel": "sandbox"}],
        },
        headers=editor,
    )
    assert created.status_code == 201, created.text
    item: dict[str, Any] = created.json()
    submitted = await platform.gateway.post(
        f"/v1/content-items/{item['id']}/submit", json={}, headers=editor
    )
    assert submitted.status_code == 200, submitted.text
    return item


async def test_a_manager_follows_an_engagement_live_and_approves_a_deliverable(
    platform: Platform, browser: WebDriver
) -> None:
    base = str(platform.gateway.base_url).rstrip("/")
    organization_id = await create_org(platform, "Agriturismo Il Sentiero")
    engagement = await started_engagement(platform, organization_id)
    engagement_id = engagement["id"]
    saved = await save(platform, engagement, "analysis", analysis_body())
    assert saved.status_code == 201, saved.text
    item = await item_in_review(platform, organization_id, engagement_id)

    def sign_in_and_open() -> None:
        browser.get(f"{base}/console/sign-in")
        wait_for(browser, "#dev-sign-in")
        screenshots(browser, "1-sign-in")
        sign_in(browser, base, Role.MANAGER)
        row = wait_for(browser, f"tr[data-engagement='{engagement_id}']")
        assert "Agriturismo Il Sentiero" in row.text
        assert "brief" in row.text  # the gate waiting for the client
        screenshots(browser, "2-engagements")
        open_engagement(browser, engagement_id)
        current = browser.find_element(By.CSS_SELECTOR, ".phase[aria-current='step']")
        assert current.get_attribute("id") == "phase-analysis"
        # A mark that a reload would wipe out.
        browser.execute_script("window.consoleNotReloaded = true")

    await in_browser(sign_in_and_open)

    # The client approves the brief elsewhere: design starts, and the open page shows it.
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    await approve_gate(platform, engagement, "brief", client)

    def phase_change_arrives_live() -> None:
        started = wait_for(browser, "#live-events li[data-event='lifecycle.phase_started'] time")
        # Shown in the client's zone (the organisation's Europe/Rome), as the rendered times are.
        instant = datetime.fromisoformat(started.get_attribute("datetime").replace("Z", "+00:00"))
        assert started.text == instant.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M:%S")
        wait_for(browser, "#phase-design[data-progress='current']")
        assert browser.find_element(By.ID, "phase-analysis").get_attribute("data-progress") == (
            "done"
        )
        assert browser.execute_script("return window.consoleNotReloaded") is True
        screenshots(browser, "3-engagement-design")

    await in_browser(phase_change_arrives_live)

    def approve_the_analysis() -> None:
        form = "#phase-analysis .deliverable[data-kind='analysis'] form.action"
        click(browser, f"{form} button")
        wait_for_text(browser, ".notice-ok", "analysis")
        wait_for_text(
            browser, "#phase-analysis .deliverable[data-kind='analysis'] [data-status]", "approved"
        )
        wait_for(browser, "#live-events li[data-event='strategy.deliverable_approved']")
        assert browser.execute_script("return window.consoleNotReloaded") is True
        screenshots(browser, "4-deliverable-approved")

    await in_browser(approve_the_analysis)

    def preview_and_approve_the_post() -> None:
        card = f"li.item[data-item='{item['id']}']"
        variant = f"{card} li.variant[data-channel='sandbox']"
        # Until a preview is open, a live refresh may replace the card: try again then.
        for _ in range(3):
            try:
                if not wait_for(browser, f"{card} details").get_attribute("open"):
                    click(browser, f"{card} details summary")
                click(browser, f"{variant} button[data-preview]")
                frame = wait_for(browser, f"{variant} iframe.preview", timeout=5)
                break
            except (StaleElementReferenceException, TimeoutException):
                continue
        else:
            raise AssertionError("the variant's preview never opened")
        assert frame.get_attribute("sandbox") == ""
        # The frame shows the content service's page, as the feed would show the post.
        browser.switch_to.frame(frame)
        wait_for_text(browser, "body", "Sabato si vendemmia")
        browser.switch_to.default_content()
        screenshots(browser, "5-content-preview")
        click(browser, f"{card} form.action button")
        WebDriverWait(browser, WAIT_SECONDS).until(
            seen.invisibility_of_element_located((By.CSS_SELECTOR, card))
        )

    await in_browser(preview_and_approve_the_post)
    reviewed = await platform.gateway.get(
        f"/v1/content-items/{item['id']}", headers=platform.auth(Role.MANAGER)
    )
    assert reviewed.json()["status"] == "approved"

    read = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}/deliverables/analysis",
        headers=platform.auth(Role.MANAGER),
    )
    assert read.json()["status"] == "approved"
    assert read.json()["approved_by"] == "console-manager"


async def test_a_client_viewer_sees_why_it_may_not_approve(
    platform: Platform, browser: WebDriver
) -> None:
    base = str(platform.gateway.base_url).rstrip("/")
    organization_id = await create_org(platform, "Comune di Gubbio")
    engagement = await started_engagement(platform, organization_id)
    engagement_id = engagement["id"]
    saved = await save(platform, engagement, "analysis", analysis_body())
    assert saved.status_code == 201, saved.text

    def refused_with_its_detail() -> None:
        sign_in(browser, base, Role.CLIENT_VIEWER, organization_id)
        open_engagement(browser, engagement_id)
        form = "#phase-analysis .deliverable[data-kind='analysis'] form.action"
        click(browser, f"{form} button")
        wait_for_text(browser, f"{form} .problem", "403")
        shown = browser.find_element(By.CSS_SELECTOR, f"{form} .problem").text
        assert "roles" in shown, shown  # the problem's detail: which roles may
        wait_for_text(browser, ".notice-problem", "403")
        status = browser.find_element(
            By.CSS_SELECTOR, "#phase-analysis .deliverable[data-kind='analysis'] [data-status]"
        )
        assert status.text == "draft"
        screenshots(browser, "6-viewer-refused")
        # The language switch: the same page in Italian.
        browser.find_element(By.CSS_SELECTOR, ".languages a[lang='it']").click()
        wait_for(browser, "html[lang='it']")
        wait_for_text(browser, "#phase-analysis h3", "Analisi")
        screenshots(browser, "7-engagement-it")

    await in_browser(refused_with_its_detail)

    read = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}/deliverables/analysis",
        headers=platform.auth(Role.MANAGER),
    )
    assert read.json()["status"] == "draft"


async def test_console_pages_stay_out_of_the_api_and_issue_only_development_tokens(
    platform: Platform,
) -> None:
    schema = (await platform.gateway.get("/openapi.json")).json()
    assert [path for path in schema["paths"] if path.startswith("/console")] == []

    refused = await platform.gateway.post(
        "/console/sign-in", json={"subject": "someone", "role": "client_viewer"}
    )
    assert refused.status_code == 422, refused.text
    assert [error["field"] for error in refused.json()["errors"]] == ["body.organization_id"]

    issued = await platform.gateway.post(
        "/console/sign-in", json={"subject": "pm", "role": "manager"}
    )
    assert issued.status_code == 200, issued.text
    listed = await platform.gateway.get(
        "/v1/engagements", headers={"Authorization": f"Bearer {issued.json()['token']}"}
    )
    assert listed.status_code == 200, listed.text

    page = await platform.gateway.get(
        "/console/engagements", headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    italian = await platform.gateway.get("/console/engagements?lang=it")
    assert '<html lang="it">' in italian.text
    assert "engage_console_lang=it" in italian.headers["set-cookie"]

    # A fragment without a token is the API's own 401, shown where the section would be.
    fragment = await platform.gateway.get("/console/fragments/engagements")
    assert "data-signed-out" in fragment.text


QUESTION = "Avete posti per sabato sera? Siamo in quattro."
REPLY = "Sì, vi aspettiamo sabato alle 20: tavolo per quattro in terrazza."


async def outbound_messages(platform: Platform, conversation_id: str) -> list[dict[str, Any]]:
    read = await platform.gateway.get(
        f"/v1/listening/conversations/{conversation_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    return [m for m in read.json()["messages"] if m["direction"] == "outbound"]


async def test_a_manager_answers_a_conversation_a_client_viewer_sees_why_it_may_not(
    platform: Platform,
    browser: WebDriver,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    base = str(platform.gateway.base_url).rstrip("/")
    async with conversation_intake(platform, sessions, nats_client):
        organization_id, engagement_id, conversation = await opened_conversation(
            platform, sessions, nats_client, text=QUESTION
        )
    conversation_id = str(conversation.id)
    card = f"li.conversation[data-conversation='{conversation_id}']"
    form = f"{card} form.action"

    def open_inbox(role: Role) -> None:
        sign_in(browser, base, role, organization_id if role is Role.CLIENT_VIEWER else "")
        # In English, whichever language an earlier test chose (the choice is a cookie).
        browser.get(f"{base}/console/engagements/{engagement_id}?lang=en")
        wait_for_text(browser, f"{card} li.message[data-direction='inbound']", QUESTION)

    def a_viewer_is_refused_with_the_detail() -> None:
        open_inbox(Role.CLIENT_VIEWER)
        type_into(browser, f"{form} textarea", "Certo!")
        click(browser, f"{form} button")
        wait_for_text(browser, f"{form} .problem", "403")
        shown = browser.find_element(By.CSS_SELECTOR, f"{form} .problem").text
        # The problem's detail: the roles that may answer.
        assert "This action needs one of the roles" in shown, shown
        assert "manager" in shown, shown
        wait_for_text(browser, ".notice-problem", "403")
        screenshots(browser, "8-conversation-viewer-refused")

    await in_browser(a_viewer_is_refused_with_the_detail)
    assert await outbound_messages(platform, conversation_id) == []

    def a_manager_replies() -> None:
        open_inbox(Role.MANAGER)
        # An empty reply is refused before it is sent; one over the sandbox's limit by the API.
        click(browser, f"{form} button")
        wait_for_text(browser, f"{form} .problem", "422")
        type_into(browser, f"{form} textarea", "a" * 1001)
        click(browser, f"{form} button")
        wait_for_text(browser, f"{form} .problem", "at most 1000 characters")
        type_into(browser, f"{form} textarea", REPLY)
        click(browser, f"{form} button")
        wait_for_text(browser, ".notice-ok", "Send the reply")
        # The inbox reloads with the reply in the thread, without a page reload.
        wait_for_text(browser, f"{card} li.message[data-direction='outbound']", REPLY)
        screenshots(browser, "9-conversation-answered")

    await in_browser(a_manager_replies)
    [reply] = await outbound_messages(platform, conversation_id)
    assert (reply["author"], reply["text"]) == ("console-manager", REPLY)
