"""The external load generators: ``wrk`` (closed loop, next to no CPU per request) and ``hey``
(an open loop at a fixed rate), and what their reports say."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.gateway_read.config import (
    CONNECTIONS,
    OPEN_LOOP_WORKERS,
    REQUEST_TIMEOUT_SECONDS,
    SECONDS,
)

WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    # Connections that failed, and requests unanswered within the timeout.
    socket_errors: int


def parse_wrk(output: str) -> WrkResult:
    """The figures of ``wrk --latency``'s report."""

    def latency(share: str) -> float:
        found = re.search(rf"^\s*{share}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if found is None:
            raise ValueError(f"no {share}% latency in wrk's output:\n{output}")
        return round(float(found[1]) * WRK_UNITS[found[2]], 2)

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rate is None or requests is None:
        raise ValueError(f"no rate in wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_second=float(rate[1]),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


async def _output(*args: str) -> str:
    ran = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await ran.communicate()
    return output.decode(errors="replace")


def _header_args(headers: Mapping[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]


async def wrk(executable: str, url: str, headers: Mapping[str, str]) -> WrkResult:
    """``wrk`` on one URL: one thread, ``CONNECTIONS`` connections, ``SECONDS``."""
    args = [executable, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(SECONDS))}s", "--latency"]
    # wrk's own timeout (2 s) would drop the slow answers from the latencies.
    args += ["--timeout", f"{round(REQUEST_TIMEOUT_SECONDS)}s"]
    return parse_wrk(await _output(*args, *_header_args(headers), url))


@dataclass(frozen=True)
class HeyResult:
    """``hey``'s summary: the rate it reached, its answers' latencies, and what failed."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # Answers by status, and requests that got none (by error).
    statuses: dict[str, int]
    errors: int

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + self.errors

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))


def parse_hey(output: str) -> HeyResult:
    """The figures of ``hey``'s summary (its latency distribution covers answered requests)."""

    def latency(share: str) -> float:
        found = re.search(rf"^\s*{share}%\s+in\s+([\d.]+)\s+secs", output, re.MULTILINE)
        return round(1000 * float(found[1]), 2) if found else 0.0

    rate = re.search(r"^\s*Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rate is None:
        raise ValueError(f"no rate in hey's output:\n{output}")
    statuses = {
        found[1]: int(found[2])
        for found in re.finditer(r"^\s*\[(\d{3})\]\s+(\d+)\s+responses", output, re.MULTILINE)
    }
    _, _, error_section = output.partition("Error distribution:")
    errors = sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]\s", error_section, re.MULTILINE))
    return HeyResult(
        requests_per_second=float(rate[1]),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        statuses=statuses,
        errors=errors,
    )


def per_worker_rate(total_rate: float, workers: int) -> float:
    """``hey -q`` is each worker's rate: the total over the workers."""
    return total_rate / workers


async def hey(executable: str, url: str, headers: Mapping[str, str], rate: float) -> HeyResult:
    """``hey`` on one URL at ``rate`` requests/s in all for ``SECONDS``: ``OPEN_LOOP_WORKERS``
    workers, each sending one request every ``OPEN_LOOP_WORKERS / rate`` s (a worker whose
    answer comes later than that sends its next one late: the rate reached says so)."""
    args = [executable, "-z", f"{max(1, round(SECONDS))}s", "-c", str(OPEN_LOOP_WORKERS)]
    args += ["-q", f"{per_worker_rate(rate, OPEN_LOOP_WORKERS):g}"]
    args += ["-t", str(round(REQUEST_TIMEOUT_SECONDS))]
    return parse_hey(await _output(*args, *_header_args(headers), url))
