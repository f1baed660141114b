"""``python -m chaos`` (``make chaos``): the fault suite, one JSON line per figure; the exit code
is 1 when an invariant did not hold. Settings: ``ENGAGE_CHAOS_*`` (docs/chaos.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from chaos import checks
from chaos.engagements import Engagement, run_engagement
from chaos.faults import Outcome, run_faults
from chaos.options import ChaosOptions
from chaos.platform import Platform, private_settings
from chaos.prober import Prober
from chaos.stream_watch import StreamWatch
from shared.auth import ALL_ORGANIZATIONS, Role, issue_dev_token
from shared.db.session import create_engine
from shared.events.jetstream import connect_nats

BENCHMARK = "chaos"
SETUP_SECONDS = 300.0
# After the relays and consumers have drained: time for the live stream to deliver the last.
STREAM_CATCH_UP_SECONDS = 5.0


def emit(metric: str, ok: bool | None = None, **figures: Any) -> None:
    line: dict[str, Any] = {"benchmark": BENCHMARK, "metric": metric}
    if ok is not None:
        line["ok"] = ok
    print(json.dumps(line | figures, default=str), flush=True)


def emit_fault(outcome: Outcome) -> None:
    emit(
        "fault",
        not outcome.error,
        fault=outcome.fault,
        recovered_s=outcome.recovered_s,
        whole_again_s=outcome.whole_again_s,
        error=outcome.error,
    )


async def until_past_setup(engagements: list[Engagement], prober: Prober) -> float:
    """Wait until every engagement publishes (or has ended); then the prober follows the
    first."""
    started = time.monotonic()
    while time.monotonic() - started < SETUP_SECONDS:
        if all(e.past_setup or e.finished for e in engagements):
            break
        await asyncio.sleep(0.5)
    # Probed from here on: its plan exists, so every probed read has something to answer.
    prober.organization_id = engagements[0].run.organization_id
    prober.engagement_id = engagements[0].run.engagement_id
    return time.monotonic() - started


async def run(options: ChaosOptions, scratch: Path) -> bool:
    settings = private_settings(scratch)
    platform = Platform(settings, scratch, options.down_seconds)
    stop_probing = asyncio.Event()
    try:
        started = time.monotonic()
        await platform.start()
        emit(
            "platform_started",
            seconds=round(time.monotonic() - started, 1),
            processes=len(platform.children),
            gateway=platform.gateway_url,
        )
        token = issue_dev_token(
            settings, "chaos-prober@atlantide.local", [Role.MANAGER], [ALL_ORGANIZATIONS]
        )
        prober = Prober(
            platform.gateway_url,
            token,
            options.probe_interval_seconds,
            options.probe_timeout_seconds,
        )
        probing = asyncio.create_task(prober.run(stop_probing))
        engagements = [Engagement(number) for number in range(1, options.engagements + 1)]
        driving = [
            asyncio.create_task(
                run_engagement(
                    engagement,
                    settings,
                    platform.gateway_url,
                    lifecycle_seconds=options.lifecycle_seconds,
                    support_weeks=options.support_weeks,
                    retry_seconds=options.client_retry_seconds,
                    timeout_seconds=options.engagement_timeout_seconds,
                    reports_dir=scratch / "reports",
                )
            )
            for engagement in engagements
        ]
        emit("engagements_set_up", seconds=round(await until_past_setup(engagements, prober), 1))
        watch = StreamWatch(platform.gateway_url, token, options.client_retry_seconds)
        watching = asyncio.create_task(watch.run(engagements[0].run.organization_id))
        faults_started = time.monotonic()
        outcomes = await run_faults(platform, prober, options, emit_fault)
        faults_seconds = time.monotonic() - faults_started
        running_after_faults = sum(not e.finished for e in engagements)
        await asyncio.gather(*driving)
        stop_probing.set()
        await probing
        return await verify(
            platform,
            options,
            engagements,
            prober,
            (watch, watching),
            outcomes,
            faults_seconds,
            running_after_faults,
        )
    finally:
        stop_probing.set()
        await platform.close()


async def verify(
    platform: Platform,
    options: ChaosOptions,
    engagements: list[Engagement],
    prober: Prober,
    watched: tuple[StreamWatch, asyncio.Task[None]],
    outcomes: list[Outcome],
    faults_seconds: float,
    running_after_faults: int,
) -> bool:
    settings = platform.settings
    held = all(not outcome.error for outcome in outcomes)
    emit(
        "faults",
        held,
        count=len(outcomes),
        seconds=round(faults_seconds, 1),
        engagements_still_running_after_the_last=running_after_faults,
        unexpected_exits=platform.unexpected_exits(),
        starts={name: child.starts for name, child in platform.children.items()},
    )
    for engagement in engagements:
        ok = engagement.run.completed and not engagement.error
        held = held and ok
        emit("engagement", ok, **engagement.figures())
    probe = prober.figures()
    emit("prober", probe["bad"] == 0, **probe)
    held = held and probe["bad"] == 0

    engine = create_engine(settings)
    nats = await connect_nats(platform.admin_settings, "chaos-checks")
    try:
        js = nats.jetstream()
        outbox_wait = await checks.settle_outboxes(engine, options.settle_seconds)
        consumer_wait = await checks.settle_consumers(js, settings, options.settle_seconds)
        emit("settled", outbox_s=round(outbox_wait, 1), consumers_s=round(consumer_wait, 1))
        await asyncio.sleep(STREAM_CATCH_UP_SECONDS)
        watch, watching = watched
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        stream = await checks.read_stream(js, settings)
        organization = {
            event.event_id: (event.seq, event.type)
            for event in stream
            if event.subject.endswith(f".{watch.organization_id}")
        }
        live = watch.figures(organization)
        emit("live_stream_delivered_every_event", live["missed"] == 0, **live)
        held = held and live["missed"] == 0
        sandbox_url = f"http://127.0.0.1:{settings.ports.sandbox}"
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=30, trust_env=False) as client:
            sandbox = checks.Sandbox(client)
            assert platform.temporal is not None
            results = [
                await checks.check_outbox(engine, js, settings, stream),
                await checks.check_consumers(engine, js, settings, stream),
                await checks.check_posts_and_replies(
                    engine, sandbox, sum(e.run.posts_planned for e in engagements)
                ),
                await checks.check_mentions(engine, sandbox),
                await checks.check_workflows(
                    platform.temporal, [e.run.workflow_id for e in engagements if e.run.workflow_id]
                ),
            ]
    finally:
        await nats.close()
        await engine.dispose()
    for check in results:
        emit(check.name, check.ok, **check.figures)
        held = held and check.ok
    return held


async def main() -> int:
    options = ChaosOptions.from_environment()
    scratch = Path(tempfile.mkdtemp(prefix="engage-chaos-"))
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.monotonic()
    held = False
    try:
        held = await run(options, scratch)
    except Exception as error:
        emit("aborted", False, error=f"{type(error).__name__}: {error}", logs=str(scratch / "logs"))
    except asyncio.CancelledError:
        emit("aborted", False, error="stopped (SIGTERM or Ctrl-C)")
    finally:
        kept = options.keep or not held
        emit(
            "invariants",
            held,
            seconds=round(time.monotonic() - started, 1),
            scratch=str(scratch) if kept else None,
        )
        if not kept:
            with contextlib.suppress(OSError):
                shutil.rmtree(scratch)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
