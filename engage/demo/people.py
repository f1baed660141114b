"""The people the demo plays, answering the engagement's events: each gate approved by the role
it names, each task completed by its owner, the first conversation answered and each alert
acknowledged by the manager, the reports followed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from engage.demo.gateway import _expect
from engage.demo.method import MethodSteps
from engage.demo.reports import ReportFollower
from engage.demo.run import DemoError, DemoRun, Frame, Tokens
from engage.demo.script import ACKNOWLEDGE_NOTE, REPLY

# An approval can arrive through the stream a moment before the workflow shows the gate waiting.
GATE_RETRIES = 20
GATE_RETRY_SECONDS = 0.25
FINISHED = "lifecycle.engagement_completed"
CANCELLED = "lifecycle.engagement_cancelled"
POST_SCHEDULED = "publisher.post_scheduled"
POST_PUBLISHED = "publisher.post_published"
MENTIONS_INGESTED = "listening.mentions_ingested"
CONVERSATION_OPENED = "conversations.conversation_opened"
FIRST_RESPONSE = "conversations.first_response"
REPLY_FAILED = "conversations.reply_failed"
ALERT_RAISED = "listening.alert_raised"
ALERT_ACKNOWLEDGED = "listening.alert_acknowledged"


class Demo:
    """Plays every person of the engagement: starts it, then answers each gate and task."""

    def __init__(
        self, client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, reports_dir: Path
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._run = run
        self._reports = ReportFollower(
            client,
            tokens.headers(tokens.manager),
            tokens.headers(tokens.viewer),
            run.report,
            reports_dir,
        )
        self._method = MethodSteps(client, tokens, run)

    async def handle(self, frame: Frame) -> None:
        if frame.event == MENTIONS_INGESTED:
            self._heard(frame.data)
            return
        if frame.data.get("engagement_id") != self._run.engagement_id:
            return
        if frame.event.startswith("reporting."):
            await self._reports.handle(frame.event, frame.data)
        if frame.event == CONVERSATION_OPENED:
            await self._answer(frame.data)
        elif frame.event == FIRST_RESPONSE:
            self._first_response(frame.data)
        elif frame.event == REPLY_FAILED:
            if frame.data.get("conversation_id") == self._run.answered.get("conversation_id"):
                self._run.reply_failure = str(frame.data.get("failure"))
        elif frame.event == ALERT_RAISED:
            await self._acknowledge(frame.data)
        elif frame.event == ALERT_ACKNOWLEDGED:
            self._run.alerts_acknowledged.append(frame.data)
        elif frame.event == "lifecycle.phase_started":
            self._run.phases_started.append(str(frame.data["phase"]))
            await self._method.phase_started(str(frame.data["phase"]))
        elif frame.event == "lifecycle.approval_requested":
            await self._approve(frame.data)
        elif frame.event == "lifecycle.task_created":
            await self._complete_task(frame.data)
        elif frame.event == POST_SCHEDULED:
            self._run.posts_scheduled += 1
        elif frame.event == POST_PUBLISHED:
            self._run.posts_published += 1
        elif frame.event == FINISHED:
            self._run.completed = True
            self._run.completed_after = self._run.elapsed
            await self._reports.request_overall(self._run.engagement_id)
        elif frame.event == CANCELLED:
            raise DemoError(f"the engagement was cancelled: {frame.data.get('reason')}")

    def _heard(self, data: dict[str, Any]) -> None:
        if self._run.engagement_id not in (data.get("engagement_ids") or []):
            return
        self._run.mentions += int(data.get("mentions") or 0)
        for label, count in (data.get("sentiment") or {}).items():
            if label in self._run.sentiment:
                self._run.sentiment[label] += int(count)

    async def _answer(self, data: dict[str, Any]) -> None:
        """The first conversation gets a reply from the agency's manager (realizzazione: the
        agency answers the inbox)."""
        if self._run.answered:
            return
        self._run.answered = data
        path = f"/v1/listening/conversations/{data['conversation_id']}/replies"
        headers = self._tokens.headers(self._tokens.manager)
        # 409 while listening has not heard the engagement's mode yet: a moment later it has.
        for _ in range(GATE_RETRIES):
            response = await self._client.post(path, json={"text": REPLY}, headers=headers)
            if response.status_code != 409:
                break
            await asyncio.sleep(GATE_RETRY_SECONDS)
        await _expect(response, 202, "replying to a comment")

    def _first_response(self, data: dict[str, Any]) -> None:
        if data.get("within_sla"):
            self._run.within_sla += 1
        if data.get("conversation_id") == self._run.answered.get("conversation_id"):
            self._run.first_response = data

    async def _acknowledge(self, data: dict[str, Any]) -> None:
        self._run.alerts_raised.append(data)
        response = await self._client.post(
            f"/v1/listening/alerts/{data['alert_id']}/acknowledge",
            json={"note": ACKNOWLEDGE_NOTE},
            headers=self._tokens.headers(self._tokens.manager),
        )
        # 409: someone took it already.
        if response.status_code != 409:
            await _expect(response, 200, "acknowledging an alert")

    async def _approve(self, data: dict[str, Any]) -> None:
        await self._method.before_gate(str(data["gate"]))
        role, headers = self._tokens.acting_as(data["approver_roles"])
        body = {
            "gate": data["gate"],
            "decision": "approve",
            "reason": f"Approved by the demo's {role}",
        }
        path = f"/v1/engagements/{self._run.engagement_id}/approvals"
        for _ in range(GATE_RETRIES):
            response = await self._client.post(path, json=body, headers=headers)
            if response.status_code != 409:
                break
            await asyncio.sleep(GATE_RETRY_SECONDS)
        await _expect(response, 200, f"approving the {data['gate']} gate")
        self._run.approvals.append((str(data["gate"]), role))

    async def _complete_task(self, data: dict[str, Any]) -> None:
        _, headers = self._tokens.acting_as(data["assignee_roles"])
        path = f"/v1/engagements/{self._run.engagement_id}/tasks/{data['task_id']}/complete"
        note = {"note": "Done (engage demo)"}
        response = await self._client.post(path, json=note, headers=headers)
        # 409: no longer open (e.g. the phase moved on and closed it): nothing left to do.
        if response.status_code != 409:
            await _expect(response, 200, f"completing task {data['task_id']}")
            self._run.tasks_completed += 1
