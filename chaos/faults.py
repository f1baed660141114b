"""The faults, one after the other, each followed by the wait until the platform is whole again.

``kill-<process>`` SIGKILLs a service, the sandbox's callers' gateway or a worker (its whole
process group) and lets the supervisor's restart bring it back; ``kill-temporal``,
``kill-nats`` and ``kill-postgres`` SIGKILL a server (PostgreSQL: the postmaster and every
backend, a crash) and start it again on the same data; ``stall-nats`` stops NATS with SIGSTOP
and continues it with SIGCONT; ``restart-postgres`` is an operator's clean restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chaos.options import ChaosOptions
from chaos.platform import Platform
from chaos.prober import Prober

# The sandbox is the outside world (a social network), not part of the platform: never killed.
SPARED = frozenset({"sandbox"})
READY_AGAIN_SECONDS = 300.0


def fault_name(process: str) -> str:
    return "kill-" + process.replace(" ", "-")


@dataclass(frozen=True)
class Fault:
    name: str
    strike: Callable[[Platform, ChaosOptions], Awaitable[float]]


def every_fault(platform: Platform) -> tuple[Fault, ...]:
    """In order: the gateway, each service, each worker, then Temporal, NATS and PostgreSQL."""

    def kill(process: str) -> Fault:
        async def strike(target: Platform, options: ChaosOptions) -> float:
            # Started again by the platform's supervision after options.down_seconds.
            return await target.kill(process)

        return Fault(fault_name(process), strike)

    def kill_server(server: str) -> Fault:
        async def strike(target: Platform, options: ChaosOptions) -> float:
            return await target.kill_infrastructure(server, options.down_seconds)

        return Fault(f"kill-{server}", strike)

    async def stall_nats(target: Platform, options: ChaosOptions) -> float:
        await target.stall_nats(options.nats_stall_seconds)
        return options.nats_stall_seconds

    async def restart_postgres(target: Platform, options: ChaosOptions) -> float:
        return await target.restart_postgres(options.down_seconds)

    processes = [name for name in platform.children if name not in SPARED]
    services = [name for name in processes if platform.children[name].port is not None]
    workers = [name for name in processes if name not in services]
    return (
        *(kill(name) for name in services + workers),
        kill_server("temporal"),
        kill_server("nats"),
        kill_server("postgres"),
        Fault("stall-nats", stall_nats),
        Fault("restart-postgres", restart_postgres),
    )


@dataclass
class Outcome:
    fault: str
    # From the strike to the struck process (or server) answering again.
    recovered_s: float
    # From the strike to every service ready and every worker polling again.
    whole_again_s: float
    error: str = ""


async def run_faults(
    platform: Platform,
    prober: Prober,
    options: ChaosOptions,
    emit: Callable[[Outcome], None],
) -> list[Outcome]:
    faults = {fault.name: fault for fault in every_fault(platform)}
    outcomes = []
    for name in options.fault_names(tuple(faults)):
        prober.fault = name
        started = time.monotonic()
        error = ""
        try:
            recovered = await faults[name].strike(platform, options)
        except Exception as failure:  # the next faults still run; the report says this one failed
            recovered, error = time.monotonic() - started, f"{type(failure).__name__}: {failure}"
        try:
            await asyncio.gather(
                *(platform.wait_ready(child, READY_AGAIN_SECONDS) for child in platform.children)
            )
        except RuntimeError as failure:
            error = error or str(failure)
        outcome = Outcome(name, round(recovered, 2), round(time.monotonic() - started, 2), error)
        prober.fault = "none"
        outcomes.append(outcome)
        emit(outcome)
        await asyncio.sleep(options.gap_seconds)
    return outcomes
