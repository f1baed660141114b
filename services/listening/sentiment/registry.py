"""Each organisation's sentiment model: its newest trained one, else the default.

A trained model is stored in ``listening.sentiment_models`` as its manifest and its heads'
weights (``serialised``: one compressed numpy archive). ``OrganizationModels`` keeps the models
it loaded and asks the table again for an organisation's newest version once its entry is older
than ``ttl_seconds``, so a new model reaches every worker within that time; the worker that
trained it forgets its entry at once (``invalidate``).
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.models import SentimentModelVersion
from services.listening.sentiment.linear import Head
from services.listening.sentiment.model import LanguageHeads, ModelError, SentimentModel

DEFAULT_TTL_SECONDS = 30.0
_PARTS = ("weights", "dense", "bias")


def serialised(model: SentimentModel) -> bytes:
    """The model's heads, each language's under its own keys, as one ``.npz`` archive."""
    arrays: dict[str, Any] = {}
    for language, heads in model.heads.items():
        for polarity, head in (("positive", heads.positive), ("negative", heads.negative)):
            arrays[f"{language}.{polarity}.weights"] = head.weights
            arrays[f"{language}.{polarity}.dense"] = head.dense
            arrays[f"{language}.{polarity}.bias"] = np.float64(head.bias)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def deserialised(manifest: dict[str, Any], parameters: bytes) -> SentimentModel:
    heads: dict[str, LanguageHeads] = {}
    try:
        with np.load(io.BytesIO(parameters)) as arrays:
            for language in manifest["languages"]:
                weights, dense, bias = (
                    {
                        polarity: arrays[f"{language}.{polarity}.{part}"]
                        for polarity in ("positive", "negative")
                    }
                    for part in _PARTS
                )
                heads[language] = LanguageHeads(
                    positive=Head(weights["positive"], dense["positive"], float(bias["positive"])),
                    negative=Head(weights["negative"], dense["negative"], float(bias["negative"])),
                )
    except (OSError, KeyError, ValueError) as error:
        raise ModelError(f"model {manifest.get('version')!r}: {error}") from error
    return SentimentModel(manifest, heads)


@dataclass(frozen=True, slots=True)
class _Entry:
    checked_at: float
    # None: the organisation has no trained model, the default labels its mentions.
    version: str | None
    model: SentimentModel


class OrganizationModels:
    """``model_for(session, organization_id)``: the model that labels the organisation's new
    mentions, cached for ``ttl_seconds``."""

    def __init__(
        self,
        default: Callable[[], SentimentModel],
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._default = default
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[uuid.UUID, _Entry] = {}

    async def model_for(self, session: AsyncSession, organization_id: uuid.UUID) -> SentimentModel:
        now = self._clock()
        entry = self._entries.get(organization_id)
        if entry is not None and now - entry.checked_at < self._ttl:
            return entry.model
        version = await session.scalar(
            select(SentimentModelVersion.version)
            .where(
                SentimentModelVersion.organization_id == organization_id,
                SentimentModelVersion.status == "ready",
            )
            .order_by(SentimentModelVersion.trained_at.desc())
            .limit(1)
        )
        if entry is not None and entry.version == version:
            model = entry.model
        elif version is None:
            model = self._default()
        else:
            model = await self._load(session, version)
        self._entries[organization_id] = _Entry(now, version, model)
        return model

    async def _load(self, session: AsyncSession, version: str) -> SentimentModel:
        stored = (
            await session.execute(
                select(SentimentModelVersion.manifest, SentimentModelVersion.parameters).where(
                    SentimentModelVersion.version == version
                )
            )
        ).one()
        if stored.manifest is None or stored.parameters is None:
            raise ModelError(f"model {version!r} is ready but has no parameters")
        return deserialised(stored.manifest, stored.parameters)

    def invalidate(self, organization_id: uuid.UUID) -> None:
        """Forget the organisation's entry: its next mention asks for its newest model."""
        self._entries.pop(organization_id, None)
