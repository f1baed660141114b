"""What the demo did and saw, the people it plays (their development tokens) and the time
compression that fits the lifecycle's timed steps into the demo's minutes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from engage.demo.reports import DemoReport
from shared.auth import ALL_ORGANIZATIONS, Role, issue_dev_token
from shared.settings import LifecycleSettings, Settings

SECONDS_PER_DAY = 86_400
SENTIMENTS = ("positive", "neutral", "negative", "mixed", "unlabelled")


class DemoError(Exception):
    """What stops the demo, said so a newcomer knows what to do."""


@dataclass
class Frame:
    """One Server-Sent Event: the JetStream sequence, the event's name and its CloudEvent."""

    id: str
    event: str
    cloud_event: dict[str, Any]
    seen_at: float = 0.0

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.cloud_event.get("data") or {}
        return data


@dataclass
class DemoMethod:
    """The method's pieces the demo adds as the phases come: the channel mix, a touchpoint, the
    editorial rules, graphic line and positioning and the client handbook (design), the plan
    approved again once setup made it from the rules, an outreach contact (seeding), a
    training participant (post-launch)."""

    channel_mix_version: int = 0
    recommended: list[str] = field(default_factory=list)
    touchpoint: dict[str, Any] = field(default_factory=dict)
    touchpoint_scans: int = 0
    # Deliverable kind -> the version the client's approver approved.
    agreed: dict[str, int] = field(default_factory=dict)
    plan_generation: int = 0
    handbook: dict[str, Any] = field(default_factory=dict)
    handbook_pdf_path: str = ""
    handbook_pdf_bytes: int = 0
    outreach_contact: dict[str, Any] = field(default_factory=dict)
    training_participant: dict[str, Any] = field(default_factory=dict)

    @property
    def handbook_download(self) -> str:
        """The handbook's PDF, under the gateway."""
        if not self.handbook:
            return ""
        engagement, version = self.handbook["engagement_id"], self.handbook["version"]
        return f"/v1/engagements/{engagement}/handbook/versions/{version}/handbook.pdf"


@dataclass
class DemoRun:
    """What the demo did and saw: the test's evidence and the closing summary."""

    organization_id: str = ""
    engagement_id: str = ""
    workflow_id: str = ""
    phases_started: list[str] = field(default_factory=list)
    approvals: list[tuple[str, Role]] = field(default_factory=list)
    tasks_completed: int = 0
    # The plan's posts: placed in the plan, scheduled by the engagement, out on the sandbox.
    posts_planned: int = 0
    posts_scheduled: int = 0
    posts_published: int = 0
    # What listening heard from the sandbox: mentions stored, by sentiment; the top places.
    mentions: int = 0
    sentiment: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENTS, 0))
    top_places: list[dict[str, Any]] = field(default_factory=list)
    # The inbox and alerts: set up with listening; the conversation answered and its first
    # response; the alerts raised and acknowledged.
    watching: bool = False
    answered: dict[str, Any] = field(default_factory=dict)
    first_response: dict[str, Any] = field(default_factory=dict)
    reply_failure: str = ""
    within_sla: int = 0
    alerts_raised: list[dict[str, Any]] = field(default_factory=list)
    alerts_acknowledged: list[dict[str, Any]] = field(default_factory=list)
    # The first periodic report: approved by the manager, downloaded by the client.
    report: DemoReport = field(default_factory=DemoReport)
    method: DemoMethod = field(default_factory=DemoMethod)
    follow_up_until: float | None = None
    events: list[Frame] = field(default_factory=list)
    completed: bool = False
    completed_after: float = 0.0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def phase(self) -> str | None:
        return self.phases_started[-1] if self.phases_started else None

    def awaited(self) -> list[str]:
        """What the demo still waits for once the engagement has ended."""
        waiting = [] if self.report.done else ["the reports"]
        if not self.watching:
            return waiting
        if not self.first_response and not self.reply_failure:
            waiting.append("a first response")
        if not self.alerts_acknowledged:
            waiting.append("an alert")
        return waiting


def time_scale_for(
    target_seconds: float, lifecycle: LifecycleSettings, support_weeks: int
) -> float:
    """The compression that makes the lifecycle's timed steps last about ``target_seconds``.

    Seeding, launch and the post-launch cycles are the only waits; gates are answered at once.
    """
    cycles = math.ceil(support_weeks * 7 / lifecycle.cycle_days)
    days = lifecycle.seeding_days + lifecycle.launch_days + cycles * lifecycle.cycle_days
    return min(1.0, target_seconds / (days * SECONDS_PER_DAY))


class Tokens:
    """Development tokens of the people the demo plays."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.admin = self._mint("demo-admin@atlantide.local", Role.ADMIN, ALL_ORGANIZATIONS)
        self.manager = self._mint("demo-manager@atlantide.local", Role.MANAGER, ALL_ORGANIZATIONS)
        self.approver = self.viewer = ""

    def for_client(self, organization_id: str) -> None:
        self.approver = self._mint(
            "titolare@ilsentiero.example", Role.CLIENT_APPROVER, organization_id
        )
        self.viewer = self._mint("staff@ilsentiero.example", Role.CLIENT_VIEWER, organization_id)

    def acting_as(self, roles: list[str]) -> tuple[Role, dict[str, str]]:
        """Who answers for ``roles``: the manager for agency work, else the client's approver."""
        if Role.MANAGER in roles:
            return Role.MANAGER, self.headers(self.manager)
        return Role.CLIENT_APPROVER, self.headers(self.approver)

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _mint(self, subject: str, role: Role, organization: str) -> str:
        return issue_dev_token(self._settings, subject, [role], [organization])
