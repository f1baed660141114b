"""Input of ``TrainOrganizationSentimentModel``: one training of an organisation's sentiment
model on its corrections (``services/listening/sentiment_training.py``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel

WORKFLOW_NAME = "TrainOrganizationSentimentModel"
# Fitting two heads per language, and again for each fold of the cross-validation.
TRAINING_TIMEOUT = timedelta(minutes=10)
TRAINING_ATTEMPTS = 5


def workflow_id(organization_id: uuid.UUID, training_id: uuid.UUID) -> str:
    """One workflow per training: the same corrections asked for again name the same one."""
    return f"sentiment-model-{organization_id}-{training_id}"


class TrainOrganizationSentimentModelInput(BaseModel):
    organization_id: uuid.UUID
    training_id: uuid.UUID
    requested_by: str
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""
