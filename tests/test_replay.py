"""Replay tests: committed workflow histories must replay against today's workflow code.

A change that would break running engagements (non-determinism) fails here; such changes go
through ``workflow.patched()``. Record a new history after a deliberate change with
``ENGAGE_RECORD_HISTORIES=1 .venv/bin/pytest tests/test_replay.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import create_org, engagement_body
from workflows.worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_committed_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_todays_engagement_history_replays(platform: Platform) -> None:
    organization_id = await create_org(platform)
    created = await platform.gateway.post(
        "/v1/engagements",
        json=engagement_body(organization_id),
        headers=platform.auth(Role.MANAGER),
    )
    handle = platform.temporal.get_workflow_handle(created.json()["workflow_id"])

    async def analysis_recorded() -> bool:
        history = await handle.fetch_history()
        return history.to_json().count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") >= 2

    # Past the activity's completion: the workflow has moved on to waiting.
    await wait_until(analysis_recorded, timeout=15)
    history = await handle.fetch_history()
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    if os.environ.get("ENGAGE_RECORD_HISTORIES"):
        (HISTORIES / "engagement-analysis-started.json").write_text(history.to_json())
