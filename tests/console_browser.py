"""The console's browser tests' helpers: a headless Chromium, waits, clicks, screenshots, sign-in.

Selenium drives Debian's ``chromium`` through ``/usr/bin/chromedriver``, named explicitly so that
Selenium Manager never looks for (or downloads) a browser or a driver. A missing browser fails.
The browser calls are blocking, so they run in a thread (``in_browser``): the platform's servers
share the test's event loop and must keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.conversations import intake
from shared.auth import Role
from tests.conftest import Platform

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("ENGAGE_SCREENSHOTS", ROOT / ".engage/screenshots/console"))
WIDTHS = (1280, 390)
# The tallest full-page screenshot taken (px): long pages are cut there.
MAX_PAGE_HEIGHT = 6000
WAIT_SECONDS = 20


@contextlib.contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless Chromium, quit afterwards."""
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


@contextlib.asynccontextmanager
async def conversation_intake(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], nats_client: NatsClient
) -> AsyncIterator[None]:
    """The listening worker's conversations consumers (the test platform does not run them)."""
    stop = asyncio.Event()
    running = [
        asyncio.create_task(
            subscription.consumer(nats_client.jetstream(), sessions, platform.settings.events).run(
                stop
            )
        )
        for subscription in intake.SUBSCRIPTIONS
    ]
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.gather(*running)


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


def type_into(driver: WebDriver, css: str, text: str) -> None:
    """Type into the field ``css`` names, found again if a live refresh replaced it meanwhile."""
    for _ in range(5):
        try:
            field = wait_for(driver, css)
            field.clear()
            field.send_keys(text)
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css} kept being replaced")


def screenshots(driver: WebDriver, name: str, css: str | None = None) -> None:
    """The whole page (up to ``MAX_PAGE_HEIGHT``), or only what ``css`` names, at each width, as
    ``<name>-<width>.png``.

    The viewport is made as tall as what is captured, and what is captured is scrolled into it:
    Chromium does not paint what lies outside the viewport (a variant's preview lower on the page
    came out blank when the page was captured beyond a 900 px viewport).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        if css is None:
            driver.execute_script("window.scrollTo(0, 0)")
            height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        else:
            height = int(
                driver.execute_script(
                    "return Math.ceil(document.querySelector(arguments[0]).offsetHeight)", css
                )
            )
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": max(min(height, MAX_PAGE_HEIGHT), 1),
                "deviceScaleFactor": 1,
                "mobile": False,
            },
        )
        try:
            # Where it is once the viewport is that tall, scrolled to its top.
            box = driver.execute_script(
                "var target = arguments[0] ? document.querySelector(arguments[0])"
                " : document.documentElement;"
                "if (arguments[0]) target.scrollIntoView({block: 'start'});"
                "var r = target.getBoundingClientRect();"
                "return [r.left + scrollX, r.top + scrollY, r.width, r.height];",
                css,
            )
            # Two animation frames: what is now inside the viewport is painted.
            driver.execute_async_script(
                "var done = arguments[arguments.length - 1];"
                "requestAnimationFrame(function () { requestAnimationFrame(done); });"
            )
            clip = dict(zip(("x", "y", "width", "height"), box, strict=True))
            if css is None:
                clip["width"] = width  # the scrollbar's strip too, on a page taller than the cap
            clip["height"] = min(clip["height"], MAX_PAGE_HEIGHT)
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "png", "clip": {**clip, "scale": 1}}
            )
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
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
