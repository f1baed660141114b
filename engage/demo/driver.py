"""The demo's driver: check the platform, register the client, then follow the stream, start
the engagement and answer its events until it ends, and print the outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live

from engage.demo.display import Display
from engage.demo.gateway import check_platform, create_client, read_top_places, start_engagement
from engage.demo.method import download_handbook
from engage.demo.outcome import print_outcome
from engage.demo.patience import PatientTransport
from engage.demo.people import Demo
from engage.demo.plan import prepare_plan
from engage.demo.run import SECONDS_PER_DAY, DemoError, DemoRun, Tokens, time_scale_for
from engage.demo.script import CLIENT
from engage.demo.stream import event_stream, sse_frames
from shared.settings import Settings

RECONNECT_SECONDS = 0.5
# After the engagement ends, how long the demo waits for a first response and an alert.
FOLLOW_UP_SECONDS = 60.0


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
    async with httpx.AsyncClient(
        base_url=gateway_url, timeout=30, transport=PatientTransport(httpx.AsyncHTTPTransport())
    ) as client:
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
        await download_handbook(client, tokens, run, Path(settings.data_dir) / "demo")
    # A terminal leaves the live view's last line open.
    console.print()
    print_outcome(console, run, settings, gateway_url)
    return run


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
