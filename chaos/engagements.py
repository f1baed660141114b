"""The engagements under fault: ``engage demo``'s people (manager, client approver, viewer) for
each of N sample clients, played through the gateway at once.

Each engagement is the demo's: a sandbox account connected through OAuth, an approved plan of
posts due during seeding and launch, a listening source on the account, the inbox and an alert
rule; every gate approved and every task completed as its event arrives on the organisation's
live stream (resumed with ``Last-Event-ID`` when it drops). What differs from the demo is the
client: an operator's client retries what a platform under repair answers (429, 502, 503, 504
with ``Retry-After``, or a refused connection) instead of giving up at the first 503.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from engage import demo
from engage.demo import DemoRun, Tokens, time_scale_for
from shared.auth import ALL_ORGANIZATIONS, Role, issue_dev_token
from shared.settings import Settings

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
RETRY_SECONDS = 1.0
MAX_RETRY_WAIT_SECONDS = 5.0
# Seeding starts once the first three gates are passed: the faults begin when every engagement
# is there, so that publishing and listening are under way while they strike.
FAULTS_FROM_PHASE = "seeding"
FOLLOW_UP_SECONDS = 20.0


class RetryingTransport(httpx.AsyncBaseTransport):
    """Sends a request again while the platform answers that it is away, up to a deadline."""

    def __init__(self, budget_seconds: float) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._budget = budget_seconds
        self.retries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._budget
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if time.monotonic() > deadline:
                    raise
                self.retries += 1
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if response.status_code not in RETRIED_STATUSES or time.monotonic() > deadline:
                return response
            await response.aclose()
            self.retries += 1
            await asyncio.sleep(_retry_after(response))

    async def aclose(self) -> None:
        await self._inner.aclose()


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", RETRY_SECONDS))
    except ValueError:
        seconds = RETRY_SECONDS
    return min(max(seconds, 0.1), MAX_RETRY_WAIT_SECONDS)


@dataclass
class Engagement:
    """One sample client's run, and how it ended."""

    number: int
    run: DemoRun = field(default_factory=DemoRun)
    error: str = ""
    finished: bool = False
    retries: int = 0

    @property
    def past_setup(self) -> bool:
        return FAULTS_FROM_PHASE in self.run.phases_started or self.run.completed

    def figures(self) -> dict[str, object]:
        run = self.run
        return {
            "engagement_id": run.engagement_id,
            "completed": run.completed,
            "completed_after_seconds": round(run.completed_after, 1),
            "phases": run.phases_started,
            "posts_planned": run.posts_planned,
            "posts_published_events": run.posts_published,
            "mentions_heard": run.mentions,
            "replied": bool(run.answered),
            "client_retries": self.retries,
            "error": self.error,
        }


async def create_organization(client: httpx.AsyncClient, settings: Settings, number: int) -> str:
    """The demo's client, with a name of its own, registered by an admin (``demo.create_client``
    without its assets)."""
    admin = issue_dev_token(
        settings, "chaos-admin@atlantide.local", [Role.ADMIN], [ALL_ORGANIZATIONS]
    )
    created = await demo._expect(  # the demo's own check of an answer
        await client.post(
            "/v1/organizations",
            json={**demo.CLIENT, "name": f"Agriturismo Chaos {number} (Gubbio)"},
            headers=Tokens.headers(admin),
        ),
        201,
        "creating the client",
    )
    organization_id: str = created["id"]
    return organization_id


async def run_engagement(
    engagement: Engagement,
    settings: Settings,
    gateway_url: str,
    *,
    lifecycle_seconds: float,
    support_weeks: int,
    retry_seconds: float,
    timeout_seconds: float,
    reports_dir: Path,
) -> None:
    """Drive one engagement to its end; what went wrong is kept in ``engagement.error``."""
    run, tokens = engagement.run, Tokens(settings)
    transport = RetryingTransport(retry_seconds)
    try:
        async with httpx.AsyncClient(
            base_url=gateway_url, timeout=30, transport=transport, trust_env=False
        ) as client:
            run.organization_id = await create_organization(client, settings, engagement.number)
            tokens.for_client(run.organization_id)
            scale = time_scale_for(lifecycle_seconds, settings.lifecycle, support_weeks)
            lifecycle = settings.lifecycle
            publishing_seconds = (
                (lifecycle.seeding_days + lifecycle.launch_days) * demo.SECONDS_PER_DAY * scale
            )
            # The demo's own loop: open the stream, start, prepare the plan, answer each event.
            await asyncio.wait_for(
                demo._drive(
                    client,
                    tokens,
                    run,
                    scale,
                    support_weeks,
                    publishing_seconds,
                    FOLLOW_UP_SECONDS,
                    reports_dir,
                ),
                timeout_seconds,
            )
    except TimeoutError:
        engagement.error = f"not completed within {timeout_seconds:.0f}s (phase {run.phase})"
    except Exception as error:  # kept for the report: the other engagements go on
        engagement.error = f"{type(error).__name__}: {error}"
    finally:
        engagement.retries = transport.retries
        engagement.finished = True
