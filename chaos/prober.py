"""The prober: an API client that never stops asking, and notes what each answer was.

It calls the gateway in turn on reads that reach each data service and Temporal (an
engagement's state, timeline, plan, mentions and KPIs, the organisation's connections) and on
``/readyz``, one request every ``interval``, each with a client timeout. During an outage an
answer may be a 503 problem+json with ``Retry-After`` (or a 429 with it); it must never be a 500
or any other 5xx, a 503 without those, or no answer at all within the timeout (a hang). A
refused connection is the gateway itself being down (killed, restarting): allowed only then.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"
TIMEOUT = "timeout"
REFUSED = "refused"
BROKEN = "broken"
# The one fault during which the gateway itself is away.
GATEWAY_FAULT = "kill-gateway"
ALLOWED = frozenset({200, 429, 503})
PATHS = (
    "/v1/engagements/{id}",
    "/v1/engagements/{id}/timeline",
    "/v1/engagements/{id}/plan",
    "/v1/connections?organization_id={org}",
    "/v1/listening/engagements/{id}/mentions",
    "/v1/engagements/{id}/kpis",
    "/readyz",
)


@dataclass
class Answer:
    path: str
    fault: str
    status: int | str
    seconds: float
    malformed: str = ""


@dataclass
class Prober:
    gateway_url: str
    token: str
    interval: float
    timeout: float
    engagement_id: str = ""
    organization_id: str = ""
    fault: str = "none"
    answers: list[Answer] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(
            base_url=self.gateway_url, timeout=self.timeout, headers=headers, trust_env=False
        ) as client:
            turn = 0
            while not stop.is_set():
                path = PATHS[turn % len(PATHS)]
                turn += 1
                if "{" not in path or self.engagement_id:
                    await self._ask(client, path)
                await asyncio.sleep(self.interval)

    async def _ask(self, client: httpx.AsyncClient, template: str) -> None:
        path = template.replace("{id}", self.engagement_id).replace("{org}", self.organization_id)
        fault, started = self.fault, time.monotonic()
        try:
            response = await client.get(path)
        except httpx.TimeoutException:
            status: int | str = TIMEOUT
            malformed = ""
        except httpx.ConnectError:
            status, malformed = REFUSED, ""
        except httpx.TransportError as error:
            status, malformed = BROKEN, type(error).__name__
        else:
            status, malformed = response.status_code, _malformed(response)
        self.answers.append(Answer(template, fault, status, time.monotonic() - started, malformed))

    def bad(self) -> list[Answer]:
        """Answers the API must never give: a hang, a 5xx other than 503, a malformed 503/429,
        anything else unexpected; and, but while the gateway itself is killed, a refused or
        dropped connection."""
        return [answer for answer in self.answers if not _acceptable(answer)]

    def figures(self) -> dict[str, Any]:
        statuses = Counter(str(answer.status) for answer in self.answers)
        by_fault: dict[str, Counter[str]] = {}
        for answer in self.answers:
            by_fault.setdefault(answer.fault, Counter())[str(answer.status)] += 1
        latencies = sorted(answer.seconds for answer in self.answers)
        unavailable = [a.seconds for a in self.answers if a.status == 503]
        bad = self.bad()
        return {
            "requests": len(self.answers),
            "statuses": dict(statuses),
            "by_fault": {fault: dict(counts) for fault, counts in by_fault.items()},
            "max_latency_s": round(latencies[-1], 3) if latencies else None,
            "p99_latency_s": round(latencies[int(0.99 * (len(latencies) - 1))], 3)
            if latencies
            else None,
            "max_503_latency_s": round(max(unavailable), 3) if unavailable else None,
            "errors_500": sum(a.status == 500 for a in self.answers),
            "timeouts": statuses.get(TIMEOUT, 0),
            "refused": statuses.get(REFUSED, 0),
            "bad": len(bad),
            "bad_examples": [
                {"path": a.path, "fault": a.fault, "status": a.status, "why": a.malformed}
                for a in bad[:10]
            ],
        }


def _acceptable(answer: Answer) -> bool:
    if answer.malformed and answer.status != BROKEN:
        return False
    if answer.status in (REFUSED, BROKEN):
        return answer.fault == GATEWAY_FAULT
    return answer.status in ALLOWED


def _malformed(response: httpx.Response) -> str:
    """Why a 503 or 429 lacks what a client needs to wait and retry ("" when it has it)."""
    if response.status_code not in (429, 503):
        return ""
    missing = []
    if not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        missing.append(f"content-type {response.headers.get('content-type')!r}")
    if "retry-after" not in response.headers:
        missing.append("no Retry-After")
    return "; ".join(missing)
