"""The demo's periodic report: the engagement's schedule renders one as its support weeks close;
the demo's manager approves it, and the client's viewer downloads the PDF it was delivered.

Kept apart from ``engage.demo`` (which plays the lifecycle's people) as the reporting service
is apart from the lifecycle: it reacts to ``reporting.*`` events only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPORT_READY = "reporting.report_ready"
REPORT_DELIVERED = "reporting.report_delivered"
REPORT_FAILED = "reporting.report_failed"
APPROVAL_COMMENT = "Approvato dalla demo: figure verificate."


@dataclass
class DemoReport:
    """The first periodic report: approved, delivered, downloaded."""

    ready: dict[str, Any] = field(default_factory=dict)
    delivered: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    pdf_path: str = ""
    pdf_bytes: int = 0
    download_path: str = ""

    @property
    def done(self) -> bool:
        return bool(self.pdf_path or self.failure)


class ReportFollower:
    """Approves the engagement's first periodic report as the manager and downloads it as the
    client's viewer once delivered."""

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

    async def handle(self, event: str, data: dict[str, Any]) -> None:
        if event == REPORT_READY and data.get("kind") == "periodic" and not self._report.ready:
            self._report.ready = data
            await self._approve(str(data["report_id"]))
        elif event == REPORT_FAILED and not self._report.ready:
            self._report.failure = str(data.get("reason"))
        elif event == REPORT_DELIVERED and data.get("report_id") == self._report.ready.get(
            "report_id"
        ):
            self._report.delivered = data
            await self._download(data)

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
        self._report.pdf_path = str(target)
        self._report.pdf_bytes = len(response.content)
        self._report.download_path = path


def described(report: DemoReport, gateway_url: str) -> str:
    """The report's line of the demo's summary."""
    if report.failure:
        return f"the periodic report did not reach the client: {report.failure}"
    if not report.ready:
        return "no periodic report yet (the schedule reports each support week as it closes)"
    if not report.pdf_path:
        return "the periodic report was approved; its delivery had not arrived yet"
    start, end = (str(report.ready.get(key, ""))[:19] for key in ("period_start", "period_end"))
    period = f"{start} - {end}"
    return (
        f"periodic report ({period}) approved by the manager, delivered, "
        f"PDF {report.pdf_bytes / 1024:.0f} KiB saved at {report.pdf_path}\n"
        f"              download: {gateway_url}{report.download_path}"
    )
