"""The fault suite's knobs, from ``ENGAGE_CHAOS_*`` variables (documented in docs/chaos.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

PREFIX = "ENGAGE_CHAOS_"


@dataclass(frozen=True)
class ChaosOptions:
    # Engagements run at once, each through the whole lifecycle with its own sandbox account.
    engagements: int = 2
    # About how long each engagement's seeding, launch and support take (the demo's --minutes).
    lifecycle_seconds: float = 420.0
    # Weeks of post-launch support (one cycle each).
    support_weeks: int = 1
    # How long a killed process stays dead before it is started again.
    down_seconds: float = 1.0
    # Pause between one fault's recovery and the next fault.
    gap_seconds: float = 3.0
    # How long NATS is stopped (SIGSTOP ... SIGCONT).
    nats_stall_seconds: float = 30.0
    # Which faults run, comma separated (empty: all of them, in docs/chaos.md's order).
    faults: str = ""
    # The prober: one request every ``probe_interval_seconds``; no answer within
    # ``probe_timeout_seconds`` counts as a hang.
    probe_interval_seconds: float = 0.25
    probe_timeout_seconds: float = 10.0
    # How long the engagements' driver retries a call answered 429/502/503/504 or refused.
    client_retry_seconds: float = 180.0
    # The longest the whole lifecycle of the engagements may take before it counts as stuck.
    engagement_timeout_seconds: float = 720.0
    # After the engagements end: how long the checks wait for the relays and consumers to drain.
    settle_seconds: float = 60.0
    # Keep the scratch directory (logs, data) after the run, and say where it is.
    keep: bool = False

    @classmethod
    def from_environment(cls) -> ChaosOptions:
        values: dict[str, object] = {}
        for option in fields(cls):
            raw = os.environ.get(PREFIX + option.name.upper())
            if raw is None:
                continue
            default: object = option.default
            if isinstance(default, bool):
                values[option.name] = raw.strip().lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                values[option.name] = int(raw)
            elif isinstance(default, float):
                values[option.name] = float(raw)
            else:
                values[option.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    def fault_names(self, every: tuple[str, ...]) -> tuple[str, ...]:
        if not self.faults.strip():
            return every
        chosen = tuple(name.strip() for name in self.faults.split(",") if name.strip())
        unknown = [name for name in chosen if name not in every]
        if unknown:
            raise SystemExit(f"unknown fault {', '.join(unknown)}; one of {', '.join(every)}")
        return chosen
