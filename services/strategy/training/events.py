"""Events about training and knowledge transfer (payloads are the CloudEvents ``data``), emitted
through the strategy service's outbox under its source (``services.strategy.events.SOURCE``).

Each carries ``progress``: the engagement's training progress once the change is made (computed
with the engagement locked, so the figures follow one another). The reporting service keeps them
as they come and reads the progress at any moment from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from services.strategy.training.schemas import SessionStatus, TrainingMode, TrainingProgress

TRAINING_PARTICIPANT_RECORDED = "strategy.training_participant_recorded"
TRAINING_SESSION_RECORDED = "strategy.training_session_recorded"
TRAINING_ATTENDANCE_RECORDED = "strategy.training_attendance_recorded"
TRAINING_COMPETENCE_RECORDED = "strategy.training_competence_recorded"
TRAINING_COMPETENCE_CHECKED = "strategy.training_competence_checked"


class TrainingFact(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    recorded_by: str
    progress: TrainingProgress


class TrainingParticipantRecorded(TrainingFact):
    participant_id: uuid.UUID


class TrainingSessionRecorded(TrainingFact):
    session_id: uuid.UUID
    change: Literal["created", "updated", "cancelled"]
    mode: TrainingMode
    starts_at: datetime
    status: SessionStatus


class TrainingAttendanceRecorded(TrainingFact):
    session_id: uuid.UUID
    present: int
    absent: int


class TrainingCompetenceRecorded(TrainingFact):
    competence_id: uuid.UUID


class TrainingCompetenceChecked(TrainingFact):
    participant_id: uuid.UUID
    competence_id: uuid.UUID
    # False: the check was withdrawn.
    checked: bool
