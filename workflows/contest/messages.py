"""Inputs, signals and query results of ``ContestClaimWorkflow``.

One model per message, so fields can be added without breaking running workflows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

WORKFLOW_NAME = "ContestClaimWorkflow"
CLAIM_SIGNAL = "claim"
STATE_QUERY = "state"


def workflow_id(contest_id: uuid.UUID) -> str:
    return f"contest-{contest_id}"


class ContestClaimInput(BaseModel):
    contest_id: uuid.UUID
    winners: int
    reserves: int
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""


class ClaimSignal(BaseModel):
    """A winner's claim was recorded by the content service."""

    entry_id: uuid.UUID


class ContestClaimStatus(StrEnum):
    DRAWING = "drawing"
    AWAITING_CLAIMS = "awaiting_claims"
    RESULT_PUBLISHED = "result_published"


class ContestClaimState(BaseModel):
    """What project managers see live (the ``state`` query)."""

    status: ContestClaimStatus
    draws: int = 0
    pending: list[uuid.UUID] = []
    claimed: list[uuid.UUID] = []
    next_deadline: datetime | None = None
