"""The method's pieces the demo adds as the phases come, through the gateway as the agency's
manager would. In the design phase, before the client approves the strategy: the channel mix
scored and approved, a touchpoint recorded and its tracked link followed once, the editorial
rules, graphic line and positioning for the recommended channel written by the manager and
approved by the client, and the client handbook generated from them (the lifecycle reads the
analysis phase's deliverables as that phase starts, before the demo could answer, so the mix
comes with the strategy it shapes). The setup phase makes the plan again from the approved
rules, which sends it back to draft: the manager approves it again before the editorial plan's
gate. In seeding an outreach contact is reached; once the engagement runs, a training
participant joins. At the end the client's viewer downloads the handbook's PDF."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from engage.demo.gateway import _expect
from engage.demo.reports import OBJECTIVE_ID
from engage.demo.run import DemoError, DemoRun, Tokens
from engage.demo.script import (
    CHANNEL_MIX_COMMENT,
    CHANNEL_MIX_INPUTS,
    DESIGN_APPROVALS,
    EDITORIAL_RULES,
    GRAPHIC_LINE,
    OUTREACH_CONTACT,
    OUTREACH_STEP,
    PLAN_REAPPROVAL_NOTE,
    POSITIONING,
    TOUCHPOINT,
    TRAINING_PARTICIPANT,
)


class MethodSteps:
    """The manager's work on the method, one phase at a time."""

    def __init__(self, client: httpx.AsyncClient, tokens: Tokens, run: DemoRun) -> None:
        self._client = client
        self._manager = tokens.headers(tokens.manager)
        self._approver = tokens.headers(tokens.approver)
        self._run = run

    @property
    def _engagement(self) -> str:
        return f"/v1/engagements/{self._run.engagement_id}"

    async def phase_started(self, phase: str) -> None:
        if phase == "design":
            await self.score_channel_mix()
            await self.record_touchpoint()
            await self.agree_design()
            await self.generate_handbook()
        elif phase == "seeding":
            await self.reach_out()
        elif phase == "post_launch":
            await self.add_training_participant()

    async def score_channel_mix(self) -> None:
        """Scored from the personas, objectives, content and effort, then approved by the
        agency (the mix is the agency's assessment)."""
        mix = await _expect(
            await self._client.post(
                f"{self._engagement}/channel-mix", json=CHANNEL_MIX_INPUTS, headers=self._manager
            ),
            201,
            "scoring the channel mix",
        )
        version = int(mix["version"])
        await _expect(
            await self._client.post(
                f"{self._engagement}/deliverables/channel_mix/versions/{version}/approve",
                json={"comment": CHANNEL_MIX_COMMENT},
                headers=self._manager,
            ),
            200,
            "approving the channel mix",
        )
        self._run.method.channel_mix_version = version
        self._run.method.recommended = [str(channel) for channel in mix["body"]["recommended"]]

    async def record_touchpoint(self) -> None:
        """The printed menu's touchpoint; its QR code scanned once, as a guest would."""
        body = {**TOUCHPOINT, "objective_ids": [OBJECTIVE_ID]}
        touchpoint = await _expect(
            await self._client.post(
                f"{self._engagement}/touchpoints", json=body, headers=self._manager
            ),
            201,
            "recording a touchpoint",
        )
        self._run.method.touchpoint = touchpoint
        # The QR code holds the public link; the gateway the demo talks to serves it at /t/.
        qr = urlsplit(str(touchpoint["qr_link"]))
        scanned = await self._client.get(f"{qr.path}?{qr.query}")
        if scanned.status_code != 302:
            raise DemoError(f"scanning the touchpoint's QR code answered {scanned.status_code}")
        scans = await _expect(
            await self._client.get(
                f"{self._engagement}/touchpoints/{touchpoint['id']}/scans", headers=self._manager
            ),
            200,
            "reading the touchpoint's scans",
        )
        self._run.method.touchpoint_scans = int(scans["total"])

    async def agree_design(self) -> None:
        """What the handbook tells the client's staff: the editorial rules, the graphic line and
        the positioning, each saved by the manager and signed off by the client's approver."""
        for kind, body in (
            ("editorial_rules", EDITORIAL_RULES),
            ("graphic_line", GRAPHIC_LINE),
            ("positioning", POSITIONING),
        ):
            draft = await _expect(
                await self._client.put(
                    f"{self._engagement}/deliverables/{kind}", json=body, headers=self._manager
                ),
                201,
                f"saving the {kind}",
            )
            approved = await _expect(
                await self._client.post(
                    f"{self._engagement}/deliverables/{kind}/versions/{draft['version']}/approve",
                    json={"comment": DESIGN_APPROVALS[kind]},
                    headers=self._approver,
                ),
                200,
                f"approving the {kind}",
            )
            self._run.method.agreed[kind] = int(approved["version"])

    async def before_gate(self, gate: str) -> None:
        """Setup made the plan again from the approved editorial rules (the demo's posts keep
        their slots) and sent it back to draft: the manager approves it again, or seeding
        would not publish it. 409: it is approved already."""
        if gate != "editorial_plan" or not self._run.method.agreed:
            return
        response = await self._client.post(
            f"{self._engagement}/plan/approval",
            json={"note": PLAN_REAPPROVAL_NOTE},
            headers=self._manager,
        )
        if response.status_code == 409:
            return
        plan = await _expect(response, 200, "approving the plan made from the editorial rules")
        self._run.method.plan_generation = int(plan["generation"])

    async def generate_handbook(self) -> None:
        """The client handbook (guida pratica) from what is approved so far."""
        self._run.method.handbook = await _expect(
            await self._client.post(
                f"{self._engagement}/handbook/versions", json={}, headers=self._manager
            ),
            201,
            "generating the handbook",
        )

    async def reach_out(self) -> None:
        """Seeding's outreach: a community put on the list and contacted."""
        contacts = f"{self._engagement}/outreach/contacts"
        contact = await _expect(
            await self._client.post(contacts, json=OUTREACH_CONTACT, headers=self._manager),
            201,
            "adding an outreach contact",
        )
        await _expect(
            await self._client.post(
                f"{contacts}/{contact['id']}/steps", json=OUTREACH_STEP, headers=self._manager
            ),
            201,
            "recording an outreach step",
        )
        self._run.method.outreach_contact = {**contact, "status": OUTREACH_STEP["status"]}

    async def add_training_participant(self) -> None:
        participant = await _expect(
            await self._client.post(
                f"{self._engagement}/training/participants",
                json=TRAINING_PARTICIPANT,
                headers=self._manager,
            ),
            201,
            "adding a training participant",
        )
        self._run.method.training_participant = participant


async def download_handbook(
    client: httpx.AsyncClient, tokens: Tokens, run: DemoRun, save_to: Path
) -> None:
    """The client's viewer downloads the handbook's PDF; kept beside the reports."""
    path = run.method.handbook_download
    if not path:
        return
    response = await client.get(path, headers=tokens.headers(tokens.viewer))
    if response.status_code != 200 or not response.content.startswith(b"%PDF"):
        raise DemoError(f"downloading the handbook's PDF answered {response.status_code}")
    target = save_to / f"handbook-{run.engagement_id}-v{run.method.handbook['version']}.pdf"
    await asyncio.to_thread(_save, target, response.content)
    run.method.handbook_pdf_path = str(target)
    run.method.handbook_pdf_bytes = len(response.content)


def _save(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
