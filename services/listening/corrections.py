"""People correct a mention's sentiment: the correction is kept (to train the organisation's
model, ``sentiment_training.py``) and the mention reads as corrected.

A mention has one current correction: relabelling it again replaces the correction, and keeps
what the model had said (``previous_label``, ``previous_model_version``) from the first one. A
corrected mention's model version is ``manual``; its score is the label's end of the scale
(positive 1, negative -1, neutral and mixed 0).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.models import Mention, SentimentCorrection
from services.listening.sentiment.model import Label
from shared.auth import Principal
from shared.errors import NotFoundError

MANUAL_VERSION = "manual"
MANUAL_SCORES: dict[Label, float] = {
    "positive": 1.0,
    "negative": -1.0,
    "neutral": 0.0,
    "mixed": 0.0,
}


async def relabel(
    session: AsyncSession, principal: Principal, mention_id: uuid.UUID, label: Label
) -> Mention:
    """Correct the mention's sentiment to ``label``; another organisation's mention is not
    found (404), like one that does not exist."""
    # The row lock serialises two corrections of one mention: the second replaces the first.
    mention = await session.get(Mention, mention_id, with_for_update=True)
    if mention is None or not principal.scope.allows(mention.organization_id):
        raise NotFoundError("mention", mention_id)
    correction = await session.scalar(
        select(SentimentCorrection).where(SentimentCorrection.mention_id == mention.id)
    )
    now = datetime.now(UTC)
    if correction is None:
        session.add(
            SentimentCorrection(
                id=uuid.uuid4(),
                organization_id=mention.organization_id,
                mention_id=mention.id,
                label=label,
                previous_label=mention.sentiment_label,
                previous_model_version=mention.sentiment_model_version,
                corrected_by=principal.subject,
                corrected_at=now,
            )
        )
    else:
        correction.label = label
        correction.corrected_by = principal.subject
        correction.corrected_at = now
    mention.sentiment_label = label
    mention.sentiment_score = MANUAL_SCORES[label]
    mention.sentiment_model_version = MANUAL_VERSION
    await session.flush()
    return mention
