"""The project manager's console in a real headless Chromium, against the running test platform.

A person signs in, opens an engagement, watches a phase change arrive without reloading the page,
approves a deliverable, and, signed in as a client viewer, sees the 403's detail when trying to.
Each page is saved at 1280 px and at 390 px (a phone) in ``ENGAGE_SCREENSHOTS`` (default
``.engage/screenshots/console``), printed at the end of the run.

Selenium drives Debian's ``chromium`` through ``/usr/bin/chromedriver``, named explicitly so that
Selenium Manager never looks for (or downloads) a browser or a driver. A missing browser fails.
The browser calls are blocking, so they run in a thread: the platform's servers share the
test's event loop and must keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement
from tests.test_lifecycle_api import approve as approve_gate
from tests.test_strategy_deliverables import analysis_body, save
from tests.test_thin_thread import create_org

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("ENGAGE_SCREENSHOTS", ROOT / ".engage/screenshots/console"))
WIDTHS = (1280, 390)
# The tallest full-page screenshot taken (px): long pages are cut there.
MAX_PAGE_HEIGHT = 4000
WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"the browser tests need {', '.join(missing)} (apt-get install chromium "
            "chromium-driver; .ci/run does it)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=en-GB",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
    print(f"\nconsole screenshots: {SCREENSHOTS}", file=sys.__stderr__)


def in_browser(step: Callable[[], Any]) -> Any:
    """Run a blocking browser step off the event loop the platform serves on."""
    return asyncio.to_thread(step)


def wait_for(driver: WebDriver, css: str, timeout: float = WAIT_SECONDS) -> Any:
    return WebDriverWait(driver, timeout).until(
        seen.presence_of_element_located((By.CSS_SELECTOR, css)), f"nothing matched {css}"
    )


def wait_for_text(driver: WebDriver, css: str, text: str, timeout: float = WAIT_SECONDS) -> None:
    try:
        WebDriverWait(driver, timeout).until(
            seen.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )
    except TimeoutException:
        shown = [element.text for element in driver.find_elements(By.CSS_SELECTOR, css)]
        raise AssertionError(f"{css} never showed {text!r}; it shows {shown}") from None


def click(driver: WebDriver, css: str) -> None:
    """Click what ``css`` names, found again if a live refresh replaced it meanwhile."""
    for _ in range(5):
        try:
            wait_for(driver, css).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css} kept being replaced")


def screenshots(driver: WebDriver, name: str) -> None:
    """The whole page (up to ``MAX_PAGE_HEIGHT``) at each width, as ``<name>-<width>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        height = min(
            int(driver.execute_script("return document.documentElement.scrollHeight")),
            MAX_PAGE_HEIGHT,
        )
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        (SCREENSHOTS / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))
    driver.set_window_size(WIDTHS[0], 900)


def sign_in(driver: WebDriver, base: str, role: Role, organization_id: str = "") -> None:
    driver.get(f"{base}/console")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{base}/console/engagements")
    # Without a token, the console sends the person to sign in.
    wait_for(driver, "#dev-sign-in")
    assert "/console/sign-in" in driver.current_url
    subject = driver.find_element(By.ID, "subject")
    subject.clear()
    subject.send_keys(f"console-{role.value}")
    Select(driver.find_element(By.ID, "role")).select_by_value(role.value)
    driver.find_element(By.ID, "organization_id").send_keys(organization_id)
    driver.find_element(By.CSS_SELECTOR, "#dev-sign-in button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(seen.url_contains("/console/engagements"))


def open_engagement(driver: WebDriver, engagement_id: str) -> None:
    link = wait_for(driver, f"tr[data-engagement='{engagement_id}'] a")
    link.click()
    wait_for(driver, "#phase-analysis")
    wait_for(driver, "[data-live-status][data-live-state='connected']")


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
        wait_for(browser, "#live-events li[data-event='lifecycle.phase_started']")
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
