"""An organisation's own sentiment model, trained on its corrections (``corrections.py``).

A training fits the trained model's two heads (``sentiment/linear.py``: hashed words and
character n-grams plus the default lexicon's sums) on the organisation's corrected mentions, for
each language (Italian, English) with at least ``MIN_CORRECTIONS`` of them; the other language
stays with the default model. It is scored by cross-validation over the same corrections, next
to the default model's score, stored in ``sentiment_models`` and announced by
``listening.sentiment_model_trained``; ingestion labels the organisation's new mentions with its
newest ready model (``sentiment/registry.py``).

A training's id is derived from the corrections it would read (how many, the latest time), so
asking again with nothing corrected in between names the same training, which runs once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.contracts import TrainedSentimentModel, TrainSentimentModel
from services.listening.models import (
    Mention,
    SentimentCorrection,
    SentimentModelVersion,
    outbox,
)
from services.listening.sentiment.corpus import LABEL_FLAGS, Example
from services.listening.sentiment.language import LANGUAGES
from services.listening.sentiment.linear import DEFAULT_L2, design, fit_head
from services.listening.sentiment.metrics import polarity_score
from services.listening.sentiment.model import (
    DEFAULT_VERSION,
    FORMAT,
    LanguageHeads,
    SentimentModel,
)
from services.listening.sentiment.registry import serialised
from services.listening.sentiment.text import encode
from services.listening.sentiment.training import BITS
from services.listening.sentiment_schemas import SentimentModelFilters
from shared.errors import ProblemError
from shared.events.envelope import new_event
from shared.paging import Keyset, paged

# Corrections one language needs before a model is trained on them: fewer teach the heads
# little beyond the lexicon they start from.
MIN_CORRECTIONS = 20
CROSS_VALIDATION_FOLDS = 5

TRAINING, READY, FAILED = "training", "ready", "failed"
# Newest first; the id breaks ties.
MODEL_ORDER = Keyset((SentimentModelVersion.created_at, SentimentModelVersion.id), descending=True)


class TooFewCorrectionsError(ProblemError):
    def __init__(self, organization_id: uuid.UUID, counts: dict[str, int]) -> None:
        found = ", ".join(f"{language}: {counts.get(language, 0)}" for language in LANGUAGES)
        super().__init__(
            409,
            "too-few-corrections",
            f"organization {organization_id} has too few sentiment corrections to train a "
            f"model: at least {MIN_CORRECTIONS} in one language are needed ({found})",
            minimum=MIN_CORRECTIONS,
            corrections=counts,
        )


async def corrected_examples(
    session: AsyncSession, organization_id: uuid.UUID
) -> dict[str, list[Example]]:
    """The organisation's corrected mentions in each language a model reads, oldest first."""
    rows = await session.execute(
        select(Mention.text, Mention.language, SentimentCorrection.label)
        .join(Mention, Mention.id == SentimentCorrection.mention_id)
        .where(SentimentCorrection.organization_id == organization_id)
        .order_by(SentimentCorrection.corrected_at, SentimentCorrection.id)
    )
    examples: dict[str, list[Example]] = {}
    for text, language, label in rows:
        if language in LANGUAGES:
            positive, negative = LABEL_FLAGS[label]
            examples.setdefault(language, []).append(Example(text, bool(positive), bool(negative)))
    return examples


def require_enough(organization_id: uuid.UUID, examples: dict[str, list[Example]]) -> None:
    if not any(len(found) >= MIN_CORRECTIONS for found in examples.values()):
        raise TooFewCorrectionsError(
            organization_id, {language: len(found) for language, found in examples.items()}
        )


async def request_training(
    session: AsyncSession, organization_id: uuid.UUID, requested_by: str
) -> uuid.UUID:
    """The training of the organisation's corrections as they are now, recorded as running
    unless it was recorded before; refused (409) when they are too few."""
    require_enough(organization_id, await corrected_examples(session, organization_id))
    count, latest = (
        await session.execute(
            select(func.count(), func.max(SentimentCorrection.corrected_at)).where(
                SentimentCorrection.organization_id == organization_id
            )
        )
    ).one()
    training_id = uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"listening-sentiment-training/{organization_id}/{count}/{latest.isoformat()}",
    )
    await session.execute(
        insert(SentimentModelVersion)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            training_id=training_id,
            status=TRAINING,
            requested_by=requested_by,
        )
        .on_conflict_do_nothing(index_elements=["training_id"])
    )
    return training_id


