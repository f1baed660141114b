"""The demo's periodic reports: the engagement's schedule renders one as each support week
closes; the demo's manager approves each, and the client's viewer downloads the PDFs delivered.
Before the engagement starts its work, the client approves its objectives, which every report
measures.

Kept apart from ``engage.demo.people`` (which plays the lifecycle's people) as the reporting service
is apart from the lifecycle: it reacts to ``reporting.*`` events only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

REPORT_READY = "reporting.report_ready"
REPORT_DELIVERED = "reporting.report_delivered"
REPORT_FAILED = "reporting.report_failed"
APPROVAL_COMMENT = "Approvato dalla demo: figure verificate."
# The one objective the client agrees to; the touchpoint serves it too.
OBJECTIVE_ID = "farsi-conoscere"


@dataclass
class Downloaded:
    """A delivered report's PDF, as the client's viewer downloaded it."""

    data: dict[str, Any]
    pdf_path: str
    pdf_bytes: int
    download_path: str

    def period(self) -> str:
        start, end = (str(self.data.get(key, ""))[:19] for key in ("period_start", "period_end"))
        return f"{start} - {end}"


@dataclass
class DemoReport:
    """The reports the demo approved, the latest periodic one downloaded, and the report of the
    whole engagement the manager asks for once it ends."""

    approved: set[str] = field(default_factory=set)
    periodic: Downloaded | None = None
    overall_id: str = ""
    overall: Downloaded | None = None
    failure: str = ""

    @property
    def done(self) -> bool:
        return bool(self.failure) or (self.periodic is not None and self.overall is not None)


class ReportFollower:
    """Approves the engagement's reports as the manager and downloads each as the client's
    viewer once delivered."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        manager: dict[str, str],
        viewer: dict[str, str],
        report: DemoReport,
        save_to: Path,
    ) -> None:
        self._client = client
        self._manager = manager
        self._viewer = viewer
        self._report = report
        self._save_to = save_to
        self._since = datetime.now(UTC)

    async def handle(self, event: str, data: dict[str, Any]) -> None:
        report_id = str(data.get("report_id"))
        ours = data.get("kind") == "periodic" or report_id == self._report.overall_id
        if event == REPORT_READY and ours and report_id not in self._report.approved:
            self._report.approved.add(report_id)
            await self._approve(report_id)
        elif event == REPORT_FAILED and ours:
            self._report.failure = str(data.get("reason"))
        elif event == REPORT_DELIVERED and report_id in self._report.approved:
            await self._download(data)

    async def request_overall(self, engagement_id: str) -> None:
        """The whole engagement so far, from before it started to now, for the client."""
        response = await self._client.post(
            f"/v1/engagements/{engagement_id}/reports",
            json={"from": self._since.isoformat(), "to": datetime.now(UTC).isoformat()},
            headers=self._manager,
        )
        if response.status_code != 202:
            self._report.failure = f"requesting the report answered {response.status_code}"
            return
        self._report.overall_id = str(response.json()["id"])

    async def _approve(self, report_id: str) -> None:
        response = await self._client.post(
            f"/v1/reports/{report_id}/approve",
            json={"comment": APPROVAL_COMMENT},
            headers=self._manager,
        )
        if response.status_code != 200:
            self._report.failure = f"approving the report answered {response.status_code}"

    async def _download(self, data: dict[str, Any]) -> None:
        path = str((data.get("documents") or {}).get("pdf") or "")
        response = await self._client.get(path, headers=self._viewer)
        if response.status_code != 200 or not response.content.startswith(b"%PDF"):
            self._report.failure = f"downloading the PDF answered {response.status_code}"
            return
        self._save_to.mkdir(parents=True, exist_ok=True)
        target = self._save_to / f"report-{data['report_id']}.pdf"
        target.write_bytes(response.content)
        downloaded = Downloaded(data, str(target), len(response.content), path)
        if data.get("kind") == "periodic":
            self._report.periodic = downloaded
        else:
            self._report.overall = downloaded


def described(report: DemoReport, gateway_url: str) -> str:
    """The reports' lines of the demo's summary."""
    if report.failure:
        return f"a report did not reach the client: {report.failure}"
    lines = []
    for name, downloaded in (("periodic", report.periodic), ("whole run", report.overall)):
        if downloaded is None:
            lines.append(f"{name}: not delivered yet")
            continue
        lines.append(
            f"{name} ({downloaded.period()}): approved by the manager, delivered, PDF "
            f"{downloaded.pdf_bytes / 1024:.0f} KiB saved at {downloaded.pdf_path}\n"
            f"              download: {gateway_url}{downloaded.download_path}"
        )
    return "\n              ".join(lines)


def objectives_body(starts_on: date, ends_on: date) -> dict[str, Any]:
    """What the client agreed to measure: its reports show each target against the figures."""
    kpis: list[dict[str, Any]] = [
        {"metric": "mentions", "comparator": "at_least", "target": 10, "unit": "menzioni"},
        {"metric": "net_sentiment", "comparator": "at_least", "target": 20, "unit": "punti"},
        {"metric": "posts_published", "comparator": "at_least", "target": 3, "unit": "post"},
        {"metric": "within_sla_share", "comparator": "at_least", "target": 90, "unit": "%"},
    ]
    return {
        "objectives": [
            {
                "id": OBJECTIVE_ID,
                "title": "Farsi conoscere e ascoltare",
                "goal": "awareness",
                "kpis": [{**kpi, "by_date": ends_on.isoformat()} for kpi in kpis],
            }
        ],
        "actions": [
            {
                "title": "Post settimanali e risposte entro l'ora",
                "objective_ids": [OBJECTIVE_ID],
                "channels": ["sandbox"],
                "starts_on": starts_on.isoformat(),
            }
        ],
        "matrix": [{"objective_id": OBJECTIVE_ID, "channel": "sandbox"}],
    }


async def approve_objectives(
    client: httpx.AsyncClient,
    engagement_id: str,
    manager: dict[str, str],
    approver: dict[str, str],
    body: dict[str, Any],
) -> None:
    """The manager drafts the objectives, the client's approver approves them."""
    path = f"/v1/engagements/{engagement_id}/deliverables/objectives"
    saved = await client.put(path, json=body, headers=manager)
    if saved.status_code not in (200, 201):
        raise ObjectivesRefused(f"saving the objectives answered {saved.status_code}: {saved.text}")
    version = saved.json()["version"]
    approved = await client.post(
        f"{path}/versions/{version}/approve",
        json={"comment": "Obiettivi condivisi"},
        headers=approver,
    )
    if approved.status_code != 200:
        raise ObjectivesRefused(
            f"approving the objectives answered {approved.status_code}: {approved.text}"
        )


class ObjectivesRefused(Exception):
    """The platform refused the demo's objectives: the demo says why and stops."""
