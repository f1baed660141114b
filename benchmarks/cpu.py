"""CPU use over a measured interval, read from ``/proc`` (Linux; nothing elsewhere).

Benchmarks report it beside their figures, so a latency can be read against how busy the machine
was and which processes kept it busy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

PROC = Path("/proc")
Groups = Mapping[str, Sequence[int]]


def _ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces: fields are counted after its closing parenthesis.
    return stat.rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 once it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _ticks_per_second()


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores together."""
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(value) for value in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    total = sum(ticks[:8])  # guest time is already counted in user time
    scale = _ticks_per_second()
    return (total - idle) / scale, total / scale


class CpuMeter:
    """Measures the machine and some processes between ``start()`` and ``stop()``: ``pids``
    (one process by name), and ``groups`` given to each call (several processes by name, e.g.
    PostgreSQL's backends, looked up again at the end: one started meanwhile counts from its
    start)."""

    def __init__(self, pids: Mapping[str, int] | None = None) -> None:
        self._pids = dict(pids or {})
        self._machine = (0.0, 0.0)
        self._before: dict[int, float] = {}

    def _all(self, groups: Groups | None) -> dict[str, Sequence[int]]:
        return {**{name: [pid] for name, pid in self._pids.items()}, **(groups or {})}

    def start(self, groups: Groups | None = None) -> None:
        self._machine = machine_cpu_seconds()
        self._before = {
            pid: process_cpu_seconds(pid) for pids in self._all(groups).values() for pid in pids
        }

    def stop(self, groups: Groups | None = None) -> dict[str, float]:
        """Cores kept busy on average: the machine's, each process's or group's, and ``rest``
        (everything else on the machine)."""
        busy, total = machine_cpu_seconds()
        busy_before, total_before = self._machine
        cores = os.cpu_count() or 1
        wall = (total - total_before) / cores
        if wall <= 0:
            return {}
        used = {
            name: sum(process_cpu_seconds(pid) - self._before.get(pid, 0.0) for pid in pids) / wall
            for name, pids in self._all(groups).items()
        }
        machine = (busy - busy_before) / wall
        return {
            "cores": cores,
            "machine_busy_cores": round(machine, 2),
            **{name: round(value, 2) for name, value in used.items()},
            "rest": round(machine - sum(used.values()), 2),
        }