async def list_models(
    session: AsyncSession, filters: SentimentModelFilters
) -> Sequence[SentimentModelVersion]:
    """A page of the organisation's trainings, newest first, from after the cursor: one more
    than the page when more follow."""
    statement = select(SentimentModelVersion).where(
        SentimentModelVersion.organization_id == filters.organization_id
    )
    return (await session.scalars(paged(statement, MODEL_ORDER, filters))).all()


async def current_training(session: AsyncSession, organization_id: uuid.UUID) -> uuid.UUID | None:
    """The training of the newest ready model, the one labelling the organisation's mentions:
    found apart from the page, which may not hold it."""
    return await session.scalar(
        select(SentimentModelVersion.training_id)
        .where(
            SentimentModelVersion.organization_id == organization_id,
            SentimentModelVersion.status == READY,
        )
        .order_by(
            func.coalesce(SentimentModelVersion.trained_at, SentimentModelVersion.created_at).desc()
        )
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class FittedModel:
    model: SentimentModel
    examples: int
    cross_validated_score: float | None
    default_model_score: float


def _heads(examples: Sequence[Example], language: str, bits: int) -> LanguageHeads:
    x = design(encode([example.text for example in examples]), [language] * len(examples), bits)
    positive = np.array([example.positive for example in examples], dtype=bool)
    negative = np.array([example.negative for example in examples], dtype=bool)
    return LanguageHeads(
        positive=fit_head(x, positive, bits, DEFAULT_L2),
        negative=fit_head(x, negative, bits, DEFAULT_L2),
    )


def _predicted(
    heads: LanguageHeads, examples: Sequence[Example], language: str, bits: int
) -> tuple[list[bool], list[bool]]:
    x = design(encode([example.text for example in examples]), [language] * len(examples), bits)
    return (
        (heads.positive.probability(x) >= 0.5).tolist(),
        (heads.negative.probability(x) >= 0.5).tolist(),
    )


def _cross_validated(trained: dict[str, list[Example]], bits: int, folds: int) -> float | None:
    """SENTIPOLC's polarity score of predictions on each fold by heads fitted on the others,
    pooled over folds and languages; None when a language has too few corrections to fold."""
    gold_positive: list[bool] = []
    gold_negative: list[bool] = []
    positive: list[bool] = []
    negative: list[bool] = []
    for language, examples in trained.items():
        if len(examples) < 2 * folds:
            return None
        for fold in range(folds):
            held_out = examples[fold::folds]
            kept = [example for index, example in enumerate(examples) if index % folds != fold]
            predicted = _predicted(_heads(kept, language, bits), held_out, language, bits)
            positive += predicted[0]
            negative += predicted[1]
            gold_positive += [example.positive for example in held_out]
            gold_negative += [example.negative for example in held_out]
    return round(polarity_score(gold_positive, gold_negative, positive, negative), 4)


def _default_score(trained: dict[str, list[Example]]) -> float:
    examples = [example for found in trained.values() for example in found]
    readings = SentimentModel.default().label(
        [example.text for example in examples], every_text=True
    )
    return round(
        polarity_score(
            [example.positive for example in examples],
            [example.negative for example in examples],
            [reading.label in ("positive", "mixed") for reading in readings],
            [reading.label in ("negative", "mixed") for reading in readings],
        ),
        4,
    )


def fit(
    command: TrainSentimentModel,
    examples: dict[str, list[Example]],
    *,
    trained_at: datetime,
    bits: int = BITS,
    folds: int = CROSS_VALIDATION_FOLDS,
) -> FittedModel:
    """The organisation's model (CPU-bound: the activity runs it in a thread)."""
    require_enough(command.organization_id, examples)
    trained = {
        language: found for language, found in examples.items() if len(found) >= MIN_CORRECTIONS
    }
    languages = sorted(trained, key=lambda language: -len(trained[language]))
    version = (
        f"org-{command.organization_id.hex[:8]}/{trained_at:%Y%m%dT%H%M%SZ}"
        f"-{command.training_id.hex[:8]}"
    )
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": "linear",
        "version": version,
        "languages": languages,
        "fallback": DEFAULT_VERSION,
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "training_data": {
            "organization_id": str(command.organization_id),
            "training_id": str(command.training_id),
            "examples": {language: len(found) for language, found in trained.items()},
        },
        "features": {"bits": bits, "l2": DEFAULT_L2, "char_ngrams": [2, 3, 4, 5], "words": [1, 2]},
        "bits": bits,
    }
    model = SentimentModel(
        manifest, {language: _heads(trained[language], language, bits) for language in languages}
    )
    return FittedModel(
        model=model,
        examples=sum(len(found) for found in trained.values()),
        cross_validated_score=_cross_validated(trained, bits, folds),
        default_model_score=_default_score(trained),
    )


def _result(row: SentimentModelVersion) -> TrainedSentimentModel:
    assert row.version is not None
    assert row.trained_on is not None
    assert row.default_model_score is not None
    return TrainedSentimentModel(
        organization_id=row.organization_id,
        training_id=row.training_id,
        version=row.version,
        examples=row.trained_on,
        languages=row.languages,
        cross_validated_score=row.cross_validated_score,
        default_model_score=row.default_model_score,
    )


async def finished(session: AsyncSession, training_id: uuid.UUID) -> TrainedSentimentModel | None:
    """The model the training stored already, if it did."""
    row = await session.scalar(
        select(SentimentModelVersion).where(
            SentimentModelVersion.training_id == training_id,
            SentimentModelVersion.status == READY,
        )
    )
    return _result(row) if row is not None else None


async def _training_row(
    session: AsyncSession, command: TrainSentimentModel
) -> SentimentModelVersion:
    """The training's row, locked; created when the workflow was started without the API."""
    await session.execute(
        insert(SentimentModelVersion)
        .values(
            id=uuid.uuid4(),
            organization_id=command.organization_id,
            training_id=command.training_id,
            status=TRAINING,
            requested_by=command.requested_by,
        )
        .on_conflict_do_nothing(index_elements=["training_id"])
    )
    row = await session.scalar(
        select(SentimentModelVersion)
        .where(SentimentModelVersion.training_id == command.training_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def record_failure(session: AsyncSession, command: TrainSentimentModel, reason: str) -> None:
    row = await _training_row(session, command)
    row.status = FAILED
    row.failure = reason


async def store(
    session: AsyncSession,
    command: TrainSentimentModel,
    fitted: FittedModel,
    trained_at: datetime,
) -> TrainedSentimentModel:
    """Keep the model as the organisation's newest and announce it, in one transaction; a
    training stored before (a retried activity) is answered as it was stored."""
    row = await _training_row(session, command)
    if row.status == READY:
        return _result(row)
    model = fitted.model
    row.status = READY
    row.version = model.version
    row.trained_on = fitted.examples
    row.languages = list(model.heads)
    row.cross_validated_score = fitted.cross_validated_score
    row.default_model_score = fitted.default_model_score
    row.manifest = model.manifest
    row.parameters = serialised(model)
    row.failure = None
    row.trained_at = trained_at
    await outbox.add(
        session,
        new_event(
            events.SENTIMENT_MODEL_TRAINED,
            events.SentimentModelTrained(
                organization_id=command.organization_id,
                training_id=command.training_id,
                version=model.version,
                examples=fitted.examples,
                languages=row.languages,
                cross_validated_score=fitted.cross_validated_score,
                default_model_score=fitted.default_model_score,
                trained_at=trained_at,
            ),
            source=events.SOURCE,
            subject=str(command.organization_id),
            event_id=events.training_event_id(command.training_id),
        ),
    )
    return _result(row)
